"""Edits, deletes and undo in the core: stored first, copies changed or taken back by the
delivery worker (retried, and resumed by another instance after a crash)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.features.message_life import DELETED, restored, retracted
from bot.core.features.polls import relayed
from bot.core.model import Channel, Delivery, DeliveryState, Message, Source
from bot.core.texts import Language
from bot.core.turn.requests import ActionKind, CardAction, MessageChange
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import TENANT, Core, build_core, email, personal
from tests.unit.fakes import FakeClock


async def lunch_message(core: Core, store: DocumentStore, text: str = "lunch at 12:30?") -> Message:
    """Ann's message to lunch (Bob and Cy, in Teams), delivered."""
    core.teams.personal_chat("bob")
    await core.say("help", who="bob")
    await core.say("help", who="cy")
    await core.say(f"new lunch: {email('bob')}, {email('cy')}")
    await core.say(text, key="m-1")
    await core.relayed()
    lunch = await core.group("ann", "lunch")
    (message,) = [m for m in await store.messages_of(lunch.group_id) if m.text == text]
    return message


async def change(core: Core, kind: MessageChange, text: str = "") -> str:
    return (await core.conversation.changed(personal(text, key="m-1"), kind)).text


async def test_an_edit_is_stored_marked_and_shown_on_every_copy(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    message = await lunch_message(core, store)
    assert await change(core, MessageChange.EDITED, "lunch at 13:00?") == ""
    await core.built.poll_cards.drain(5)
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.text == "lunch at 13:00?" and stored.edited_at
    updated = {(who, copy.text, copy.edited) for who, _, copy in core.teams.updated}
    assert updated == {
        (email("bob"), "lunch at 13:00?", True),
        (email("cy"), "lunch at 13:00?", True),
    }
    lunch = await core.group("ann", "lunch")
    assert [(s.text, s.edited) for s in lunch.recent if s.message_id == message.message_id] == [
        ("lunch at 13:00?", True)
    ]


async def test_someone_elses_message_cannot_be_changed(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    message = await lunch_message(core, store)
    request = personal("bob's version", who="bob", key="m-1")
    await core.conversation.changed(request, MessageChange.EDITED)  # another chat's id
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.text == "lunch at 12:30?" and stored.edited_at is None


async def test_a_delete_interrupted_by_a_crash_is_finished_by_the_next_instance(
    store: DocumentStore, clock: FakeClock
) -> None:
    first = build_core(store, clock)
    message = await lunch_message(first, store)
    first.teams.down_until(clock.now() + timedelta(hours=1))  # Teams does not answer now
    assert await change(first, MessageChange.DELETED) == ""
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.deleted_at is not None and stored.text == ""
    assert stored.pending and all(
        d.retract for d in stored.deliveries if d.channel is Channel.TEAMS
    )
    await first.built.worker.drain(0)  # the instance dies with the copies still out there

    clock.advance(3600 + 600)  # Teams is back; the claim has expired
    second = build_core(store, clock)
    assert await second.built.worker.recover() >= 1  # the delete (and its thread line)
    await second.relayed()
    gone = {who for who, _ in second.teams.deleted}
    assert gone == {email("bob"), email("cy")}
    done = await store.get_message(message.group_id, message.message_id)
    assert done is not None and not done.pending


def test_a_delete_takes_back_what_was_sent_and_cancels_the_rest() -> None:

    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    sent = Delivery("bob", Channel.TEAMS, DeliveryState.SENT, activity_id="act-1")
    waiting = Delivery("cy", Channel.TEAMS)
    mail = Delivery("outlook-thread", Channel.OUTLOOK, addresses=("dan@x.com",))
    message = Message(
        TENANT, "g", "m", "ann", "Ann", "secret", now, Source.TEAMS, (sent, waiting, mail)
    )
    gone = retracted(message, now)
    assert (gone.text, gone.media, gone.deleted_at) == ("", (), now)
    bob, cy, thread = gone.deliveries
    assert (bob.state, bob.retract, bob.activity_id) == (DeliveryState.PENDING, True, "act-1")
    assert (cy.state, cy.last_error) == (DeliveryState.FAILED, DELETED)
    assert (thread.state, thread.last_error) == (DeliveryState.FAILED, DELETED)
    assert retracted(gone, now + timedelta(hours=1)) == gone  # again: the same
    back = restored(
        replace(gone, deliveries=(replace(bob, state=DeliveryState.SENT), cy, thread)), "secret"
    )
    assert back.text == "secret" and back.deleted_at is None
    assert all(d.state is DeliveryState.PENDING and not d.retract for d in back.deliveries)


# one-tap answers


async def test_words_in_the_reply_box_go_with_a_one_tap_answer_and_the_card_keeps_its_photo(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await core.say("help", who="bob")
    await core.say(f"new lunch: {email('bob')}")
    await core.say_with_photo("the menu", key="p3")
    await core.relayed()
    lunch = await core.group("ann", "lunch")
    (message,) = [m for m in await store.messages_of(lunch.group_id) if m.media]
    tap = CardAction(
        ActionKind.ANSWER,
        lunch.group_id,
        "Yes",
        card_id="card-9",
        message_id=message.message_id,
        typed="I'll bring the menu",
    )
    answer = await core.conversation.handle(personal(action=tap, who="bob", key="tap-1"))
    assert answer.answered is not None
    assert answer.answered.reply == "Yes: I'll bring the menu"
    assert len(answer.answered.message.media) == 1  # the answered card keeps its picture
    await core.relayed()
    (mail,) = core.outlook.mails[-1:]
    assert mail.recent[-1].text == "Yes: I'll bring the menu (↩ Ann: the menu)"


async def test_an_answer_on_a_card_quotes_what_it_answers_everywhere(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    message = await lunch_message(core, store, "Friday 12:30, are you in?")
    tap = CardAction(
        ActionKind.ANSWER,
        message.group_id,
        "On my way",
        card_id="card-2",
        message_id=message.message_id,
    )
    await core.conversation.handle(personal(action=tap, who="bob", key="tap-2"))
    await core.relayed()
    to_ann = [s for s in core.teams.sent if s.person_id == email("ann")]
    assert to_ann and to_ann[-1].text == "On my way"
    answer = next(m for m in await store.messages_of(message.group_id) if m.text == "On my way")
    assert answer.reply_to is not None
    assert answer.reply_to.line() == "↩ Ann: Friday 12:30, are you in?"
    shown = relayed(answer, await core.group("ann", "lunch"), language=Language.EN)
    assert shown.quote == "↩ Ann: Friday 12:30, are you in?"
    history = await core.say("history", who="bob")
    assert "On my way (↩ Ann: Friday 12:30, are you in?)" in history.text
    assert core.outlook.mails[-1].recent[-1].text == "On my way (↩ Ann: Friday 12:30, are you in?)"


def test_undo_before_a_copy_was_taken_back_keeps_that_copy_and_sends_no_second() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    sent = Delivery("bob", Channel.TEAMS, DeliveryState.SENT, activity_id="act-1")
    message = Message(TENANT, "g", "m", "ann", "Ann", "hi", now, Source.TEAMS, (sent,))
    (pending_retraction,) = retracted(message, now).deliveries
    assert pending_retraction.retract and pending_retraction.state is DeliveryState.PENDING
    (kept,) = restored(retracted(message, now), "hi").deliveries
    assert (kept.state, kept.retract, kept.activity_id) == (DeliveryState.SENT, False, "act-1")


async def test_undo_while_a_copy_is_being_taken_back_sends_it_again(
    store: DocumentStore, clock: FakeClock
) -> None:
    """The undo arrives while the worker's DELETE of Bob's copy is on its way: the undo
    keeps the copy as "still there", but the DELETE then takes it away; the copy goes
    out again, so Bob has the message back (once)."""
    core = build_core(store, clock)
    message = await lunch_message(core, store)
    core.teams.hold_deletes = asyncio.Event()
    await change(core, MessageChange.DELETED)
    for _ in range(50):  # the worker's round reaches Teams and waits there
        if core.teams.deleted:
            break
        await asyncio.sleep(0)
    assert core.teams.deleted
    await change(core, MessageChange.UNDELETED, "lunch at 12:30?")
    core.teams.hold_deletes.set()
    await core.relayed()
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.deleted_at is None
    taken = {person for person, _ in core.teams.deleted}
    assert taken  # the race this test is about: a copy was taken back during the undo
    for person in (d.recipient_id for d in stored.deliveries if d.channel is Channel.TEAMS):
        copies = core.teams.sent_to(person)
        assert len(copies) == (2 if person in taken else 1), person  # back if taken
        (delivery,) = [d for d in stored.deliveries if d.recipient_id == person]
        assert delivery.state is DeliveryState.SENT and not delivery.retract
        gone = {a for p, a in core.teams.deleted if p == person}
        assert delivery.activity_id and delivery.activity_id not in gone  # the copy there now


async def test_an_edit_after_a_delete_brings_nothing_back(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    message = await lunch_message(core, store)
    await change(core, MessageChange.DELETED)
    assert await change(core, MessageChange.EDITED, "back from the dead") == ""
    stored = await store.get_message(message.group_id, message.message_id)
    assert stored is not None and stored.deleted_at is not None and stored.text == ""
