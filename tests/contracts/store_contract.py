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


def message(group_id: str, message_id: str, sent_at: datetime, sender: str = "ann") -> Message:
    return Message(
        "t1",
        group_id,
        message_id,
        f"{sender}@contoso.com",
        sender.title(),
        f"text of {message_id}",
        sent_at,
        Source.TEAMS,
        (Delivery("bob@contoso.com", Channel.TEAMS, DeliveryState.SENT, 1),),
    )


async def test_messages_of_a_group_oldest_first(store: DocumentStore) -> None:
    for n, minutes in enumerate((30, 10, 20)):
        await store.add_message(message("g1", f"m{n}", NOW + timedelta(minutes=minutes)))
    await store.add_message(message("g2", "other", NOW))
    assert [m.message_id for m in await store.messages_of("g1")] == ["m1", "m2", "m0"]
    assert await store.messages_of("g3") == []


async def test_purging_old_messages_keeps_newer_ones_and_trims_history(
    store: DocumentStore,
) -> None:
    ann, bob = person("ann"), person("bob")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    run = await store.save_group(group(bob, ann, name="Run"))
    old = [message(lunch.group_id, f"old{n}", NOW - timedelta(days=400 + n)) for n in range(3)]
    new = message(lunch.group_id, "new", NOW - timedelta(days=10))
    edge = message(run.group_id, "edge", NOW - timedelta(days=365))  # exactly at the cutoff
    for m in (*old, new, edge):
        await store.add_message(m)
    await store.save_group(replace(lunch, recent=(old[0].summary(), new.summary())))

    assert await store.purge_messages_before(NOW - timedelta(days=365)) == 3
    assert [m.message_id for m in await store.messages_of(lunch.group_id)] == ["new"]
    assert [m.message_id for m in await store.messages_of(run.group_id)] == ["edge"]
    trimmed = await store.get_group("t1", lunch.group_id)
    assert trimmed is not None and [s.message_id for s in trimmed.recent] == ["new"]
    assert await store.purge_messages_before(NOW - timedelta(days=365)) == 0


async def test_deleting_a_group_deletes_its_messages(store: DocumentStore) -> None:
    lunch = await store.save_group(group(person("ann"), person("bob"), name="Lunch"))
    run = await store.save_group(group(person("bob"), person("cy"), name="Run"))
    for n in range(3):
        await store.add_message(message(lunch.group_id, f"m{n}", NOW))
    await store.add_message(message(run.group_id, "kept", NOW))
    await store.delete_group(lunch)
    assert await store.messages_of(lunch.group_id) == []
    assert await store.get_message(lunch.group_id, "m0") is None
    assert [m.message_id for m in await store.messages_of(run.group_id)] == ["kept"]


async def test_groups_of_a_tenant_and_found_by_id_or_name(store: DocumentStore) -> None:
    ann, bob = person("ann"), person("bob")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    later = replace(group(bob, name="Run"), created_at=NOW + timedelta(hours=1))
    run = await store.save_group(later)
    elsewhere = await store.save_group(
        replace(group(person("dee", "t2"), name="LUNCH"), group_id="g-t2")
    )
    assert [g.name for g in await store.groups_in("t1")] == ["Lunch", "Run"]
    assert await store.groups_in("t3") == []
    assert await store.find_groups(run.group_id) == [run]
    assert await store.find_groups(run.group_id, "t2") == []
    assert {g.group_id for g in await store.find_groups(" lunch ")} == {
        lunch.group_id,
        elsewhere.group_id,
    }
    assert await store.find_groups("Lunch", "t2") == [elsewhere]
    assert await store.find_groups("Dinner") == []


async def test_people_by_id_in_every_tenant_and_deleted(store: DocumentStore) -> None:
    ann_t1 = await store.save_person(person("ann"))
    ann_t2 = await store.save_person(person("ann", "t2"))
    bob = await store.save_person(person("bob"))
    assert await store.people_with_id("ann@contoso.com") == [ann_t1, ann_t2]
    assert await store.people_with_id("nobody@contoso.com") == []

    assert await store.person_for_teams_user("t1", "29:ann") == ann_t1  # now in the cache
    await store.delete_person(ann_t1)
    assert await store.people_with_id("ann@contoso.com") == [ann_t2]
    assert await store.person_id_for_teams_user("t1", "29:ann") is None
    assert await store.person_for_teams_user("t2", "29:ann") == ann_t2
    assert await store.get_person("t1", "bob@contoso.com") == bob
