"""A store written by the earlier layout (people and groups in containers of their own)
opens with nothing lost: its documents move into the shared "directory" container."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from azure.cosmos import PartitionKey
from azure.cosmos.aio import CosmosClient

from bot.core.model import Group, Member, Person, TeamsReach
from bot.store.cosmos_documents import CosmosDocuments
from bot.store.repository import DocumentStore, _group_body, _person_body
from bot.store.sqlite_documents import SqliteDocuments
from tests.services import COSMOS_KEY

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ANN = Person(
    "t1",
    "ann@contoso.com",
    "Ann",
    email="ann@contoso.com",
    teams=TeamsReach("29:ann", "https://smba.example/", "28:bot", "a:ann"),
    active_group_id="g1",
)
BOB = Person("t1", "bob@contoso.com", "Bob", email="bob@contoso.com")
LUNCH = Group(
    "t1",
    "g1",
    "Lunch",
    ANN.person_id,
    (Member(ANN.person_id, "Ann", NOW), Member(BOB.person_id, "Bob", NOW)),
    NOW,
)


def legacy_documents() -> list[tuple[str, str, dict[str, object]]]:
    """(old container, id, body) as the earlier code wrote them."""
    return [
        ("people", ANN.person_id, {**_person_body(ANN), "id": ANN.person_id}),
        ("people", BOB.person_id, {**_person_body(BOB), "id": BOB.person_id}),
        (
            "people",
            "teams-user:29:ann",
            {"type": "teamsAlias", "personId": ANN.person_id, "id": "teams-user:29:ann"},
        ),
        ("groups", LUNCH.group_id, {**_group_body(LUNCH), "id": LUNCH.group_id}),
    ]


async def check_everything_is_there(store: DocumentStore) -> None:
    ann = await store.person_for_teams_user("t1", "29:ann")
    assert ann is not None and ann.active_group_id == "g1" and ann.teams == ANN.teams
    groups = await store.groups_of("t1", BOB.person_id)
    assert [g.name for g in groups] == ["Lunch"] and groups[0].member_ids == LUNCH.member_ids
    people, group = await store.get_people_and_group(
        "t1", [ANN.person_id, BOB.person_id], LUNCH.group_id
    )
    assert {p.display_name for p in people} == {"Ann", "Bob"} and group is not None


async def test_sqlite_store_of_the_earlier_layout_opens_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "send.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE documents (kind TEXT NOT NULL, partition TEXT NOT NULL, id TEXT NOT NULL,"
        " body TEXT NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (kind, partition, id)) WITHOUT ROWID"
    )
    for kind, doc_id, body in legacy_documents():
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?)",
            (kind, "t1", doc_id, json.dumps({**body, "tenantId": "t1"}), uuid.uuid4().hex),
        )
    db.commit()
    db.close()

    for _ in range(2):  # opening again finds nothing more to move
        documents = SqliteDocuments(path)
        await documents.open()
        try:
            await check_everything_is_there(DocumentStore(documents))
        finally:
            await documents.close()
    kinds = sqlite3.connect(path).execute("SELECT DISTINCT kind FROM documents").fetchall()
    assert kinds == [("directory",)]


async def test_cosmos_store_of_the_earlier_layout_opens_with_nothing_lost(
    cosmos_endpoint: str,
) -> None:
    database = f"legacy-{uuid.uuid4().hex[:12]}"
    async with CosmosClient(cosmos_endpoint, COSMOS_KEY, connection_verify=False) as client:
        db = await client.create_database_if_not_exists(database)
        for name in ("people", "groups"):
            await db.create_container_if_not_exists(name, PartitionKey(path="/tenantId"))
        for kind, _, body in legacy_documents():
            await db.get_container_client(kind).upsert_item({**body, "tenantId": "t1"})

    for _ in range(2):
        documents = CosmosDocuments(cosmos_endpoint, COSMOS_KEY, database, verify_tls=False)
        await documents.open()
        try:
            await check_everything_is_there(DocumentStore(documents))
        finally:
            await documents.close()

    async with CosmosClient(cosmos_endpoint, COSMOS_KEY, connection_verify=False) as client:
        names = {c["id"] async for c in client.get_database_client(database).list_containers()}
    assert names == {"directory", "messages", "state"}
