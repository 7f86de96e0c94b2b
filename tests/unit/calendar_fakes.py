"""An in-memory `Calendar` (the port of bot/core/ports.py) for the core's fast tests: each
person's answer to each meeting, refused as Exchange refuses (tests/contracts/calendar_contract.py
holds it to the same rules as the Graph adapter over the fake Graph)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.ports import (
    Attendee,
    CalendarProblem,
    CalendarRefused,
    Meeting,
    MeetingResponse,
)


class MemoryCalendar:
    available = True

    def __init__(self) -> None:
        self.meetings: dict[str, Meeting] = {}  # by iCalUId, with everyone's response
        self.denied: set[str] = set()  # mailboxes Send may not touch
        self.responses: list[tuple[str, str, MeetingResponse]] = []
        # (mailbox, iCalUId) of meetings taken out of a calendar (declined, as in Outlook)
        self.removed: set[tuple[str, str]] = set()

    def add_meeting(
        self,
        organizer: str,
        subject: str,
        start: datetime,
        attendees: list[tuple[str, str]],
        *,
        rooms: list[tuple[str, str]] | None = None,
    ) -> str:
        ical_uid = uuid.uuid4().hex
        people = [Attendee(a.lower(), n) for a, n in attendees]
        people += [
            Attendee(a.lower(), n, resource=True, response=MeetingResponse.ACCEPTED)
            for a, n in rooms or []
        ]
        self.meetings[ical_uid] = Meeting(
            ical_uid,
            subject,
            start,
            start + timedelta(minutes=30),
            organizer.lower(),
            organizer,
            tuple(people),
        )
        return ical_uid

    def answer_in_outlook(self, address: str, ical_uid: str, response: str) -> None:
        self._set(address.lower(), ical_uid, MeetingResponse(response))

    def move_meeting(self, ical_uid: str, start: datetime) -> None:
        found = self.meetings[ical_uid]
        self.meetings[ical_uid] = replace(found, start=start, end=start + (found.end - found.start))

    def cancel_meeting(self, ical_uid: str) -> None:
        self.meetings[ical_uid] = replace(self.meetings[ical_uid], cancelled=True)

    def response_of(self, address: str, ical_uid: str) -> MeetingResponse:
        found = self.meetings[ical_uid]
        if address.lower() == found.organizer:
            return MeetingResponse.ORGANIZER
        return next(a.response for a in found.attendees if a.address == address.lower())

    def _check(self, mailbox: str) -> str:
        if mailbox.lower() in self.denied:
            raise CalendarRefused(CalendarProblem.DENIED, "no permission")
        return mailbox.lower()

    def _in(self, mailbox: str, meeting: Meeting) -> bool:
        if (mailbox, meeting.ical_uid) in self.removed:
            return False
        return mailbox == meeting.organizer or any(
            a.address == mailbox and not a.resource for a in meeting.attendees
        )

    async def upcoming(self, mailbox: str, start: datetime, end: datetime) -> list[Meeting]:
        box = self._check(mailbox)
        found = [
            m
            for m in self.meetings.values()
            if self._in(box, m) and m.start < end and m.end > start
        ]
        return sorted([self._as_seen(box, m) for m in found], key=lambda m: m.start)

    async def meeting(
        self, mailbox: str, ical_uid: str, around: datetime | None = None
    ) -> Meeting | None:
        box = self._check(mailbox)
        found = self.meetings.get(ical_uid)
        return self._as_seen(box, found) if found is not None and self._in(box, found) else None

    async def respond(
        self,
        mailbox: str,
        ical_uid: str,
        response: MeetingResponse,
        around: datetime | None = None,
    ) -> None:
        box = self._check(mailbox)
        found = self.meetings.get(ical_uid)
        if found is None or not self._in(box, found):
            raise CalendarRefused(CalendarProblem.MISSING, "not in the calendar")
        if box == found.organizer:
            return  # an organizer has no answer to give
        if found.cancelled:
            raise CalendarRefused(CalendarProblem.CANCELLED, "cancelled")
        self._set(box, ical_uid, response)
        self.responses.append((box, ical_uid, response))
        if response is MeetingResponse.DECLINED:
            self.removed.add((box, ical_uid))  # as Outlook's Decline

    @staticmethod
    def _as_seen(mailbox: str, meeting: Meeting) -> Meeting:
        return replace(meeting, is_organizer=mailbox == meeting.organizer)

    def _set(self, address: str, ical_uid: str, response: MeetingResponse) -> None:
        found = self.meetings[ical_uid]
        attendees = tuple(
            replace(a, response=response) if a.address == address else a for a in found.attendees
        )
        self.meetings[ical_uid] = replace(found, attendees=attendees)
