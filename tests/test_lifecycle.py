"""The data lifecycle on SQLite and Cosmos DB (tests/contracts/lifecycle_contract.py), and
what is each backend's own: SQLite's indexes, Cosmos DB's time to live, the app's purge."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.media.disk import DiskMediaStore
from bot.store.documents import Before, Condition, Documents, Eq, safe_id
from bot.store.open import open_documents
from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from tests.conftest import open_test_documents, running_app
from tests.contracts.lifecycle_contract import *  # noqa: F403
from tests.contracts.lifecycle_contract import BOB, CY, message_ids, said, team
from tests.contracts.media_contract import png_bytes
from tests.services import COSMOS_KEY, cosmos_client
from tests.waiting import wait_until

pytestmark = pytest.mark.both_stores

# What DocumentStore asks across partitions: each must be answered from an index, so
# start-up (recovery, markers) and the daily purge read only what they are after.
CROSS_PARTITION_SCANS: dict[str, tuple[str, list[Condition]]] = {
    "documents_pending": ("messages", [Eq("pending", True)]),
    "documents_sent": ("messages", [Before("sentAt", "2026-01-01T00:00:00+00:00")]),
    "documents_recent": (
        "directory",
        [Eq("type", "group"), Before("recentSince", "2026-01-01T00:00:00+00:00")],
    ),
    "documents_expiry": (
        "state",
        [Eq("type", "once"), Before("expiresAt", "2026-01-01T00:00:00+00:00")],
    ),
}


async def test_sqlite_answers_the_cross_partition_scans_from_indexes(tmp_path: Path) -> None:
    documents = SqliteDocuments(tmp_path / "send.sqlite3")
    await documents.open()
    try:
        for index, (kind, where) in CROSS_PARTITION_SCANS.items():
            (plan,) = await documents.explain(kind, None, where)
            assert plan.startswith(f"SEARCH documents USING INDEX {index} "), plan
        # A partition's own documents still come by the primary key.
        (plan,) = await documents.explain("messages", "g1", [])
        assert plan.startswith("SEARCH documents USING PRIMARY KEY"), plan
    finally:
        await documents.close()


async def test_cosmos_messages_carry_a_ttl_in_containers_that_honour_it(
    cosmos_endpoint: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        cosmos_endpoint=cosmos_endpoint,
        cosmos_key=COSMOS_KEY,
        cosmos_database=f"test-{uuid.uuid4().hex[:12]}",
        cosmos_verify_tls=False,
        message_retention_days=30,
    )
    documents = await open_documents(settings)
    try:
        store = DocumentStore(documents)
        lunch = await store.save_group(team("lunch", BOB, CY))
        stored = await store.add_message(said(lunch, "m1", BOB, 0, pending=True))
        assert stored is not None
        await store.save_message(replace(stored, text="edited"))  # every write keeps it
        doc = await documents.read("messages", "lunch", "m1")
        assert doc is not None and doc.body["ttl"] == 30 * 24 * 3600
        group = await documents.read("directory", "t1", "lunch")
        assert group is not None and "ttl" not in group.body
        await store.remember_once("activity", datetime.now(UTC), timedelta(hours=1))
        marker = await documents.read("state", safe_id("once:activity"), safe_id("once:activity"))
        assert marker is not None and marker.body["ttl"] == 2 * 3600  # its own, kept
    finally:
        await documents.close()
    async with cosmos_client(cosmos_endpoint) as client:
        database = client.get_database_client(settings.cosmos_database)
        for kind in ("directory", "messages", "state"):
            properties = await database.get_container_client(kind).read()
            assert properties.get("defaultTtl") == -1, kind


async def test_the_dialog_state_of_a_chat_is_where_forget_deletes_it(
    documents: Documents,
) -> None:
    """Earlier versions let botbuilder keep a Teams chat's dialog state under
    `bot:msteams/conversations/<id>` (in the "state" container): forgetting the
    person deletes it too."""
    state_id = safe_id("bot:msteams/conversations/a:bob")
    await documents.upsert("state", state_id, state_id, {"type": "botState", "value": {}})
    store = DocumentStore(documents)
    await store.save_person(BOB)
    await store.delete_person(BOB)
    assert await documents.query("state", None, []) == []


async def test_the_app_purges_old_messages_when_it_starts(settings: Settings) -> None:
    """With their pictures, kept where the app keeps them (DATA_DIR/media)."""
    root = settings.data_dir / "media"
    media = DiskMediaStore(root)
    await media.open()
    documents = await open_test_documents(settings)
    pictures = {}
    try:
        store = DocumentStore(documents)
        lunch = await store.save_group(team("lunch", BOB, CY))
        now = datetime.now(UTC)
        for message_id, age in (("old", timedelta(days=366)), ("new", timedelta(days=1))):
            item = await media.put("t1", "lunch", f"{message_id}.png", png_bytes(), by="ann")
            stored_at = (now - age - timedelta(seconds=5)).timestamp()  # just before the message
            os.utime(root / "t1" / "lunch" / item.media_id, (stored_at, stored_at))
            pictures[message_id] = item
            message = replace(said(lunch, message_id, BOB, 0), sent_at=now - age, media=(item,))
            assert await store.add_message(message) is not None
    finally:
        await documents.close()

    async with running_app(settings):
        documents = await open_test_documents(settings)
        try:

            async def purged() -> bool:
                return await message_ids(documents) == {"new"}

            await wait_until(purged, what="the message older than a year to be deleted")

            async def picture_gone() -> bool:
                return not await media.exists(pictures["old"])

            await wait_until(picture_gone, what="the old message's picture to be deleted")
        finally:
            await documents.close()
    assert await media.read(pictures["new"]) == png_bytes()
