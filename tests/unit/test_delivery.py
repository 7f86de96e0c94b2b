"""The delivery worker on a fake clock: retries, back-off, people gone, and taking over claims.

Nothing waits: the worker's sleep is a FakeSleep that moves the FakeClock, and tests wait
for the worker's tasks by polling the store between event-loop turns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from bot.core.errors import Refused
from bot.core.features.polls import PollCards
from bot.core.features.receipts import Receipts
from bot.core.membership.reach import TeamsChats
from bot.core.model import Channel, Delivery, DeliveryState, Group, Message, Person, Poll
from bot.core.ports import NoInstaller, RecordResult, SendOutcome, Store
from bot.core.sending import relay as relay_module
from bot.core.sending.attempts import RetryPolicy
from bot.core.sending.delivery import DeliveryWorker
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import Relay
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    TENANT,
    FakeOutlook,
    FakeQueue,
    FakeTeams,
    StoreSpy,
    add_group,
    add_person,
    delivered,
    eventually,
    filed,
    gone,
    refused,
    relay_over,
    retry,
)
from tests.unit.fakes import FakeClock, FakeSleep
from tests.unit.media_fakes import memory_media

POLICY = RetryPolicy(base_delay=1.0, max_delay=4.0, deadline=timedelta(minutes=1))
RETRIES = 5
LEASE = timedelta(minutes=5)


@dataclass
class Rig:
    store: DocumentStore
    clock: FakeClock
    sleep: FakeSleep
    teams: FakeTeams
    outlook: FakeOutlook
    worker: DeliveryWorker
    relay: Relay

    async def post(self, sender: Person, group: Group, text: str, key: str) -> Message:
        """Accepts a message and waits until the worker has settled all its deliveries."""
        await self.relay.from_teams(sender, group, text, key)
        return await delivered(self.store, group.group_id, key)


def worker_over(
    store: Store,
    teams: FakeTeams,
    outlook: FakeOutlook,
    clock: FakeClock,
    sleep: Callable[[float], Awaitable[None]],
    policy: RetryPolicy = POLICY,
    concurrency: int = 64,
    file_after: float = 1.0,
) -> DeliveryWorker:
    """A delivery worker over the fakes; its limiter sleeps on its own FakeSleep, so
    `sleep.delays` holds only retry waits."""
    limiter = RateLimiter(per_tenant=50, clock=clock.monotonic, sleep=FakeSleep(clock))
    return DeliveryWorker(
        store,
        teams,
        outlook,
        limiter,
        policy,
        concurrency,
        instance_id="this-instance",
        lease=LEASE,
        file_after=file_after,
        clock=clock,
        sleep=sleep,
        monotonic=clock.monotonic,
        chats=TeamsChats(store, teams, clock, NoInstaller()),
        media=memory_media(store),
        cards=PollCards(store, teams, limiter, clock, memory_media(store)),
        receipts=Receipts(store, teams, limiter, clock, pause=0),
    )


@dataclass
class SlowConnector:
    teams: FakeTeams
    release: asyncio.Event  # every copy waits at the connector until this is set
    worker: DeliveryWorker
    relay: Relay


@asynccontextmanager
async def slow_connector(
    store: Store, clock: FakeClock, sleep: FakeSleep, *, file_after: float
) -> AsyncIterator[SlowConnector]:
    """A worker and its relay over a connector that holds every copy until the test lets
    them go; released and drained at the end."""
    teams = FakeTeams(clock)
    release = teams.hold_sends = asyncio.Event()
    worker = worker_over(store, teams, FakeOutlook(), clock, sleep, file_after=file_after)
    try:
        yield SlowConnector(teams, release, worker, relay_over(store, clock, worker, 500))
    finally:
        release.set()
        await worker.drain(grace=0)


@pytest.fixture
async def rig(store: DocumentStore, clock: FakeClock, sleep: FakeSleep) -> AsyncIterator[Rig]:
    teams = FakeTeams(clock)
    outlook = FakeOutlook()
    worker = worker_over(store, teams, outlook, clock, sleep)
    yield Rig(store, clock, sleep, teams, outlook, worker, relay_over(store, clock, worker, 500))
    await worker.drain(grace=0)  # nothing may be left running when the test ends


@dataclass(frozen=True)
class Lunch:
    ann: Person
    bob: Person
    cy: Person
    group: Group


@pytest.fixture
async def lunch(store: DocumentStore, clock: FakeClock) -> Lunch:
    ann, bob, cy = [await add_person(store, n) for n in ("ann", "bob", "cy")]
    return Lunch(ann, bob, cy, await add_group(store, clock, "lunch", ann, bob, cy))


def delivery_to(message: Message, person: Person) -> Delivery:
    return next(d for d in message.deliveries if d.recipient_id == person.person_id)


def outlook_delivery(message: Message) -> Delivery:
    return next(d for d in message.deliveries if d.channel is Channel.OUTLOOK)


# the usual case


async def test_every_copy_is_sent_and_the_states_are_saved(rig: Rig, lunch: Lunch) -> None:
    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    assert len(message.deliveries) == 3  # bob's and cy's chats, and the Outlook thread
    assert all(d.state is DeliveryState.SENT and d.attempts == 1 for d in message.deliveries)
    assert sorted(s.person_id for s in rig.teams.sent) == [lunch.bob.person_id, lunch.cy.person_id]
    assert [m.addresses for m in rig.outlook.mails] == [outlook_delivery(message).addresses]
    assert await rig.store.pending_messages() == [] and rig.sleep.delays == []


async def test_the_first_mail_starts_the_groups_outlook_thread(rig: Rig, lunch: Lunch) -> None:
    await rig.post(lunch.ann, lunch.group, "pizza?", "m1")
    await rig.post(lunch.ann, lunch.group, "at noon", "m2")
    group = await rig.store.get_group(TENANT, lunch.group.group_id)
    assert group is not None and group.outlook_thread != ""
    assert [m.thread_id for m in rig.outlook.mails] == ["", group.outlook_thread]


# passing failures


async def test_a_throttled_send_is_retried_no_sooner_than_teams_asked(
    rig: Rig, lunch: Lunch
) -> None:
    rig.teams.answer(lunch.bob.person_id, retry(after=3.0))

    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    first, second = rig.teams.sent_to(lunch.bob.person_id)
    assert rig.sleep.delays[0] >= 3.0
    assert second.at - first.at >= timedelta(seconds=3)
    assert delivery_to(message, lunch.bob).state is DeliveryState.SENT
    assert delivery_to(message, lunch.bob).attempts == 2


async def test_a_throttled_outlook_mail_is_retried_no_sooner_than_asked(
    rig: Rig, lunch: Lunch
) -> None:
    rig.outlook.answer(RecordResult(SendOutcome.RETRY, retry_after=2.0))
    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")
    assert len(rig.outlook.mails) == 2 and rig.sleep.delays[0] >= 2.0
    assert outlook_delivery(message).state is DeliveryState.SENT


async def test_the_back_off_grows_and_is_capped(rig: Rig, lunch: Lunch) -> None:
    rig.teams.answer(lunch.bob.person_id, *[retry()] * RETRIES)

    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    assert delivery_to(message, lunch.bob).state is DeliveryState.SENT
    delays = rig.sleep.delays
    caps = [min(POLICY.max_delay, POLICY.base_delay * 2**n) for n in range(len(delays))]
    assert len(delays) == RETRIES
    assert all(cap / 2 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
    assert delays[2] > delays[0] and max(delays) <= POLICY.max_delay


async def test_throttling_is_never_a_reason_to_drop_a_copy(rig: Rig, lunch: Lunch) -> None:
    # Twelve answers of "wait a second" (and the back-off, 4 s at most) fit within the
    # deadline: with a fixed number of attempts this copy would have been dropped.
    rig.teams.answer(lunch.bob.person_id, *[retry(after=1.0)] * 12)

    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    bob = delivery_to(message, lunch.bob)
    assert (bob.state, bob.attempts) == (DeliveryState.SENT, 13)
    assert all(delay >= 1.0 for delay in rig.sleep.delays)


async def test_a_message_resumed_from_an_earlier_read_is_not_sent_again(
    rig: Rig, lunch: Lunch
) -> None:
    """Teams re-sends an activity; the relay read the message while it was still pending,
    and hands it over after its delivery ended: the worker reads it again first."""
    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")
    assert delivery_to(message, lunch.bob).state is DeliveryState.SENT
    as_read_before = replace(
        message,
        deliveries=tuple(replace(d, state=DeliveryState.PENDING) for d in message.deliveries),
    )

    rig.worker.resume(as_read_before, lunch.group, [lunch.ann, lunch.bob, lunch.cy])
    await rig.worker.drain(grace=5)

    assert len(rig.teams.sent_to(lunch.bob.person_id)) == 1
    assert len(rig.teams.sent_to(lunch.cy.person_id)) == 1


async def test_teams_down_for_forty_minutes_loses_nothing(
    store: DocumentStore, clock: FakeClock, sleep: FakeSleep, lunch: Lunch
) -> None:
    """Production's retry policy through a long outage: every copy arrives once, after it
    (a fixed number of attempts would have dropped them)."""
    teams = FakeTeams(clock)
    worker = worker_over(store, teams, FakeOutlook(), clock, sleep, RetryPolicy())
    relay = relay_over(store, clock, worker, 500)
    back_at = clock.now() + timedelta(minutes=40)
    teams.down_until(back_at)
    try:
        for n in range(5):
            await relay.from_teams(lunch.ann, lunch.group, f"during the outage {n}", f"m{n}")
        messages = [
            await delivered(store, lunch.group.group_id, f"m{n}", turns=20_000) for n in range(5)
        ]
    finally:
        await worker.drain(grace=0)

    for message in messages:
        for person in (lunch.bob, lunch.cy):
            copy = delivery_to(message, person)
            # Tried again and again, not given up: how many times depends on the jitter,
            # and on the fake clock, which every sleeping round moves on.
            assert copy.state is DeliveryState.SENT and copy.attempts > 1
    arrived = [s for s in teams.sent if s.at >= back_at]
    assert sorted((s.person_id, s.text) for s in arrived) == sorted(
        (p.person_id, f"during the outage {n}") for n in range(5) for p in (lunch.bob, lunch.cy)
    )


async def test_a_delivery_still_failing_at_its_deadline_fails_with_the_reason(
    rig: Rig, lunch: Lunch
) -> None:
    rig.teams.answer(lunch.bob.person_id, *[retry()] * 1000)

    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    bob = delivery_to(message, lunch.bob)
    assert bob.state is DeliveryState.FAILED
    assert bob.last_error.startswith("still failing at the delivery deadline")
    assert bob.attempts == len(rig.teams.sent_to(lunch.bob.person_id)) > RETRIES
    assert rig.clock.now() - message.sent_at <= POLICY.deadline
    assert delivery_to(message, lunch.cy).state is DeliveryState.SENT
    # No wait before giving up: one wait between each two attempts, none after the last.
    assert len(rig.sleep.delays) == bob.attempts - 1


async def test_a_long_retry_after_holds_no_worker_slot_and_keeps_the_claim(
    store: DocumentStore, clock: FakeClock, lunch: Lunch
) -> None:
    teams = FakeTeams(clock)
    released = asyncio.Event()
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)
        await released.wait()  # the long wait lasts until the test says
        clock.advance(delay)

    worker = worker_over(store, teams, FakeOutlook(), clock, sleep, concurrency=1)
    relay = relay_over(store, clock, worker, 500)
    dee, eve = await add_person(store, "dee"), await add_person(store, "eve")
    other = await add_group(store, clock, "other", dee, eve)
    teams.answer(lunch.bob.person_id, retry(after=50.0))
    try:
        await relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1")
        await eventually(lambda: waits == [50.0] or len(waits) > 1)
        waiting = await store.get_message(lunch.group.group_id, "m1")
        assert waiting is not None and waiting.pending
        assert waiting.claimed_until is not None
        assert waiting.claimed_until >= clock.now() + timedelta(seconds=50) + LEASE
        # With one slot only, another group's message still goes while m1 waits.
        await relay.from_teams(dee, other, "meanwhile", "m2")
        assert not (await delivered(store, other.group_id, "m2")).pending
        released.set()
        done = await delivered(store, lunch.group.group_id, "m1")
        assert delivery_to(done, lunch.bob).state is DeliveryState.SENT
    finally:
        released.set()
        await worker.drain(grace=0)


# a plain message: held by its group's write, then filed once


async def test_a_plain_message_is_held_by_its_groups_write_then_filed_once(
    store: DocumentStore, clock: FakeClock, sleep: FakeSleep, lunch: Lunch
) -> None:
    spy = StoreSpy(store)
    teams = FakeTeams(clock)
    worker = worker_over(spy, teams, FakeOutlook(), clock, sleep, file_after=60.0)
    relay = relay_over(spy, clock, worker, 500)
    try:
        # The group's first message also starts its Outlook thread (a group write).
        await relay.from_teams(lunch.ann, lunch.group, "hello", "m0")
        await delivered(store, lunch.group.group_id, "m0")
        for key in ("m1", "m2"):
            group = await store.get_group(TENANT, lunch.group.group_id)  # read with the sender
            assert group is not None
            spy.calls.clear()
            accepted = await relay.from_teams(lunch.ann, group, "pizza?", key)
            assert accepted is not None and accepted.version is None  # held, not filed yet
            message = await delivered(store, lunch.group.group_id, key)
            # The group's write (its line, the message held, the one filed before dropped),
            # then the message filed once with its outcome: no pending record first.
            writes = {m: spy.calls[m] for m in ("save_group", "add_message", "save_message")}
            assert writes == {"save_group": 1, "add_message": 0, "save_message": 1}, key
            copies = [d for d in message.deliveries if d.channel is Channel.TEAMS]
            assert {d.recipient_id for d in copies} == {lunch.bob.person_id, lunch.cy.person_id}
            assert all(d.state is DeliveryState.SENT and d.activity_id for d in copies)
            assert outlook_delivery(message).state is DeliveryState.SENT
        group = await store.get_group(TENANT, lunch.group.group_id)
        assert group is not None and [s.message_id for s in group.recent] == ["m0", "m1", "m2"]
        assert [m.message_id for m in group.unfiled] == ["m2"]  # dropped by the next write
    finally:
        await worker.drain(grace=0)


async def test_a_held_message_whose_copies_are_slow_is_filed_as_accepted(
    store: DocumentStore, clock: FakeClock, sleep: FakeSleep, lunch: Lunch
) -> None:
    async with slow_connector(store, clock, sleep, file_after=0.01) as slow:
        assert await slow.relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is not None

        # Filed as accepted, claimed by this instance, while its copies are on their way:
        # an edit or a delete finds it.
        filed_now = await filed(store, lunch.group.group_id, "m1")
        assert filed_now.pending and filed_now.claimed_by == slow.worker.instance_id
        slow.release.set()
        done = await delivered(store, lunch.group.group_id, "m1")
        # The round's write went into that record: one copy each, all sent.
        assert all(d.state is DeliveryState.SENT for d in done.deliveries)
        sent = [len(slow.teams.sent_to(p.person_id)) for p in (lunch.bob, lunch.cy)]
        assert sent == [1, 1]


async def test_a_held_message_left_by_a_stopped_instance_is_filed_and_delivered(
    rig: Rig, lunch: Lunch
) -> None:
    """Another instance answered (the group holds the message) and stopped before filing it."""
    other = relay_over(rig.store, rig.clock, FakeQueue(instance="other-instance", lease=LEASE), 500)
    assert await other.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is not None
    assert await rig.store.get_message(lunch.group.group_id, "m1") is None
    assert await rig.worker.recover() == 0  # its claim has not ended

    rig.clock.advance((LEASE + timedelta(minutes=1)).total_seconds())
    assert await rig.worker.recover(at_start=False) == 1

    done = await delivered(rig.store, lunch.group.group_id, "m1")
    assert all(d.state is DeliveryState.SENT for d in done.deliveries)
    assert len(rig.teams.sent_to(lunch.bob.person_id)) == 1
    group = await rig.store.get_group(TENANT, lunch.group.group_id)
    assert group is not None and group.unfiled == ()
    assert [s.message_id for s in group.recent] == ["m1"]


async def test_a_held_message_sent_again_is_not_delivered_twice(
    store: DocumentStore, clock: FakeClock, sleep: FakeSleep, lunch: Lunch
) -> None:
    async with slow_connector(store, clock, sleep, file_after=60.0) as slow:
        relay = slow.relay
        assert await relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is not None
        await eventually(lambda: len(slow.teams.sent) == 2)
        # Teams sends it again (its answer was lost): the group holds it, so it is known.
        assert await relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is None
        slow.release.set()
        await delivered(store, lunch.group.group_id, "m1")
        assert await relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is None
        sent = [len(slow.teams.sent_to(p.person_id)) for p in (lunch.bob, lunch.cy)]
        assert sent == [1, 1]


async def test_a_message_sent_again_after_its_line_left_the_history_goes_once(
    rig: Rig, lunch: Lunch
) -> None:
    """Teams sends X again once ten newer messages pushed its line out of the group's
    recent list (or it was deleted): the group still knows its id."""
    await rig.post(lunch.ann, lunch.group, "first", "X")
    for n in range(10):
        rig.clock.advance(30)
        group = await rig.store.get_group(TENANT, lunch.group.group_id)
        assert group is not None
        await rig.post(lunch.cy, group, f"newer {n}", f"n{n}")
    group = await rig.store.get_group(TENANT, lunch.group.group_id)
    assert group is not None and "X" not in [s.message_id for s in group.recent]

    assert await rig.relay.from_teams(lunch.ann, group, "first", "X") is None

    await rig.worker.drain(grace=1)
    assert [s.text for s in rig.teams.sent_to(lunch.bob.person_id)].count("first") == 1


async def test_a_held_message_sent_again_to_another_instance_is_delivered_once(
    store: DocumentStore,
    clock: FakeClock,
    sleep: FakeSleep,
    lunch: Lunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Instance A holds X, its copies going; Teams sends X again to instance B, whose
    request read the group before A's write and, its group full, stores X first."""
    teams = FakeTeams(clock)
    teams.hold_sends = asyncio.Event()
    a = worker_over(store, teams, FakeOutlook(), clock, sleep, file_after=60.0)
    b = worker_over(store, teams, FakeOutlook(), clock, sleep, file_after=60.0)
    b.instance_id = "instance-b"
    read_before = await store.get_group(TENANT, lunch.group.group_id)
    assert read_before is not None
    try:
        await relay_over(store, clock, a, 500).from_teams(lunch.ann, read_before, "hi", "X")
        await eventually(lambda: len(teams.sent) == 2)
        monkeypatch.setattr(relay_module, "UNFILED_MOST", 0)  # B's group holds too many
        await relay_over(store, clock, b, 500).from_teams(lunch.ann, read_before, "hi", "X")
        teams.hold_sends.set()
        await delivered(store, lunch.group.group_id, "X")
        assert [len(teams.sent_to(p.person_id)) for p in (lunch.bob, lunch.cy)] == [1, 1]
    finally:
        teams.hold_sends.set()
        await a.drain(grace=0)
        await b.drain(grace=0)


async def test_a_shutdown_files_a_held_message_for_anyone_to_take(
    store: DocumentStore, clock: FakeClock, sleep: FakeSleep, lunch: Lunch
) -> None:
    teams = FakeTeams(clock)
    teams.hold_sends = asyncio.Event()  # never set: its copies cannot go before the stop
    worker = worker_over(store, teams, FakeOutlook(), clock, sleep, file_after=60.0)
    relay = relay_over(store, clock, worker, 500)
    assert await relay.from_teams(lunch.ann, lunch.group, "pizza?", "m1") is not None
    await eventually(lambda: len(teams.sent) == 2)

    await worker.drain(grace=0)

    released = await store.get_message(lunch.group.group_id, "m1")
    assert released is not None and released.pending
    assert released.claimed_until is not None and released.claimed_until <= clock.now()


# final answers


async def test_a_refused_send_is_final(rig: Rig, lunch: Lunch) -> None:
    rig.teams.answer(lunch.bob.person_id, refused("bad request"))

    message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")

    bob = delivery_to(message, lunch.bob)
    assert (bob.state, bob.attempts, bob.last_error) == (DeliveryState.FAILED, 1, "bad request")
    assert len(rig.teams.sent_to(lunch.bob.person_id)) == 1 and rig.sleep.delays == []
    # The sender is told once, after the round's write (`delivered` can return before).
    await eventually(lambda: bool(rig.teams.notices))
    assert rig.teams.notices == [
        (lunch.ann.person_id, "Bob did not get your message to lunch in Teams (bad request).")
    ]


async def test_at_info_the_log_has_a_line_per_message_and_per_failed_copy(
    rig: Rig, lunch: Lunch, caplog: pytest.LogCaptureFixture
) -> None:
    """A line per copy that went would be 19 lines a message (and a sixth of a copy's
    CPU): those are DEBUG; the message's line counts them, a failed copy has its own."""
    rig.teams.answer(lunch.bob.person_id, refused("bad request"))
    with caplog.at_level(logging.INFO, logger="send.delivery"):
        message = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")
    finals = [r for r in caplog.records if r.getMessage() == "delivery final"]
    assert [(r.levelno, getattr(r, "recipient", "")) for r in finals] == [
        (logging.INFO, lunch.bob.person_id)
    ]
    (delivered,) = [r for r in caplog.records if r.getMessage() == "message delivered"]
    sent = sum(d.state is DeliveryState.SENT for d in message.deliveries)
    assert sent >= 1
    assert (getattr(delivered, "message_id", ""), getattr(delivered, "sent", None)) == ("m1", sent)
    assert getattr(delivered, "failed", None) == 1


async def test_people_gone_from_teams_are_marked_and_the_sender_told_once(
    rig: Rig, lunch: Lunch
) -> None:
    rig.teams.answer(lunch.bob.person_id, gone())
    rig.teams.answer(lunch.cy.person_id, gone())

    first = await rig.post(lunch.ann, lunch.group, "pizza?", "m1")
    await eventually(lambda: bool(rig.teams.notices))

    assert delivery_to(first, lunch.bob).state is DeliveryState.FAILED
    for person in (lunch.bob, lunch.cy):
        stored = await rig.store.get_person(TENANT, person.person_id)
        assert stored is not None and stored.teams is not None and not stored.teams.reachable
    [(told, text)] = rig.teams.notices
    assert told == lunch.ann.person_id and "Bob" in text and "Cy" in text

    second = await rig.post(lunch.ann, lunch.group, "anyone?", "m2")
    assert [d.channel for d in second.deliveries] == [Channel.OUTLOOK]
    assert len(rig.teams.notices) == 1


# taking over


@pytest.mark.parametrize("kind", ["plain", "poll"])
async def test_recover_takes_over_expired_claims_but_not_live_ones(
    rig: Rig, lunch: Lunch, kind: str
) -> None:
    """A plain message is held by its group until filed; a poll is stored first."""
    other = relay_over(rig.store, rig.clock, FakeQueue(instance="other-instance", lease=LEASE), 500)

    async def accept(text: str, key: str) -> None:
        group = await rig.store.get_group(TENANT, lunch.group.group_id)
        assert group is not None
        if kind == "plain":
            await other.from_teams(lunch.ann, group, text, key)
        else:
            await other.ask(lunch.ann, group, Poll(text, ("Yes", "No")), key)

    await accept("from before", "expired")
    rig.clock.advance((LEASE + timedelta(minutes=1)).total_seconds())
    await accept("just now", "live")

    assert await rig.worker.recover() == 1

    taken = await delivered(rig.store, lunch.group.group_id, "expired")
    assert taken.claimed_by == rig.worker.instance_id
    live = await rig.store.get_message(lunch.group.group_id, "live")
    group = await rig.store.get_group(TENANT, lunch.group.group_id)
    assert group is not None
    if kind == "plain":
        assert live is None
        assert [(m.message_id, m.claimed_by) for m in group.unfiled] == [("live", "other-instance")]
    else:
        assert live is not None and live.pending and live.claimed_by == "other-instance"
        assert group.unfiled == ()
    assert {s.message_id for s in rig.teams.sent} == {"expired"}


async def test_at_start_an_instance_resumes_its_own_claims_at_once(rig: Rig, lunch: Lunch) -> None:
    before_restart = FakeQueue(instance=rig.worker.instance_id, lease=LEASE)
    relay = relay_over(rig.store, rig.clock, before_restart, 500)
    await relay.from_teams(lunch.ann, lunch.group, "from before", "mine")

    assert await rig.worker.recover(at_start=False) == 0
    assert await rig.worker.recover(at_start=True) == 1
    await delivered(rig.store, lunch.group.group_id, "mine")


async def test_recovered_messages_of_a_deleted_group_are_given_up(rig: Rig, lunch: Lunch) -> None:
    other = relay_over(rig.store, rig.clock, FakeQueue(instance="other-instance", lease=LEASE), 500)
    await rig.store.delete_group(lunch.group)  # deletes its messages too
    # Another instance read the group just before. A plain message is refused before
    # anything is written (its line in the group comes first)...
    with pytest.raises(Refused):
        await other.from_teams(lunch.ann, lunch.group, "too late", "plain")
    assert await rig.store.get_message(lunch.group.group_id, "plain") is None
    # ...a poll is stored first (its buttons point back to it), then refused.
    with pytest.raises(Refused):
        await other.ask(lunch.ann, lunch.group, Poll("Friday?", ("Yes", "No")), "orphan")
    rig.clock.advance((LEASE + timedelta(minutes=1)).total_seconds())

    assert await rig.worker.recover() == 0

    message = await rig.store.get_message(lunch.group.group_id, "orphan")
    assert message is not None and not message.pending
    assert {d.last_error for d in message.deliveries} == {"group deleted"}
    assert rig.teams.sent == []


async def test_a_recovery_loop_that_misses_three_passes_is_stalled(rig: Rig) -> None:
    """What makes this instance unready: its own loop stopped (a backlog does not)."""
    worker, clock = rig.worker, rig.clock
    assert not worker.stalled()  # no loop yet: starting
    passes = asyncio.create_task(worker.keep_recovering(30.0))
    await worker.recover()
    assert not worker.stalled()
    passes.cancel()  # the loop dies; time goes on
    await asyncio.gather(passes, return_exceptions=True)
    clock.advance(3 * 30 + 59)
    assert not worker.stalled()
    clock.advance(2)
    assert worker.stalled()
    await worker.recover()  # a pass again: fit to serve
    assert not worker.stalled()
