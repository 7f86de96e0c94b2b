"""Meetings in the core, over the in-memory calendar (tests/unit/calendar_fakes.py): what
`meeting` says without a calendar, and a reminder that goes once across a restart."""

from __future__ import annotations

from datetime import timedelta

from bot.core.turn.requests import MeetingPicker, SendAsMessage
from bot.store.repository import DocumentStore
from tests.unit.calendar_fakes import MemoryCalendar
from tests.unit.core_fakes import add_group, add_person, build_core, email, stop_cores
from tests.unit.fakes import FakeClock
from tests.unit.test_policy import OneTenantDirectory as Directory

REMINDER = "waits for your answer"


async def test_without_a_calendar_meeting_says_what_is_missing_and_words_stay_a_message(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    await add_group(store, clock, "lunch", ann, bob)
    answer = await core.say("meeting")
    assert answer.text.startswith("Meetings need Send's connection to Microsoft Graph")
    assert answer.buttons is None
    typed = await core.say("meeting moved to 3pm", key="k2")
    assert isinstance(typed.buttons, SendAsMessage) and typed.buttons.text == "meeting moved to 3pm"
    assert "Send cannot read calendars here" in typed.text
    assert await core.relayed() == []


async def test_a_reminder_goes_once_across_a_restart(
    store: DocumentStore, clock: FakeClock
) -> None:
    calendar = MemoryCalendar()
    directory = Directory({email("ann"), email("bob"), email("cy")})
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    uid = calendar.add_meeting(
        email("ann"), "Standup", clock.now() + timedelta(hours=29), [(email("bob"), "Bob")]
    )
    first = build_core(store, clock, calendar=calendar, directory=directory)
    listed = await first.say("meeting")
    assert isinstance(listed.buttons, MeetingPicker)
    assert listed.buttons.choices[0].label.endswith("Standup · 2 people")
    made = await first.built.meetings.pick(ann, uid)
    assert made.startswith("Standup is made with the other person of the meeting on "), made
    await first.relayed()  # the RSVP's copies are out
    clock.advance(7 * 3600)  # the RSVP has waited; the meeting is in 22 hours
    # Teams is down when the reminder is stored: its copy waits, pending.
    first.teams.down_until(clock.now() + timedelta(minutes=30))
    await first.built.meeting_watch.watch()
    pending = [m for m in await store.pending_messages() if REMINDER in m.text]
    assert len(pending) == 1
    await stop_cores()  # the instance stops (its claims let go) before the copy went
    clock.advance(3600)
    restart = clock.now()
    second = build_core(store, clock, calendar=calendar, directory=directory)
    await second.built.worker.recover()
    for _ in range(2):  # its own passes ask for today's reminder again
        await second.built.meeting_watch.watch()
    await second.relayed()
    # Whatever the first instance tried went while Teams was down; the second delivers it
    # once, to Bob only (Ann organizes).
    tried = [s for s in first.teams.sent if REMINDER in s.text]
    assert all(s.at < restart for s in tried)
    assert [s.person_id for s in second.teams.sent if REMINDER in s.text] == [bob.person_id]
