"""The data lifecycle (bot/core/features/lifecycle.py) on a real store: retention, deleting a group,
forgetting a person, exporting a group. What is left is checked by listing every document.

Not collected itself: tests/test_lifecycle.py runs it on SQLite and Cosmos DB,
tests/unit/test_memory_lifecycle.py on MemoryDocuments. Each test takes the `documents`
and `store` fixtures (the store is over those documents).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.features.lifecycle import FORMER_MEMBER, Forgotten, Retention, export, forget
from bot.core.model import (
    OUTLOOK_THREAD,
    Channel,
    Delivery,
    DeliveryState,
    Group,
    Member,
    Message,
    Person,
    Source,
    StoredMedia,
    TeamsReach,
)
from bot.core.ports import StoreError
from bot.media.disk import DiskMediaStore
from bot.media.ports import MediaStoreError
from bot.store.documents import PARTITION_KEYS, Doc, Documents, safe_id
from bot.store.repository import DocumentStore
from tests.contracts.media_contract import png_bytes

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def every_document(documents: Documents) -> list[Doc]:
    found: list[Doc] = []
    for kind in PARTITION_KEYS:
        found += await documents.query(kind, None, [])
    return found


async def message_ids(documents: Documents) -> set[str]:
    return {str(d.body["messageId"]) for d in await documents.query("messages", None, [])}


def someone(tenant: str, address: str, name: str, chat: str = "") -> Person:
    reach = (
        TeamsReach(f"29:{chat}", "https://smba.example/", "28:bot", f"a:{chat}") if chat else None
    )
    return Person(tenant, address, name, email=address, teams=reach)


def team(group_id: str, owner: Person, *others: Person, name: str = "") -> Group:
    members = tuple(
        Member(p.person_id, p.display_name, NOW + timedelta(minutes=n))
        for n, p in enumerate((owner, *others))
    )
    return Group(owner.tenant_id, group_id, name or group_id, owner.person_id, members, NOW)


def said(
    group: Group, message_id: str, sender: Person, minutes: int, *, pending: bool = False
) -> Message:
    """A message as Relay stores it: a Teams copy per other member, one Outlook mail."""
    state = DeliveryState.PENDING if pending else DeliveryState.SENT
    others = [m for m in group.members if m.person_id != sender.person_id]
    teams = tuple(Delivery(m.person_id, Channel.TEAMS, state) for m in others)
    addresses = tuple(sorted(m.person_id.upper() for m in group.members))  # as typed, any case
    mail = Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, state, addresses=addresses)
    return Message(
        group.tenant_id,
        group.group_id,
        message_id,
        sender.person_id,
        sender.display_name,
        f"words {message_id}",
        NOW + timedelta(minutes=minutes),
        Source.TEAMS,
        (*teams, mail),
    )


async def post(store: DocumentStore, group: Group, *messages: Message) -> Group:
    """Stores messages and keeps them on the group's recent list, as the relay does."""
    for m in messages:
        assert await store.add_message(m) is not None
    current = await store.get_group(group.tenant_id, group.group_id)
    assert current is not None
    recent = (*current.recent, *(m.summary() for m in messages))
    return await store.save_group(replace(current, recent=recent))


class Pictures:
    """A real DiskMediaStore under `root`, and what a test needs to age its files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = DiskMediaStore(root)

    async def add(self, message: Message, stored_at: datetime) -> Message:
        """The message with a picture stored for it at `stored_at` (the file's time)."""
        item = await self.store.put(message.tenant_id, message.group_id, "chart.png", PNG, by="ann")
        at = stored_at.timestamp()
        os.utime(self.root / item.tenant_id / item.group_id / item.media_id, (at, at))
        return replace(message, media=(*message.media, item))


async def open_media(tmp_path: Path) -> Pictures:
    pictures = Pictures(tmp_path / "media")
    await pictures.store.open()
    return pictures


PNG = png_bytes()
ZOE = someone("t1", "zoe.quill@contoso.com", "Zoe Quill", chat="zq")
BOB = someone("t1", "bob@contoso.com", "Bob Stone", chat="bob")
CY = someone("t1", "cy@contoso.com", "Cy Ward")
ZOE_ELSEWHERE = someone("t2", "zoe.quill@contoso.com", "Zoe Quill")
DEE = someone("t2", "dee@fabrikam.com", "Dee Lane")
DAY = 24 * 60  # minutes


async def test_retention_deletes_only_messages_past_the_period(
    documents: Documents, store: DocumentStore
) -> None:
    lunch = await store.save_group(team("lunch", BOB, CY))
    run = await store.save_group(team("run", CY, BOB))
    abroad = await store.save_group(team("abroad", DEE))
    await post(
        store,
        lunch,
        said(lunch, "lunch-old", BOB, -400 * DAY),
        said(lunch, "lunch-new", CY, -300 * DAY),
    )
    await post(store, run, said(run, "run-new", BOB, -2 * DAY))
    await post(store, abroad, said(abroad, "abroad-old", DEE, -366 * DAY))

    assert await Retention(store, FixedClock(), 365, NoPictures()).purge() == 2
    assert await message_ids(documents) == {"lunch-new", "run-new"}
    groups = {
        d.id: d.body
        for d in await documents.query("directory", None, [])
        if d.body["type"] == "group"
    }
    assert [s["messageId"] for s in groups["lunch"]["recent"]] == ["lunch-new"]
    assert [s["messageId"] for s in groups["run"]["recent"]] == ["run-new"]
    assert groups["abroad"]["recent"] == []
    assert [m["personId"] for m in groups["lunch"]["members"]] == [BOB.person_id, CY.person_id]
    assert await Retention(store, FixedClock(), 365, NoPictures()).purge() == 0
    assert (
        await Retention(store, FixedClock(), 10**9, NoPictures()).purge() == 0
    )  # nothing is that old


async def test_retention_deletes_the_photos_and_files_of_the_messages_it_deletes(
    documents: Documents, store: DocumentStore, tmp_path: Path
) -> None:
    pictures = await open_media(tmp_path)
    media = pictures.store
    lunch = await store.save_group(team("lunch", BOB, CY))
    cutoff = NOW - timedelta(days=365)
    old = replace(said(lunch, "old", BOB, 0), sent_at=NOW - timedelta(days=400))
    # Just inside the period; its picture was stored 30 s before the message was accepted,
    # so the file is older than the cutoff, yet the message keeps it.
    edge = replace(said(lunch, "edge", CY, 0), sent_at=cutoff + timedelta(seconds=10))
    new = replace(said(lunch, "new", BOB, 0), sent_at=NOW - timedelta(days=2))
    old, edge, new = [
        await pictures.add(m, m.sent_at - timedelta(seconds=30)) for m in (old, edge, new)
    ]
    await post(store, lunch, old, edge, new)

    assert await Retention(store, FixedClock(), 365, media).purge() == 1
    assert await message_ids(documents) == {"edge", "new"}
    assert not await media.exists(old.media[0])
    for kept in await store.messages_of("lunch"):
        assert [await media.read(item) for item in kept.media] == [PNG]
    # A day later the edge message goes, and its picture with it.
    tomorrow = FixedClock(NOW + timedelta(days=1))
    assert await Retention(store, tomorrow, 365, media).purge() == 1
    assert await message_ids(documents) == {"new"}
    assert not await media.exists(edge.media[0]) and await media.exists(new.media[0])


class NoPictures:
    """A media store with nothing in it, for tests about messages only."""

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        return 0

    async def delete_older_than(self, cutoff: datetime) -> int:
        return 0


class BrokenMedia:
    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        raise MediaStoreError("scripted outage")

    async def delete_older_than(self, cutoff: datetime) -> int:
        raise MediaStoreError("scripted outage")


async def test_retention_says_when_the_media_store_fails(store: DocumentStore) -> None:
    lunch = await store.save_group(team("lunch", BOB))
    await post(store, lunch, said(lunch, "old", BOB, -400 * DAY))
    with pytest.raises(StoreError, match="scripted outage"):
        await Retention(store, FixedClock(), 365, BrokenMedia()).purge()
    assert await store.messages_of("lunch") == []  # the messages went; items go next pass


async def test_deleting_a_group_leaves_none_of_its_messages(
    documents: Documents, store: DocumentStore
) -> None:
    lunch = await store.save_group(team("lunch", BOB, CY))
    run = await store.save_group(team("run", CY, BOB))
    await post(store, lunch, *(said(lunch, f"lunch-{n}", BOB, n, pending=n == 0) for n in range(3)))
    await post(store, run, said(run, "run-0", CY, 0))
    await store.delete_group(lunch)
    assert await message_ids(documents) == {"run-0"}
    assert {d.partition for d in await documents.query("messages", None, [])} == {"run"}
    assert await store.get_group("t1", "lunch") is None
    assert await store.pending_messages() == []


async def a_world_with_zoe(documents: Documents, store: DocumentStore) -> None:
    """Zoe owns Lunch (with Bob and Cy), is alone in Solo, has left Run, and is known in
    a second tenant too; her chat with the bot has dialog state."""
    for p in (ZOE, BOB, CY, ZOE_ELSEWHERE, DEE):
        await store.save_person(p)
    lunch = await store.save_group(team("lunch", ZOE, BOB, CY))
    await post(
        store,
        lunch,
        said(lunch, "lunch-1", ZOE, 1),
        said(lunch, "lunch-2", BOB, 2, pending=True),
        said(lunch, "lunch-3", ZOE, 3),
    )
    solo = await store.save_group(team("solo", ZOE))
    await post(store, solo, said(solo, "solo-1", ZOE, 1))
    run = await store.save_group(team("run", BOB, ZOE, CY))
    run = await post(store, run, said(run, "run-1", ZOE, 1), said(run, "run-2", CY, 2))
    await store.save_group(
        replace(run, members=tuple(m for m in run.members if m.person_id != ZOE.person_id))
    )
    abroad = await store.save_group(team("abroad", DEE, ZOE_ELSEWHERE))
    await post(store, abroad, said(abroad, "abroad-1", ZOE_ELSEWHERE, 1))
    chat_state = safe_id("bot:msteams/conversations/a:zq")
    await documents.upsert(
        "state", chat_state, chat_state, {"type": "botState", "value": {"who": "Zoe"}}
    )


async def test_forgetting_a_person_leaves_nothing_of_them(
    documents: Documents, store: DocumentStore
) -> None:
    await a_world_with_zoe(documents, store)
    assert any("zoe" in json.dumps(d.body).lower() for d in await every_document(documents))

    done = await forget(store, " Zoe.Quill@Contoso.com ", NoPictures())

    assert (done.people, done.groups_left, done.groups_deleted) == (2, 2, 1)
    assert done.messages_changed == 6  # every message of Lunch, Run and Abroad names her
    for doc in await every_document(documents):
        text = json.dumps(doc.body, ensure_ascii=False).lower()
        assert "zoe" not in text and "quill" not in text and "zq" not in text, doc
    # Everyone and everything else stays.
    assert await message_ids(documents) == {
        "lunch-1",
        "lunch-2",
        "lunch-3",
        "run-1",
        "run-2",
        "abroad-1",
    }
    assert {p.person_id for p in await store.get_people("t1", [BOB.person_id, CY.person_id])} == {
        BOB.person_id,
        CY.person_id,
    }
    lunch = await store.get_group("t1", "lunch")
    assert lunch is not None
    assert lunch.owner_id == BOB.person_id and lunch.member_ids == (BOB.person_id, CY.person_id)
    assert await store.get_group("t1", "solo") is None
    abroad = await store.get_group("t2", "abroad")
    assert abroad is not None and abroad.member_ids == (DEE.person_id,)

    messages = await store.messages_of("lunch")
    assert [(m.sender_name, m.text) for m in messages] == [
        (FORMER_MEMBER, "words lunch-1"),
        ("Bob Stone", "words lunch-2"),
        (FORMER_MEMBER, "words lunch-3"),
    ]
    former = {messages[0].sender_id, messages[2].sender_id}
    assert len(former) == 1 and lunch.recent[0].sender_id in former
    assert [s.sender_name for s in lunch.recent] == [FORMER_MEMBER, "Bob Stone", FORMER_MEMBER]
    # Her copy that was still pending will not be sent; the others' still will.
    (her_id,) = former
    pending = {d.recipient_id: d for d in messages[1].deliveries}
    assert {r: d.state for r, d in pending.items()} == {
        her_id: DeliveryState.FAILED,
        CY.person_id: DeliveryState.PENDING,
        OUTLOOK_THREAD: DeliveryState.PENDING,
    }
    assert pending[OUTLOOK_THREAD].addresses == ("BOB@CONTOSO.COM", "CY@CONTOSO.COM")
    sent = {d.recipient_id: d.state for d in (await store.messages_of("run"))[1].deliveries}
    assert sent == {
        her_id: DeliveryState.SENT,
        BOB.person_id: DeliveryState.SENT,
        OUTLOOK_THREAD: DeliveryState.SENT,
    }
    assert await forget(store, "zoe.quill@contoso.com", NoPictures()) == Forgotten(0, 0, 0, 0)


async def test_forgetting_a_person_reaches_what_a_group_holds_unfiled(
    documents: Documents, store: DocumentStore
) -> None:
    """A message of hers the group still holds (its first round going) goes as her filed
    messages do: her name and addresses leave it."""
    await a_world_with_zoe(documents, store)
    lunch = await store.get_group("t1", "lunch")
    assert lunch is not None
    held = Message(
        "t1",
        "lunch",
        "lunch-held",
        ZOE.person_id,
        ZOE.display_name,
        "words lunch-held",
        datetime(2026, 12, 8, 9, 0, tzinfo=UTC),
        Source.TEAMS,
        (
            Delivery(BOB.person_id, Channel.TEAMS),
            Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, addresses=(ZOE.email, BOB.email)),
        ),
    )
    await store.save_group(replace(lunch, unfiled=(held,)))

    await forget(store, ZOE.email, NoPictures())

    for doc in await every_document(documents):
        text = json.dumps(doc.body, ensure_ascii=False).lower()
        assert "zoe" not in text and "quill" not in text, doc
    after = await store.get_group("t1", "lunch")
    assert after is not None
    (kept,) = after.unfiled
    assert (kept.message_id, kept.sender_name) == ("lunch-held", FORMER_MEMBER)


async def test_forget_deletes_the_photos_and_files_of_the_groups_it_deletes(
    documents: Documents, store: DocumentStore, tmp_path: Path
) -> None:
    await a_world_with_zoe(documents, store)
    pictures = await open_media(tmp_path)
    media = pictures.store
    items: dict[str, StoredMedia] = {}
    for group_id, message_id in (("solo", "solo-1"), ("lunch", "lunch-1")):
        message = await store.get_message(group_id, message_id)
        assert message is not None
        message = await pictures.add(message, NOW)
        await store.save_message(message)
        items[group_id] = message.media[0]

    with pytest.raises(StoreError, match="scripted outage"):
        await forget(store, ZOE.email, BrokenMedia())
    assert await store.get_group("t1", "solo") is not None  # found again by the next run
    done = await forget(store, ZOE.email, media)

    assert done.groups_deleted == 1 and await store.get_group("t1", "solo") is None
    assert not await media.exists(items["solo"])
    assert not (tmp_path / "media" / "t1" / "solo").exists()
    assert await media.read(items["lunch"]) == PNG  # Lunch stays, with what she sent there
    (kept,) = (await store.messages_of("lunch"))[:1]
    assert kept.sender_name == FORMER_MEMBER and kept.media == (items["lunch"],)


async def test_export_is_the_whole_history_as_json(store: DocumentStore, tmp_path: Path) -> None:
    for p in (BOB, CY):
        await store.save_person(p)
    lunch = await store.save_group(team("lunch", BOB, CY, name="Lunch ☕"))
    pictures = await open_media(tmp_path)
    shown = await pictures.add(said(lunch, "m-2", CY, 20), NOW)
    await post(store, lunch, shown, said(lunch, "m-1", BOB, 10, pending=True))

    history = json.loads(json.dumps(await export(store, lunch)))

    assert history["name"] == "Lunch ☕" and history["groupId"] == "lunch"
    assert [(m["displayName"], m["owner"]) for m in history["members"]] == [
        ("Bob Stone", True),
        ("Cy Ward", False),
    ]
    assert [(m["senderName"], m["text"], m["source"]) for m in history["messages"]] == [
        ("Bob Stone", "words m-1", "teams"),
        ("Cy Ward", "words m-2", "teams"),
    ]
    assert datetime.fromisoformat(history["messages"][0]["sentAt"]) == NOW + timedelta(minutes=10)
    assert [
        (d["recipientId"], d["channel"], d["state"]) for d in history["messages"][0]["deliveries"]
    ] == [
        (CY.person_id, "teams", "pending"),
        (OUTLOOK_THREAD, "outlook", "pending"),
    ]
    # Photos and files by reference: what they are, never their bytes.
    (item,) = shown.media
    assert [m["media"] for m in history["messages"]] == [
        [],
        [
            {
                "mediaId": item.media_id,
                "name": "chart.png",
                "contentType": "image/png",
                "size": len(PNG),
                "kind": "photo",
                "sha256": item.sha256,
            }
        ],
    ]


# Vera is keyed by her Entra object id, her address is her `email`, and her UPN is
# another address of hers; she is known in two tenants, with an object id in each.
VERA_OID = "9B2E4F6A-1C3D-4E5F-8A7B-6C5D4E3F2A1B"
VERA_T2_OID = "4D5E6F70-8192-4A3B-9C4D-5E6F70819203"
VERA_ADDRESS = "vera.quist@contoso.com"
VERA_UPN = "v.quist@fabrikam.onmicrosoft.com"


def vera(tenant: str, oid: str, chat: str = "") -> Person:
    return replace(
        someone(tenant, oid.lower(), "Vera Quist", chat=chat),
        email=VERA_ADDRESS,
        aad_object_id=oid,
        addresses=(VERA_UPN,),
    )


VERA = vera("t1", VERA_OID, chat="vq")
VERA_ELSEWHERE = vera("t2", VERA_T2_OID)


def mailed_to(message: Message, *addresses: str) -> Message:
    """The message with its Outlook mail to these addresses (as typed, any case)."""
    return replace(
        message,
        deliveries=tuple(
            replace(d, addresses=addresses) if d.channel is Channel.OUTLOOK else d
            for d in message.deliveries
        ),
    )


@pytest.mark.parametrize(
    "address", [" Vera.Quist@Contoso.com ", "V.QUIST@fabrikam.onmicrosoft.com"]
)
async def test_forgetting_a_person_keyed_by_object_id(
    documents: Documents, store: DocumentStore, address: str
) -> None:
    for p in (VERA, BOB, CY, VERA_ELSEWHERE, DEE):
        await store.save_person(p)
    lunch = await store.save_group(team("lunch", VERA, BOB, CY))
    await post(
        store,
        lunch,
        mailed_to(
            said(lunch, "lunch-1", VERA, 1),
            "Vera.Quist@Contoso.com",
            "BOB@CONTOSO.COM",
            "cy@contoso.com",
        ),
        mailed_to(
            said(lunch, "lunch-2", BOB, 2, pending=True),
            "VERA.QUIST@CONTOSO.COM",
            "v.quist@Fabrikam.onmicrosoft.com",
            "BOB@CONTOSO.COM",
            "cy@contoso.com",
        ),
    )
    solo = await store.save_group(team("solo", VERA))
    await post(store, solo, said(solo, "solo-1", VERA, 1))
    abroad = await store.save_group(team("abroad", DEE, VERA_ELSEWHERE))
    await post(
        store,
        abroad,
        mailed_to(
            said(abroad, "abroad-1", DEE, 1, pending=True), "dee@fabrikam.com", VERA_UPN.upper()
        ),
    )
    chat_state = safe_id("bot:msteams/conversations/a:vq")
    await documents.upsert(
        "state", chat_state, chat_state, {"type": "botState", "value": {"who": "Vera"}}
    )

    assert any("vera" in json.dumps(d.body).lower() for d in await every_document(documents))

    done = await forget(store, address, NoPictures())

    assert (done.people, done.groups_left, done.groups_deleted) == (2, 2, 1)
    assert done.messages_changed == 3  # both of Lunch, the one of Abroad
    for doc in await every_document(documents):
        text = json.dumps(doc.body, ensure_ascii=False).lower()
        for trace in ("vera", "quist", "a:vq", VERA_OID.lower(), VERA_T2_OID.lower()):
            assert trace not in text, (trace, doc)
    for tenant in ("t1", "t2"):
        assert await store.person_for_address(tenant, VERA_ADDRESS) is None
        assert await store.person_for_address(tenant, VERA_UPN) is None
    assert await store.person_for_object("t1", VERA_OID) is None
    assert await store.person_for_object("t2", VERA_T2_OID) is None

    lunch_now = await store.get_group("t1", "lunch")
    assert lunch_now is not None
    assert lunch_now.owner_id == BOB.person_id
    assert lunch_now.member_ids == (BOB.person_id, CY.person_id)
    assert await store.get_group("t1", "solo") is None
    abroad_now = await store.get_group("t2", "abroad")
    assert abroad_now is not None and abroad_now.member_ids == (DEE.person_id,)

    first, second = await store.messages_of("lunch")
    assert first.sender_name == FORMER_MEMBER and first.sender_id != VERA.person_id
    (first_mail,) = (d for d in first.deliveries if d.channel is Channel.OUTLOOK)
    assert first_mail.addresses == ("BOB@CONTOSO.COM", "cy@contoso.com")
    pending = {d.recipient_id: d for d in second.deliveries}
    assert pending[OUTLOOK_THREAD].addresses == ("BOB@CONTOSO.COM", "cy@contoso.com")
    assert pending[OUTLOOK_THREAD].state is DeliveryState.PENDING
    assert pending[CY.person_id].state is DeliveryState.PENDING
    assert VERA.person_id not in pending
    (her_copy,) = (d for r, d in pending.items() if r not in (CY.person_id, OUTLOOK_THREAD))
    assert her_copy.state is DeliveryState.FAILED and her_copy.recipient_id == first.sender_id
    (abroad_message,) = await store.messages_of("abroad")
    (abroad_mail,) = (d for d in abroad_message.deliveries if d.channel is Channel.OUTLOOK)
    assert abroad_mail.addresses == ("dee@fabrikam.com",)
    assert abroad_mail.state is DeliveryState.PENDING

    # Bob and Cy stay, found as before.
    assert await store.person_for_address("t1", "bob@contoso.com") == await store.get_person(
        "t1", BOB.person_id
    )
    assert await forget(store, VERA_ADDRESS, NoPictures()) == Forgotten(0, 0, 0, 0)
    assert await forget(store, VERA_UPN, NoPictures()) == Forgotten(0, 0, 0, 0)
