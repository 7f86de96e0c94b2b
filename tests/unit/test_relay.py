"""Accepting a message: its rules, and the one stored record with a delivery per copy to send."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.errors import Refused
from bot.core.model import OUTLOOK_THREAD, Channel, DeliveryState, Group, Message, Person
from bot.core.sending.relay import UNFILED_MOST
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    TENANT,
    Core,
    FakeQueue,
    StoreSpy,
    add_group,
    add_person,
    build_core,
    email,
    relay_over,
)
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


async def post(core: Core, sender: Person, group: Group, text: str, key: str = "m1") -> Message:
    message = await core.relay.from_teams(sender, group, text, key)
    assert message is not None
    return message


def teams_recipients(message: Message) -> list[str]:
    return sorted(d.recipient_id for d in message.deliveries if d.channel is Channel.TEAMS)


def outlook_addresses(message: Message) -> tuple[str, ...] | None:
    outlook = [d for d in message.deliveries if d.channel is Channel.OUTLOOK]
    assert len(outlook) <= 1 and all(d.recipient_id == OUTLOOK_THREAD for d in outlook)
    return outlook[0].addresses if outlook else None


# what may be sent


@pytest.mark.parametrize("text", ["", "   ", "\n"], ids=repr)
async def test_an_empty_message_is_refused_and_nothing_stored(core: Core, text: str) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    with pytest.raises(Refused, match="nothing to send"):
        await core.relay.from_teams(ann, lunch, text, "m1")
    assert await core.store.pending_messages() == [] and await core.relayed() == []


async def test_a_message_over_the_limit_is_refused_and_one_at_the_limit_is_sent(
    store: DocumentStore, clock: FakeClock
) -> None:
    relay = relay_over(store, clock, FakeQueue(), 40)
    ann, bob = [await add_person(store, n) for n in ("ann", "bob")]
    lunch = await add_group(store, clock, "lunch", ann, bob)
    with pytest.raises(Refused, match="41 characters; the limit is 40"):
        await relay.from_teams(ann, lunch, "x" * 41, "too-long")
    assert await relay.from_teams(ann, lunch, "x" * 40, "at-the-limit") is not None
    group = await store.get_group(TENANT, lunch.group_id)  # held by it, being delivered
    assert group is not None and [m.message_id for m in group.unfiled] == ["at-the-limit"]
    assert await store.pending_messages() == []


async def test_someone_not_in_the_group_is_refused(core: Core) -> None:
    ann, bob, dan = [await add_person(core.store, n) for n in ("ann", "bob", "dan")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    with pytest.raises(Refused, match="not a member of lunch"):
        await core.relay.from_teams(dan, lunch, "hello", "m1")
    assert await core.store.pending_messages() == []


# the same message sent again


async def test_a_message_sent_again_is_stored_once(core: Core) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    await post(core, ann, lunch, "pizza?", key="m1")
    await core.relay.from_teams(ann, lunch, "pizza?", "m1")
    assert [(c.person_id, c.message_id) for c in await core.relayed()] == [(email("bob"), "m1")]
    stored = await core.store.get_group(TENANT, lunch.group_id)
    assert stored is not None and [s.message_id for s in stored.recent] == ["m1"]


async def test_a_message_sent_again_after_its_delivery_is_not_queued_again(core: Core) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    first = await post(core, ann, lunch, "pizza?", key="m1")
    done = tuple(replace(d, state=DeliveryState.SENT) for d in first.deliveries)
    await core.store.save_message(replace(first, deliveries=done))

    again = await core.relay.from_teams(ann, lunch, "pizza?", "m1")

    assert again is None
    assert [(c.person_id, c.message_id) for c in await core.relayed()] == [(email("bob"), "m1")]


# who gets a copy


async def test_muted_and_unreachable_members_get_no_teams_copy(core: Core) -> None:
    ann, dan = [await add_person(core.store, n) for n in ("ann", "dan")]
    bob = await add_person(core.store, "bob")
    cy = await add_person(core.store, "cy", reachable=False)
    eve = await add_person(core.store, "eve", teams=False)
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob, cy, dan, eve, muted=[bob])

    message = await post(core, ann, lunch, "pizza?")

    assert teams_recipients(message) == [dan.person_id]
    assert all(d.state is DeliveryState.PENDING for d in message.deliveries)
    # They still have the group's Outlook thread.
    assert outlook_addresses(message) == tuple(sorted(p.email for p in (ann, bob, cy, dan, eve)))


async def test_the_outlook_copy_includes_the_sender_but_not_people_with_outlook_off(
    core: Core,
) -> None:
    ann, cy = [await add_person(core.store, n) for n in ("ann", "cy")]
    bob = await add_person(core.store, "bob", outlook_on=False)
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob, cy)

    message = await post(core, ann, lunch, "pizza?")

    assert outlook_addresses(message) == (email("ann"), email("cy"))
    assert teams_recipients(message) == [bob.person_id, cy.person_id]


async def test_without_any_address_there_is_no_outlook_copy(core: Core) -> None:
    ann, bob = [await add_person(core.store, n, with_email=False) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    message = await post(core, ann, lunch, "pizza?")
    assert outlook_addresses(message) is None and teams_recipients(message) == [bob.person_id]


async def test_a_reply_written_in_outlook_gets_only_teams_copies(core: Core) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    message = await core.relay.from_outlook(ann, lunch, "ok", "m1", reached=None)
    assert message is not None
    assert outlook_addresses(message) is None and teams_recipients(message) == [bob.person_id]


# reads saved


async def test_members_already_read_are_not_read_again(
    store: DocumentStore, clock: FakeClock
) -> None:
    spy = StoreSpy(store)
    core = build_core(spy, clock)
    ann, bob, cy = [await add_person(store, n) for n in ("ann", "bob", "cy")]
    lunch = await add_group(store, clock, "lunch", ann, bob, cy)
    everyone = {p.person_id: p for p in (ann, bob, cy)}

    message = await core.relay.from_teams(ann, lunch, "pizza?", "m1", known=everyone)

    assert message is not None and teams_recipients(message) == [bob.person_id, cy.person_id]
    assert spy.calls["get_people"] == 0


async def test_members_missing_from_those_read_are_read_from_the_store(
    store: DocumentStore, clock: FakeClock
) -> None:
    spy = StoreSpy(store)
    core = build_core(spy, clock)
    ann, bob, cy = [await add_person(store, n) for n in ("ann", "bob", "cy")]
    lunch = await add_group(store, clock, "lunch", ann, bob, cy)
    some = {p.person_id: p for p in (ann, bob)}

    message = await core.relay.from_teams(ann, lunch, "pizza?", "m1", known=some)

    assert message is not None and teams_recipients(message) == [bob.person_id, cy.person_id]
    assert spy.calls["get_people"] == 1


async def test_only_a_plain_message_typed_in_teams_is_held_by_its_group(
    store: DocumentStore, clock: FakeClock
) -> None:
    """A mail may be read again long after (only the store remembers every message), and
    a poll's copies point back to it: those are stored on their own first."""
    relay = relay_over(store, clock, FakeQueue(), 500)
    ann, bob = [await add_person(store, n) for n in ("ann", "bob")]
    lunch = await add_group(store, clock, "lunch", ann, bob)
    await relay.from_teams(ann, lunch, "typed in Teams", "t1")
    await relay.from_outlook(ann, lunch, "written in Outlook", "o1", reached=frozenset())
    group = await store.get_group(TENANT, lunch.group_id)
    assert group is not None and [m.message_id for m in group.unfiled] == ["t1"]
    assert [m.message_id for m in await store.pending_messages()] == ["o1"]
    await relay.from_outlook(ann, group, "written in Outlook", "o1", reached=frozenset())
    assert [m.message_id for m in await store.messages_of(lunch.group_id)] == ["o1"]  # once


async def test_a_burst_is_held_only_a_few_at_a_time(store: DocumentStore, clock: FakeClock) -> None:
    """Each held message rides along in every group write until it is filed: in a burst
    (first rounds slower than arrivals) the rest are stored on their own first, so a
    group's writes stay small."""
    relay = relay_over(store, clock, FakeQueue(), 500)
    ann, bob = [await add_person(store, n) for n in ("ann", "bob")]
    lunch = await add_group(store, clock, "lunch", ann, bob)
    keys = [f"t{n}" for n in range(UNFILED_MOST + 2)]
    for key in keys:
        group = await store.get_group(TENANT, lunch.group_id)
        assert group is not None
        assert await relay.from_teams(ann, group, key, key) is not None
    group = await store.get_group(TENANT, lunch.group_id)
    assert group is not None and [m.message_id for m in group.unfiled] == keys[:UNFILED_MOST]
    assert [m.message_id for m in await store.pending_messages()] == keys[UNFILED_MOST:]
    assert [s.message_id for s in group.recent][-len(keys) :] == keys  # every line, in order
