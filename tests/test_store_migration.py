"""Stores written by earlier code open with nothing lost, on SQLite and Cosmos DB:

- the earlier layout (people and groups in containers of their own): its documents move
  into the shared "directory" container;
- the layout before aliases (people keyed by their address, a `teamsAlias` per Teams user
  the only alias): `migrate_aliases` gives every person the aliases of today's layout.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from azure.cosmos import PartitionKey

from bot.core.model import Group, Member, Person, TeamsReach
from bot.store.bodies import group_body, person_body
from bot.store.cosmos_documents import CosmosDocuments
from bot.store.documents import Documents, Eq, JsonDict, safe_id
from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from tests.services import COSMOS_KEY, cosmos_client

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
        ("people", ANN.person_id, {**person_body(ANN), "id": ANN.person_id}),
        ("people", BOB.person_id, {**person_body(BOB), "id": BOB.person_id}),
        (
            "people",
            "teams-user:29:ann",
            {"type": "teamsAlias", "personId": ANN.person_id, "id": "teams-user:29:ann"},
        ),
        ("groups", LUNCH.group_id, {**group_body(LUNCH), "id": LUNCH.group_id}),
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
    async with cosmos_client(cosmos_endpoint) as client:
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

    async with cosmos_client(cosmos_endpoint) as client:
        names = {c["id"] async for c in client.get_database_client(database).list_containers()}
    assert names == {"directory", "messages", "state"}


# The layout before aliases: a person's id was their address (lower case), or
# `teams:<user id>` without one; the object id was only a field of the person.
PRE_ANN_OID = "1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D"
PRE_DEE_OID = "6F5E4D3C-2B1A-4F9E-8D7C-6B5A4F3E2D1C"
PRE_ANN = Person(
    "t1",
    "ann@contoso.com",
    "Ann Archer",
    email="ann@contoso.com",
    aad_object_id=PRE_ANN_OID,
    teams=TeamsReach("29:ann", "https://smba.example/", "28:bot", "a:ann"),
    active_group_id="g1",
)
PRE_BOB = Person(
    "t1", "bob@contoso.com", "Bob Baker", email="bob@contoso.com", active_group_id="g1"
)
PRE_CY = Person(
    "t1",
    "teams:29:cy",
    "Cy Cole",
    teams=TeamsReach("29:cy", "https://smba.example/", "28:bot", "a:cy", reachable=False),
    outlook_on=False,
)
PRE_DEE = Person(
    "t2",
    "dee@fabrikam.com",
    "Dee Dunn",
    email="dee@fabrikam.com",
    aad_object_id=PRE_DEE_OID,
    teams=TeamsReach("29:dee", "https://smba.example/", "28:bot", "a:dee"),
)
PRE_PEOPLE = (PRE_ANN, PRE_BOB, PRE_CY, PRE_DEE)
PRE_LUNCH = Group(
    "t1",
    "g1",
    "Lunch",
    PRE_ANN.person_id,
    tuple(Member(p.person_id, p.display_name, NOW) for p in (PRE_ANN, PRE_BOB, PRE_CY)),
    NOW,
)
# What a person document gained with aliases: none of the earlier ones has them.
NEW_PERSON_FIELDS = ("addresses", "teamsUnavailable", "teamsRetryAt")


def pre_alias_person_body(person: Person) -> JsonDict:
    body = person_body(person)
    for field in NEW_PERSON_FIELDS:
        del body[field]
    return body


def pre_alias_documents() -> list[tuple[str, str, JsonDict]]:
    """(tenant, id, body) of the "directory" container as the code before aliases wrote it."""
    found: list[tuple[str, str, JsonDict]] = []
    for p in PRE_PEOPLE:
        found.append((p.tenant_id, safe_id(p.person_id), pre_alias_person_body(p)))
        if p.teams is not None:
            alias_id = safe_id(f"teams-user:{p.teams.user_id}")
            found.append((p.tenant_id, alias_id, {"type": "teamsAlias", "personId": p.person_id}))
    found.append((PRE_LUNCH.tenant_id, PRE_LUNCH.group_id, group_body(PRE_LUNCH)))
    return found


def as_stored(person: Person | None, expected: Person) -> None:
    """`person` is `expected` as it was before aliases, the new fields at their defaults."""
    assert person is not None, expected.person_id
    assert person == replace(expected, version=person.version)
    assert (person.addresses, person.teams_unavailable, person.teams_retry_at) == ((), "", None)


async def check_the_aliases_were_written(store: DocumentStore, documents: Documents) -> None:
    for oid in (PRE_ANN_OID, PRE_ANN_OID.lower()):
        as_stored(await store.person_for_object("t1", oid), PRE_ANN)
    as_stored(await store.person_for_object("t2", PRE_DEE_OID), PRE_DEE)
    assert await store.person_for_object("t1", PRE_DEE_OID) is None
    for p in (PRE_ANN, PRE_BOB, PRE_DEE):
        for address in (p.email, p.email.upper(), p.email.title()):
            as_stored(await store.person_for_address(p.tenant_id, address), p)
        assert [x.person_id for x in await store.people_with_address(p.email)] == [p.person_id]
    for p in PRE_PEOPLE:
        assert p.teams is not None or p is PRE_BOB
        if p.teams is not None:
            as_stored(await store.person_for_teams_user(p.tenant_id, p.teams.user_id), p)
        as_stored(await store.get_person(p.tenant_id, p.person_id), p)

    group = await store.get_group("t1", PRE_LUNCH.group_id)
    assert group is not None and group == replace(PRE_LUNCH, version=group.version)
    members = await store.get_people("t1", group.member_ids)
    assert sorted(p.person_id for p in members) == sorted(PRE_LUNCH.member_ids)
    assert {p.display_name for p in members} == {"Ann Archer", "Bob Baker", "Cy Cole"}
    assert [g.group_id for g in await store.groups_of("t1", PRE_CY.person_id)] == ["g1"]

    # An alias per object id and per address; Cy, met without either, has none.
    aliases = await documents.query("directory", None, [Eq("type", "alias")])
    assert {(a.partition, a.id, a.body["personId"]) for a in aliases} == {
        ("t1", f"object:{PRE_ANN_OID.lower()}", PRE_ANN.person_id),
        ("t1", "address:ann@contoso.com", PRE_ANN.person_id),
        ("t1", "address:bob@contoso.com", PRE_BOB.person_id),
        ("t2", f"object:{PRE_DEE_OID.lower()}", PRE_DEE.person_id),
        ("t2", "address:dee@fabrikam.com", PRE_DEE.person_id),
    }


async def migrate_the_aliases_and_check(open_store: Callable[[], Awaitable[Documents]]) -> None:
    documents = await open_store()
    try:
        store = DocumentStore(documents)
        assert await store.migrate_aliases() == len(PRE_PEOPLE)
        assert await store.migrate_aliases() == 0
        await check_the_aliases_were_written(store, documents)
        await check_the_aliases_were_written(DocumentStore(documents), documents)
    finally:
        await documents.close()

    documents = await open_store()  # the next start: nothing more to do, nothing lost
    try:
        store = DocumentStore(documents)
        assert await store.migrate_aliases() == 0
        await check_the_aliases_were_written(store, documents)
        # Someone met later with an object id and Ann's address does not take it from her.
        newcomer = Person(
            "t1",
            "0f0e0d0c-0b0a-4909-8807-060504030201",
            "Ann Other",
            email="ann@contoso.com",
            aad_object_id="0F0E0D0C-0B0A-4909-8807-060504030201",
        )
        await store.save_person(newcomer)
        as_stored(await store.person_for_address("t1", "ANN@contoso.com"), PRE_ANN)
    finally:
        await documents.close()


async def test_sqlite_store_of_people_keyed_by_address_gets_aliases(tmp_path: Path) -> None:
    path = tmp_path / "send.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE documents (kind TEXT NOT NULL, partition TEXT NOT NULL, id TEXT NOT NULL,"
        " body TEXT NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (kind, partition, id)) WITHOUT ROWID"
    )
    for tenant, doc_id, body in pre_alias_documents():
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?)",
            (
                "directory",
                tenant,
                doc_id,
                json.dumps({**body, "id": doc_id, "tenantId": tenant}),
                uuid.uuid4().hex,
            ),
        )
    db.commit()
    db.close()

    async def open_store() -> Documents:
        documents = SqliteDocuments(path)
        await documents.open()
        return documents

    await migrate_the_aliases_and_check(open_store)


async def test_cosmos_store_of_people_keyed_by_address_gets_aliases(cosmos_endpoint: str) -> None:
    database = f"aliases-{uuid.uuid4().hex[:12]}"
    async with cosmos_client(cosmos_endpoint) as client:
        db = await client.create_database_if_not_exists(database)
        directory = await db.create_container_if_not_exists(
            "directory", PartitionKey(path="/tenantId")
        )
        for tenant, doc_id, body in pre_alias_documents():
            await directory.upsert_item({**body, "id": doc_id, "tenantId": tenant})

    async def open_store() -> Documents:
        documents = CosmosDocuments(cosmos_endpoint, COSMOS_KEY, database, verify_tls=False)
        await documents.open()
        return documents

    await migrate_the_aliases_and_check(open_store)
