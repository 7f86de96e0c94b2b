"""Meetings: `meeting [<words>]` makes a group of a meeting's people, with an RSVP poll
whose answers are each person's response in their Outlook calendar.

- `offer`: the sender's next meetings (organizer or attendee, the next 14 days, at most
  5) as buttons; with words, the next one whose subject has them, picked at once.
- `pick`: the meeting as the sender's own calendar has it (a meeting they are not in is
  never shown); its people from the organisation become a group named after it, owned
  by the sender and linked to it; people from outside and rooms are left out and named.
  The group's RSVP ("Coming to …?" Yes / Maybe / No) starts from each person's Outlook
  response. Picking it again offers the group made before (and posts its RSVP if a
  failure left it unposted: its message id is fixed by the group and the meeting).
- `respond`: a tap on the RSVP (Teams card or Outlook) is first set in that person's
  calendar; only then is it counted (a refusal changes nothing and says why).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.errors import NotACommand, Refused
from bot.core.membership.group_rules import name_skeleton
from bot.core.membership.groups import Groups
from bot.core.membership.people import People
from bot.core.model import MAX_GROUP_NAME, MAX_MEMBERS, Group, MeetingLink, Person, Poll
from bot.core.ports import (
    Calendar,
    CalendarProblem,
    CalendarRefused,
    Clock,
    Directory,
    DirectoryUnavailable,
    Meeting,
    MeetingResponse,
    MessagingStore,
)
from bot.core.sending.relay import Relay
from bot.core.sending.retry import update_group
from bot.core.texts import say, when_dated
from bot.core.texts import text as worded
from bot.core.turn.requests import MeetingChoice

log = logging.getLogger("send.meetings")
T = TypeVar("T")

LOOK_AHEAD = timedelta(days=14)
SHOWN = 5
# How long a tap in Send wins over what the organizer's copy of the meeting says.
TAP_KEPT = timedelta(minutes=10)
# The RSVP's answers, in this order, and the calendar response each one sets.
RSVP_RESPONSES = (MeetingResponse.ACCEPTED, MeetingResponse.TENTATIVE, MeetingResponse.DECLINED)
_OPTION_OF = {
    MeetingResponse.ACCEPTED: 0,
    MeetingResponse.ORGANIZER: 0,
    MeetingResponse.TENTATIVE: 1,
    MeetingResponse.DECLINED: 2,
}


@dataclass(frozen=True)
class MeetingOffer:
    """What `offer` answers: a line, and the meetings to pick from (none: just the line)."""

    text: str
    choices: tuple[MeetingChoice, ...] = ()


class Meetings:
    def __init__(
        self,
        calendar: Calendar,
        directory: Directory,
        store: MessagingStore,
        people: People,
        groups: Groups,
        relay: Relay,
        clock: Clock,
    ) -> None:
        self._calendar = calendar
        self._directory = directory
        self._store = store
        self._people = people
        self._groups = groups
        self._relay = relay
        self._clock = clock
        # One pick of a meeting by a person at a time: a double tap makes one group.
        self._picking: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # (iCalUId, person id) -> when they last answered from Send: Exchange updates the
        # organizer's copy a little later, and the watch must not take the old answer back.
        self.recent_taps: dict[tuple[str, str], datetime] = {}

    async def offer(self, person: Person, words: str) -> MeetingOffer:
        lang = person.language
        try:
            self._check_available(person)
        except Refused as refusal:
            if words.strip():  # "meeting moved to 3pm" is a sentence: offered as a message
                raise NotACommand(refusal.reason, worded("sentence.no_calendar")) from None
            raise
        now = self._clock.now()
        found = await self._read(self._calendar.upcoming(person.email, now, now + LOOK_AHEAD))
        # The person's own calendar: every meeting in it is one they organize or are
        # invited to (whichever address of theirs the invitation used).
        upcoming = [m for m in found if not m.cancelled and m.start >= now]
        wanted = " ".join(words.split()).casefold()
        if wanted:
            named = next((m for m in upcoming if wanted in m.subject.casefold()), None)
            if named is None:
                raise NotACommand(
                    worded("meeting.none_named", words=words.strip()),
                    worded("sentence.no_meeting", words=words.strip()),
                )
            return MeetingOffer(await self.pick(person, named.ical_uid, named.start))
        if not upcoming:
            return MeetingOffer(say(lang, "meeting.none"))
        choices = tuple(
            MeetingChoice(m.ical_uid, m.start, self._label(person, m)) for m in upcoming[:SHOWN]
        )
        return MeetingOffer(say(lang, "meeting.pick"), choices)

    async def pick(self, person: Person, ical_uid: str, start: datetime | None = None) -> str:
        """Makes (or offers again) the group of a meeting (the occurrence at `start`, for a
        recurring one); the line that says what it did."""
        key = (person.person_id, ical_uid)
        lock = self._picking.get(key)
        if lock is None:
            lock = self._picking[key] = asyncio.Lock()
        async with lock:
            return await self._pick(person, ical_uid, start)

    async def _pick(self, person: Person, ical_uid: str, start: datetime | None) -> str:
        lang = person.language
        self._check_available(person)
        meeting = await self._read(self._calendar.meeting(person.email, ical_uid, start))
        if meeting is None:
            raise Refused(worded("meeting.not_yours"))
        if meeting.cancelled:
            raise Refused(worded("meeting.cancelled", subject=meeting.subject))
        made = next(
            (g for g in await self._groups.of(person) if _linked(g, meeting.ical_uid)), None
        )
        if made is not None:
            await self._post_rsvp(person, made, await self._tally_copy(meeting))
            return say(lang, "meeting.exists", group=made.name)
        inside, outside, rooms = await self._attendees(person, meeting)
        name = await self._free_name(inside, meeting.subject or say(lang, "meeting.untitled"))
        link = MeetingLink(meeting.ical_uid, meeting.subject, meeting.start, meeting.organizer)
        created = await self._groups.create_with(person, name, inside, activate=False, meeting=link)
        group = created.group
        await self._post_rsvp(person, group, await self._tally_copy(meeting))
        others = [p.display_name for p in inside if p.person_id != person.person_id]
        when = when_dated(lang, meeting.start, person.time_zone)
        line = (
            say(lang, "meeting.made", group=group.name, count=len(others), when=when)
            if others
            else say(lang, "meeting.made_alone", group=group.name, when=when)
        )
        left = [*outside]
        if rooms:
            left.append(say(lang, "meeting.rooms", count=rooms))
        if left:
            line += "\n" + say(lang, "meeting.left_out", who=", ".join(left))
        return line

    async def respond(self, person: Person, group: Group, poll: Poll, option: int) -> None:
        """Sets a tap on a meeting's RSVP in the person's calendar, before it is counted."""
        if not poll.meeting or not 0 <= option < len(RSVP_RESPONSES):
            return
        now = self._clock.now()
        if len(self.recent_taps) > 10_000:  # in place: the watch holds this mapping
            for old in [k for k, at in self.recent_taps.items() if now - at >= TAP_KEPT]:
                del self.recent_taps[old]
        self.recent_taps[(poll.meeting, person.person_id)] = now
        if not self._calendar.available:
            raise Refused(worded("meeting.no_graph"))
        organizer = group.meeting.organizer if group.meeting is not None else ""
        if organizer and organizer in {a.lower() for a in (person.email, *person.addresses)}:
            return  # an organizer has no response to give: the card alone shows theirs
        around = group.meeting.start if group.meeting is not None else None
        try:
            await self._calendar.respond(person.email, poll.meeting, RSVP_RESPONSES[option], around)
        except CalendarRefused as refusal:
            declined = poll.answer_of(person.person_id) == RSVP_RESPONSES.index(
                MeetingResponse.DECLINED
            )
            if refusal.problem is CalendarProblem.MISSING and declined:
                # Outlook's Decline took it out of their calendar: nothing to answer now.
                subject = group.meeting.subject if group.meeting else ""
                raise Refused(worded("meeting.declined_gone", subject=subject)) from None
            raise _refused(refusal) from None

    def _check_available(self, person: Person) -> None:
        if not self._calendar.available or not self._directory.covers(person.tenant_id):
            raise Refused(worded("meeting.no_graph"))
        if not person.email:
            raise Refused(worded("meeting.no_mailbox"))

    async def _read(self, reading: Awaitable[T]) -> T:
        try:
            return await reading
        except CalendarRefused as refusal:
            raise _refused(refusal) from None

    async def _attendees(
        self, person: Person, meeting: Meeting
    ) -> tuple[list[Person], list[str], int]:
        """The meeting's people from the organisation (the sender first), the names of
        those from outside, and how many rooms were left out."""
        rooms = sum(1 for a in meeting.attendees if a.resource)
        addresses = [meeting.organizer, *(a.address for a in meeting.attendees if not a.resource)]
        if len(set(addresses)) > 3 * MAX_MEMBERS:
            # Far more than a group holds: refused before anyone is looked up.
            count = len(set(addresses))
            raise Refused(worded("meeting.too_many_people", count=count, most=MAX_MEMBERS))
        names = {a.address: a.name for a in meeting.attendees}
        names[meeting.organizer] = meeting.organizer_name
        mine = {a.lower() for a in (person.email, *person.addresses)}
        inside: dict[str, Person] = {person.person_id: person}
        outside: list[str] = []
        for address in dict.fromkeys(a for a in addresses if a and a not in mine):
            try:
                found = await self._people.in_org(person.tenant_id, address)
            except DirectoryUnavailable:
                # Not "outside": unknown now. No group rather than one short of people.
                raise Refused(worded("meeting.directory_down")) from None
            if found is None:
                outside.append(names.get(address) or address)
            else:
                inside.setdefault(found.person_id, found)
        if len(inside) > MAX_MEMBERS:
            raise Refused(worded("meeting.too_many", count=len(inside), most=MAX_MEMBERS))
        return list(inside.values()), outside, rooms

    async def _free_name(self, people: Sequence[Person], subject: str) -> str:
        """The meeting's subject as a group name, unique among the groups of everyone in
        the new group (no two groups of one person may share a name)."""
        base = " ".join(subject.replace(":", " -").split())[:MAX_GROUP_NAME].strip() or "-"
        taken: set[str] = set()
        for person in people:
            if person.version is not None:  # stored: they may have groups
                taken |= {name_skeleton(g.name) for g in await self._groups.of(person)}
        name, n = base, 1
        while name_skeleton(name) in taken:
            n += 1
            suffix = f" ({n})"
            name = base[: MAX_GROUP_NAME - len(suffix)].rstrip() + suffix
        return name

    async def _post_rsvp(self, person: Person, group: Group, meeting: Meeting) -> None:
        """The group's RSVP, once: its id is fixed by the group and the meeting."""
        lang = person.language
        question = say(
            lang,
            "meeting.rsvp",
            subject=meeting.subject or say(lang, "meeting.untitled"),
            when=when_dated(lang, meeting.start, person.time_zone),
        )
        options = tuple(say(lang, f"meeting.answer.{r.value}") for r in RSVP_RESPONSES)
        votes = _votes(group, meeting, await self._members(group))
        poll = Poll(question, options, votes, meeting.ical_uid)
        key = f"rsvp|{group.group_id}|{meeting.ical_uid}"
        rsvp_id = hashlib.sha256(key.encode()).hexdigest()[:32]
        await self._relay.ask(person, group, poll, rsvp_id)

        def linked(current: Group) -> Group:
            if current.meeting is None or current.meeting.rsvp_id == rsvp_id:
                return current
            return replace(current, meeting=replace(current.meeting, rsvp_id=rsvp_id))

        await update_group(self._store, group, linked)

    async def _tally_copy(self, meeting: Meeting) -> Meeting:
        """The organizer's copy of the meeting, which holds everyone's response (an
        attendee's copy holds only their own); the one given when it cannot be read."""
        try:
            theirs = await self._calendar.meeting(meeting.organizer, meeting.ical_uid)
        except CalendarRefused:
            return meeting  # an organizer from outside, or a mailbox Send may not read
        return theirs or meeting

    async def _members(self, group: Group) -> list[Person]:
        return await self._store.get_people(group.tenant_id, list(group.member_ids))

    def _label(self, person: Person, meeting: Meeting) -> str:
        lang = person.language
        people = 1 + sum(1 for a in meeting.attendees if not a.resource)
        return say(
            lang,
            "meeting.choice",
            when=when_dated(lang, meeting.start, person.time_zone),
            subject=meeting.subject or say(lang, "meeting.untitled"),
            count=people,
        )


def option_of(response: MeetingResponse | None) -> int | None:
    """The RSVP answer an Outlook response is (None: no answer yet)."""
    return _OPTION_OF.get(response) if response is not None else None


def _linked(group: Group, ical_uid: str) -> bool:
    return group.meeting is not None and group.meeting.ical_uid == ical_uid


def _votes(
    group: Group, meeting: Meeting, members: Sequence[Person]
) -> tuple[tuple[str, int], ...]:
    """Each member's answer as their Outlook response has it (none: no answer yet)."""
    responses = {a.address: a.response for a in meeting.attendees}
    responses[meeting.organizer] = MeetingResponse.ORGANIZER
    votes = []
    for member in members:
        if not group.has_member(member.person_id):
            continue
        addresses = [member.email.lower(), *(a.lower() for a in member.addresses)]
        option = option_of(next((responses[a] for a in addresses if a in responses), None))
        if option is not None:
            votes.append((member.person_id, option))
    return tuple(votes)


_SAID = {
    CalendarProblem.PASSING: "meeting.unavailable",
    CalendarProblem.DENIED: "meeting.refused",
    CalendarProblem.MISSING: "meeting.not_yours",
    CalendarProblem.CANCELLED: "meeting.is_cancelled",
    CalendarProblem.REFUSED: "meeting.calendar_refused",
}


def _refused(refusal: CalendarRefused) -> Refused:
    return Refused(worded(_SAID[refusal.problem], reason=refusal.detail))
