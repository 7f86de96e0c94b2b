"""The receipt under each message in its sender's chat: one line, updated in place as
copies are delivered, seen and reacted to; coalesced; final after a day; `receipts off`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from bot.core.features.receipts import Receipts
from bot.core.model import Channel, Group, Message
from bot.core.sending.ratelimit import RateLimiter
from bot.core.texts import Language
from bot.core.turn.requests import MessageChange
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    Core,
    FakeTeamsApp,
    StoreSpy,
    build_core,
    display,
    email,
    personal,
    retry,
)
from tests.unit.fakes import FakeClock


async def lunch(core: Core, *, also: tuple[str, ...] = ()) -> None:
    """Ann's group lunch, with Bob and Cy (and `also`), all in Teams."""
    for name in ("bob", "cy", *also):
        core.teams.personal_chat(name)  # in Teams' roster: Send can reach them
        await core.say("help", who=name)
    members = ", ".join(email(n) for n in ("bob", "cy", *also))
    await core.say(f"new lunch: {members}")


async def send(core: Core, store: DocumentStore, text: str, key: str) -> Message:
    await core.say(text, key=key)
    await core.relayed()
    await settled(core)
    group = await core.group("ann", "lunch")
    (message,) = [m for m in await store.messages_of(group.group_id) if m.text == text]
    return message


async def settled(core: Core) -> None:
    """Every receipt update asked for so far has been made."""
    await core.built.receipts.settled()


def copy_of(message: Message, name: str) -> str:
    return next(
        d.activity_id
        for d in message.deliveries
        if d.channel is Channel.TEAMS and d.recipient_id == email(name)
    )


async def test_the_receipt_follows_delivery_seen_and_reactions_in_place(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await lunch(core)
    message = await send(core, store, "pizza friday?", "m-1")
    assert core.teams.receipt_of(email("ann")) == "Sent to lunch · delivered 2 of 2"
    await core.conversation.read(personal(who="bob"), copy_of(message, "bob"))
    await settled(core)
    assert core.teams.receipt_of(email("ann")) == "Sent to lunch · delivered 2 of 2 · seen by 1"
    await core.conversation.reacted(personal(who="cy"), copy_of(message, "cy"), ("like",), ())
    await settled(core)
    assert core.teams.receipt_of(email("ann")) == (
        f"Sent to lunch · delivered 2 of 2 · seen by 1 · 👍 {display('cy')}"
    )
    # One receipt, updated in place; nobody else gets one, and it never shows the words.
    assert {(who, activity) for who, activity, _ in core.teams.receipts} == {
        (email("ann"), "receipt-1")
    }
    assert not any("pizza" in shown for _, _, shown in core.teams.receipts)
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.receipt is not None
    assert stored.receipt.shown == core.teams.receipt_of(email("ann"))


async def test_a_copy_still_being_tried_shows_as_sending_then_delivered(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await lunch(core)
    core.teams.answer(email("bob"), retry(after=30))
    await core.say("pizza friday?", key="m-1")
    await core.relayed()
    await settled(core)
    shown = [text for _, _, text in core.teams.receipts]
    assert shown[0] == "Sending to lunch · delivered 1 of 2"
    assert shown[-1] == "Sent to lunch · delivered 2 of 2"


async def test_a_burst_of_reactions_is_a_few_receipt_updates_not_one_each(
    store: DocumentStore, clock: FakeClock
) -> None:
    others = tuple(f"p{n}" for n in range(8))
    core = build_core(store, clock)
    await lunch(core, also=others)
    message = await send(core, store, "pizza friday?", "m-1")
    before = len(core.teams.receipts)
    # Teams is slow to take the first update: the other reactions arrive meanwhile.
    core.teams.hold_updates = asyncio.Event()
    await asyncio.gather(
        *(
            core.conversation.reacted(personal(who=n), copy_of(message, n), ("like",), ())
            for n in ("bob", "cy", *others)
        )
    )
    core.teams.hold_updates.set()
    await settled(core)
    updates = len(core.teams.receipts) - before
    assert 1 <= updates <= 2  # the update under way, then one for the rest: not 10
    assert core.teams.receipt_of(email("ann")).endswith("· 👍 10")  # many: counted


async def test_edits_and_deletes_show_on_the_receipt(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await lunch(core)
    await send(core, store, "pizza friday?", "m-1")
    await core.conversation.changed(personal("pizza saturday?", key="m-1"), MessageChange.EDITED)
    await settled(core)
    assert core.teams.receipt_of(email("ann")) == "Sent to lunch · delivered 2 of 2 · edited"
    await core.conversation.changed(personal(key="m-1"), MessageChange.DELETED)
    await core.relayed()
    await settled(core)
    assert core.teams.receipt_of(email("ann")) == ("Deleted from lunch: taken back from every chat")


async def test_a_receipt_is_final_after_a_day(store: DocumentStore, clock: FakeClock) -> None:
    core = build_core(store, clock)
    await lunch(core)
    message = await send(core, store, "pizza friday?", "m-1")
    shown = list(core.teams.receipts)
    clock.advance(timedelta(hours=25).total_seconds())
    await core.conversation.read(personal(who="bob"), copy_of(message, "bob"))
    await settled(core)
    assert core.teams.receipts == shown


async def test_receipts_off_then_on(store: DocumentStore, clock: FakeClock) -> None:
    core = build_core(store, clock)
    await lunch(core)
    assert (await core.say("receipts off")).text.startswith("Receipts are off")
    await send(core, store, "pizza friday?", "m-1")
    assert core.teams.receipts == []
    assert (await core.say("accusés oui")).text.startswith("Receipts are on")
    await send(core, store, "pizza saturday?", "m-2")
    assert core.teams.receipt_of(email("ann")) == "Sent to lunch · delivered 2 of 2"
    # A sentence that starts with the word is a message, not the command.
    await core.say("receipts for the taxi are in the drawer", key="m-3")
    await core.relayed()
    assert "m-3" in await core.relayed_messages()


async def test_a_receipt_in_french(store: DocumentStore, clock: FakeClock) -> None:
    core = build_core(store, clock)
    await lunch(core)
    ann = await core.person("ann")
    await store.save_person(replace(ann, language=Language.FR))
    await send(core, store, "pizza vendredi ?", "m-1")
    assert core.teams.receipt_of(email("ann")) == "Envoyé à lunch · remis à 2 sur 2"


async def test_a_change_while_the_first_receipt_is_on_its_way_updates_it_not_a_second(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await lunch(core)
    core.teams.hold_receipts = asyncio.Event()  # Teams is slow to take the first receipt
    await core.say("pizza friday?", key="m-1")
    for _ in range(200):
        if core.teams.receipts:
            break
        await asyncio.sleep(0)
    # The sender edits it meanwhile (the copies' ids are not even stored yet).
    await core.conversation.changed(personal("pizza saturday?", key="m-1"), MessageChange.EDITED)
    core.teams.hold_receipts.set()
    await core.relayed()
    await settled(core)
    assert {activity for _, activity, _ in core.teams.receipts} == {"receipt-1"}  # one line
    assert core.teams.receipt_of(email("ann")).endswith("· edited")


async def test_a_receipt_shown_after_its_round_is_stored_in_one_write(clock: FakeClock) -> None:
    """In a burst the first receipt waits for spare room in the pace and is shown after its
    round was saved: its id is written over the version that round saved, in one write
    (not over the round's older snapshot, which the store refuses: a refused write and a
    read more for every message of a burst)."""
    store = DocumentStore(MemoryDocuments())
    spy = StoreSpy(store)
    core = build_core(spy, clock)
    await lunch(core, also=tuple(f"p{n}" for n in range(16)))  # over half the allowance
    before = spy.calls.copy()
    await core.say("pizza friday?", key="m-1")
    await core.relayed()
    await settled(core)
    group = await core.group("ann", "lunch")
    (message,) = await store.messages_of(group.group_id)
    assert message.receipt is not None and message.receipt.shown.startswith("Sent to lunch")
    assert core.teams.receipt_of(email("ann")) == message.receipt.shown
    writes = spy.calls["save_message"] - before["save_message"]
    reads = spy.calls["get_message"] - before["get_message"]
    assert (writes, reads, spy.refused) == (2, 0, 0)  # the round's, then the receipt's


async def test_a_receipt_waiting_for_room_does_not_hold_a_stop_up(
    store: DocumentStore, clock: FakeClock
) -> None:
    """A receipt update waiting for the copies queued before it is let go when the app
    stops: it tries once as things are, and the stop does not wait out its grace."""
    never = asyncio.Event()

    async def held(delay: float) -> None:
        await never.wait()  # the pace never lets the second copy go: the queue stays full

    limiter = RateLimiter(1, clock=clock.monotonic, sleep=held)
    receipts = Receipts(store, FakeTeamsApp(clock), limiter, clock, pause=3.0)
    copies = [asyncio.create_task(limiter.wait("t1", f"chat-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    group = Group("t1", "g1", "lunch", email("ann"), (), clock.now())
    receipts.changed(group, "m-1")  # its update waits for those copies to have gone
    await asyncio.sleep(0)
    assert not await_nothing(receipts)
    await asyncio.wait_for(receipts.drain(grace=3600), 60)  # a hang guard, not a timing
    assert await_nothing(receipts)
    await limiter.close()
    await asyncio.gather(*copies, return_exceptions=True)


def await_nothing(receipts: Receipts) -> bool:
    """Whether no receipt update is under way or waiting."""
    return not receipts._updates.busy("m-1")
