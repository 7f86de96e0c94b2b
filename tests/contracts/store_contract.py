"""The Store port's contract: people, groups, messages, de-duplication.

Not collected itself: tests/test_store_contract.py runs it on SQLite and Cosmos DB,
tests/unit/test_memory_store.py on MemoryDocuments. Each test takes the `store` fixture.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.model import (
    Channel,
    Delivery,
    DeliveryState,
    Group,
    Member,
    Message,
    Person,
    Source,
    TeamsReach,
)
from bot.core.ports import ConcurrentUpdate
from bot.store.repository import DocumentStore

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def person(name: str, tenant: str = "t1", teams: bool = True) -> Person:
    email = f"{name}@contoso.com"
    reach = (
        TeamsReach(f"29:{name}", "https://smba.example/", "28:bot", f"a:{name}") if teams else None
    )
    return Person(tenant, email, name.title(), email=email, teams=reach)


def group(owner: Person, *others: Person, name: str = "Lunch") -> Group:
    members = tuple(Member(p.person_id, p.display_name, NOW) for p in (owner, *others))
    return Group(owner.tenant_id, f"g-{name.lower()}", name, owner.person_id, members, NOW)


async def test_person_round_trip_and_teams_alias(store: DocumentStore) -> None:
    saved = await store.save_person(person("ann"))
    assert saved.version
    assert await store.get_person("t1", "ann@contoso.com") == saved
    assert await store.person_for_teams_user("t1", "29:ann") == saved
    assert await store.person_for_teams_user("t2", "29:ann") is None
    assert await store.get_person("t2", "ann@contoso.com") is None


async def test_person_updates_are_conditional(store: DocumentStore) -> None:
    saved = await store.save_person(person("ann"))
    await store.save_person(replace(saved, active_group_id="g1"))
    with pytest.raises(ConcurrentUpdate):
        await store.save_person(replace(saved, outlook_on=False))
    with pytest.raises(ConcurrentUpdate):
        await store.save_person(person("ann"))  # a second create
    current = await store.get_person("t1", "ann@contoso.com")
    assert current is not None and current.active_group_id == "g1" and current.outlook_on


async def test_get_people_returns_only_people_of_that_tenant(store: DocumentStore) -> None:
    for p in (person("ann"), person("bob"), person("cy", teams=False), person("dee", "t2")):
        await store.save_person(p)
    found = await store.get_people(
        "t1", ["ann@contoso.com", "cy@contoso.com", "dee@contoso.com", "nobody@x.y"]
    )
    assert {p.person_id for p in found} == {"ann@contoso.com", "cy@contoso.com"}
    assert await store.get_people("t1", []) == []


async def test_groups_of_a_person(store: DocumentStore) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    await store.save_group(group(bob, cy, name="Run"))
    assert [g.name for g in await store.groups_of("t1", "ann@contoso.com")] == ["Lunch"]
    assert {g.name for g in await store.groups_of("t1", "bob@contoso.com")} == {"Lunch", "Run"}
    assert await store.groups_of("t2", "bob@contoso.com") == []
    assert await store.get_group("t1", lunch.group_id) == lunch
    assert await store.get_group("t2", lunch.group_id) is None


async def test_group_changes_are_conditional_and_deletable(store: DocumentStore) -> None:
    saved = await store.save_group(group(person("ann"), person("bob")))
    renamed = await store.save_group(replace(saved, name="Dinner"))
    with pytest.raises(ConcurrentUpdate):
        await store.save_group(replace(saved, name="Breakfast"))
    assert renamed.name == "Dinner"
    await store.delete_group(renamed)
    assert await store.get_group("t1", saved.group_id) is None
    assert await store.groups_of("t1", "ann@contoso.com") == []


async def test_messages_with_deliveries(store: DocumentStore) -> None:
    message = Message(
        "t1",
        "g1",
        "m1",
        "ann@contoso.com",
        "Ann",
        "hi",
        NOW,
        Source.TEAMS,
        (
            Delivery("bob@contoso.com", Channel.TEAMS),
            Delivery("cy@contoso.com", Channel.TEAMS),
        ),
    )
    stored = await store.add_message(message)
    assert stored is not None and stored.pending
    assert await store.add_message(message) is None  # the same message id again
    assert [m.message_id for m in await store.pending_messages()] == ["m1"]

    done = tuple(
        Delivery(d.recipient_id, d.channel, DeliveryState.SENT, 1) for d in stored.deliveries
    )
    finished = await store.save_message(replace(stored, deliveries=done))
    assert not finished.pending
    assert await store.pending_messages() == []
    with pytest.raises(ConcurrentUpdate):
        await store.save_message(stored)
    again = await store.get_message("g1", "m1")
    assert again is not None and again.deliveries == done


async def test_remember_once(store: DocumentStore) -> None:
    keep = timedelta(hours=1)
    assert await store.remember_once("activity-1", NOW, keep) is True
    assert await store.remember_once("activity-1", NOW + timedelta(minutes=5), keep) is False
    assert await store.remember_once("activity-2", NOW, keep) is True
    # After it expires the key counts as new again.
    assert await store.remember_once("activity-1", NOW + timedelta(hours=2), keep) is True
    assert await store.remember_once("activity-1", NOW + timedelta(hours=2), keep) is False


async def test_expired_markers_are_purged(store: DocumentStore) -> None:
    await store.remember_once("old", NOW, timedelta(hours=1))
    await store.remember_once("fresh", NOW + timedelta(hours=2), timedelta(hours=1))
    assert await store.purge_expired_markers(NOW + timedelta(hours=2)) == 1
    assert await store.remember_once("old", NOW + timedelta(hours=2), timedelta(hours=1)) is True
    assert await store.remember_once("fresh", NOW + timedelta(hours=2), timedelta(hours=1)) is False
