"""The calendar port's contract (bot/core/ports.py `Calendar`): what every implementation
does, the in-memory one of the core's tests and Graph's over the fake Graph alike.

A test module runs these by defining a `calendars` fixture (a `Calendars`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from bot.core.ports import Calendar, CalendarProblem, CalendarRefused, MeetingResponse

ANN, BOB, CY = "ann@contoso.com", "bob@contoso.com", "cy@contoso.com"
START = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
WINDOW = (START - timedelta(days=1), START + timedelta(days=13))


class Calendars(Protocol):
    """A calendar to test, and what a test does to its meetings as Outlook would."""

    calendar: Calendar

    def add_meeting(
        self, organizer: str, subject: str, start: datetime, attendees: list[tuple[str, str]]
    ) -> str: ...

    def cancel_meeting(self, ical_uid: str) -> None: ...

    def deny(self, mailbox: str) -> None:
        """Send may not touch that mailbox any more."""
        ...


async def test_upcoming_lists_each_persons_meetings_in_the_window_earliest_first(
    calendars: Calendars,
) -> None:
    later = calendars.add_meeting(ANN, "Later", START + timedelta(days=2), [(BOB, "Bob")])
    first = calendars.add_meeting(ANN, "First", START, [(BOB, "Bob"), (CY, "Cy")])
    calendars.add_meeting(ANN, "Far", START + timedelta(days=40), [(BOB, "Bob")])
    found = await calendars.calendar.upcoming(BOB, *WINDOW)
    assert [m.ical_uid for m in found] == [first, later]
    assert found[0].subject == "First" and found[0].start == START and found[0].organizer == ANN
    assert {a.address for a in found[0].attendees} >= {BOB, CY}
    assert [m.ical_uid for m in await calendars.calendar.upcoming(CY, *WINDOW)] == [first]
    assert [m.ical_uid for m in await calendars.calendar.upcoming(ANN, *WINDOW)] == [first, later]


async def test_a_meeting_is_found_only_in_the_calendars_it_is_in(calendars: Calendars) -> None:
    uid = calendars.add_meeting(ANN, "Planning", START, [(BOB, "Bob")])
    assert (await calendars.calendar.meeting(BOB, uid)) is not None
    assert (await calendars.calendar.meeting(CY, uid)) is None


async def test_an_answer_is_set_and_the_organizer_sees_it(calendars: Calendars) -> None:
    uid = calendars.add_meeting(ANN, "Planning", START, [(BOB, "Bob"), (CY, "Cy")])
    await calendars.calendar.respond(BOB, uid, MeetingResponse.TENTATIVE)
    await calendars.calendar.respond(BOB, uid, MeetingResponse.DECLINED)
    seen = await calendars.calendar.meeting(ANN, uid)
    assert seen is not None
    responses = {a.address: a.response for a in seen.attendees}
    assert responses[BOB] is MeetingResponse.DECLINED
    assert responses[CY] is MeetingResponse.NONE


async def test_the_organizer_answers_nothing_and_a_decline_leaves_the_calendar(
    calendars: Calendars,
) -> None:
    uid = calendars.add_meeting(ANN, "Planning", START, [(BOB, "Bob")])
    own = await calendars.calendar.meeting(ANN, uid)
    assert own is not None and own.is_organizer
    theirs = await calendars.calendar.meeting(BOB, uid)
    assert theirs is not None and not theirs.is_organizer
    await calendars.calendar.respond(ANN, uid, MeetingResponse.ACCEPTED)  # nothing to do
    await calendars.calendar.respond(BOB, uid, MeetingResponse.DECLINED)
    assert await calendars.calendar.meeting(BOB, uid) is None  # as Outlook's Decline
    with pytest.raises(CalendarRefused) as gone:
        await calendars.calendar.respond(BOB, uid, MeetingResponse.ACCEPTED)
    assert gone.value.problem is CalendarProblem.MISSING
    seen = await calendars.calendar.meeting(ANN, uid)
    assert seen is not None
    assert {a.address: a.response for a in seen.attendees}[BOB] is MeetingResponse.DECLINED


async def test_what_a_calendar_refuses(calendars: Calendars) -> None:
    uid = calendars.add_meeting(ANN, "Planning", START, [(BOB, "Bob")])
    with pytest.raises(CalendarRefused) as stranger:
        await calendars.calendar.respond(CY, uid, MeetingResponse.ACCEPTED)
    assert stranger.value.problem is CalendarProblem.MISSING
    calendars.cancel_meeting(uid)
    with pytest.raises(CalendarRefused) as cancelled:
        await calendars.calendar.respond(BOB, uid, MeetingResponse.ACCEPTED)
    assert cancelled.value.problem is CalendarProblem.CANCELLED
    calendars.deny(BOB)
    with pytest.raises(CalendarRefused) as denied:
        await calendars.calendar.upcoming(BOB, *WINDOW)
    assert denied.value.problem is CalendarProblem.DENIED
