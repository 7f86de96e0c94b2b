"""Keeping a meeting's group in step with Outlook, and reminding those who have not answered.

Every few minutes (`keep_watching`), for each group linked to a meeting that has not
ended, the organizer's copy of the meeting is read (it holds everyone's response):
- a response changed in Outlook (or Teams' calendar) becomes that member's answer on the
  RSVP, and every card is updated in place;
- a moved meeting: the group is told once per new time, and the link keeps the new time;
- a cancelled (or deleted) one: the group is told once, and it is watched no more;
- the day before it (`MEETING_REMINDERS`), one reminder to the members who have not
  answered.
A reminder (`nudge` or the automatic one) is a message from Send to those members only,
stored and delivered like any message: its id is fixed by the group, the meeting and the
day, so it is sent once a day at most whatever instance or restart asks for it again.
Several instances each make the pass: what they change is idempotent (etag retries).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.errors import Refused
from bot.core.features.meetings import LOOK_AHEAD, TAP_KEPT, option_of
from bot.core.features.polls import PollCards
from bot.core.membership.reach import TeamsChats
from bot.core.model import Group, Message, Person
from bot.core.ports import (
    Calendar,
    CalendarProblem,
    CalendarRefused,
    Clock,
    MarkerStore,
    Meeting,
    MessagingStore,
)
from bot.core.sending.relay import Relay
from bot.core.sending.retry import read_modify_write, update_group
from bot.core.texts import say, when_dated
from bot.core.texts import text as worded

log = logging.getLogger("send.meetings")

WATCH_SECONDS = 120.0
REMIND_BEFORE = timedelta(days=1)
# No automatic reminder for an RSVP younger than this, nor within this of another reminder.
REMINDER_AFTER_ASKING = timedelta(hours=6)
REMINDED_LATELY = timedelta(hours=20)
# A meeting is watched until this long after it started.
WATCHED_AFTER_START = timedelta(hours=2)


class WatchStore(MessagingStore, MarkerStore, Protocol):
    """The groups and messages a watch reads and changes, and the markers that make each
    notice go once."""


class MeetingWatch:
    def __init__(
        self,
        calendar: Calendar,
        taps: Mapping[tuple[str, str], datetime],
        store: WatchStore,
        relay: Relay,
        cards: PollCards,
        chats: TeamsChats,
        clock: Clock,
        *,
        reminders: bool,
    ) -> None:
        self._calendar = calendar
        self._taps = taps
        self._store = store
        self._relay = relay
        self._cards = cards
        self._chats = chats
        self._clock = clock
        self._reminders = reminders

    async def keep_watching(self, every: float = WATCH_SECONDS) -> None:
        if not self._calendar.available:
            return
        while True:
            await asyncio.sleep(every)
            try:
                await self.watch()
            except Exception:
                log.exception("meetings watch failed")

    async def watch(self) -> None:
        """One pass over the groups whose meeting has not ended."""
        now = self._clock.now()
        found = await self._store.groups_with_meetings(now + LOOK_AHEAD)
        for group in found:
            link = group.meeting
            if link is None:
                continue
            if link.start + WATCHED_AFTER_START < now:
                await self._ended(group)
                continue
            try:
                await self._check(group, now)
            except CalendarRefused as refusal:
                log.warning(
                    "meeting not checked",
                    extra={"group_id": group.group_id, "detail": refusal.detail},
                )

    async def nudge(self, owner: Person, group: Group) -> str:
        """`nudge <group>`: one reminder today to the members who have not answered the
        group's RSVP (or its latest poll); what happened, in one line."""
        lang = owner.language
        poll = await self._poll_of(group)
        if poll is None:
            raise Refused(worded("nudge.nothing", group=group.name))
        waiting = await self._waiting(group, poll)
        if not waiting:
            return worded("nudge.all_answered", group=group.name).say(lang)
        now = self._clock.now()
        if await self._reminded_since(group, poll, now - REMINDED_LATELY):
            return worded("nudge.already", group=group.name).say(lang)
        if not await self._remind(group, poll, waiting, _nudge_key(group, poll, now)):
            return worded("nudge.nobody", group=group.name).say(lang)
        names = ", ".join(p.display_name for p in waiting)
        return worded("nudge.sent", count=len(waiting), who=names).say(lang)

    async def _check(self, group: Group, now: datetime) -> None:
        link = group.meeting
        assert link is not None
        tally = True  # the organizer's copy holds everyone's answers
        try:
            meeting = await self._calendar.meeting(link.organizer, link.ical_uid, link.start)
        except CalendarRefused as refusal:
            if refusal.problem not in (CalendarProblem.DENIED, CalendarProblem.MISSING):
                raise
            # An organizer outside the organisation (or Send's reach): the owner's copy
            # still says when it is and whether it is on, not the others' answers.
            tally = False
            owner = await self._store.get_person(group.tenant_id, group.owner_id)
            if owner is None or not owner.email:
                return
            meeting = await self._calendar.meeting(owner.email, link.ical_uid, link.start)
            if meeting is None:
                return  # the owner declined it, or left: nothing to tell from here
        if meeting is None or meeting.cancelled:
            await self._cancelled(group)
            return
        if meeting.start != link.start:
            await self._moved(group, meeting.start)
        poll = await self._store.get_message(group.group_id, link.rsvp_id) if link.rsvp_id else None
        if poll is None or poll.poll is None:
            return
        if tally:
            await self._sync(group, poll, meeting, now)
        reminder_due = timedelta(0) < meeting.start - now <= REMIND_BEFORE
        # Not for an RSVP just asked (its people have had no time), nor after a `nudge`.
        fresh = now - poll.sent_at < REMINDER_AFTER_ASKING
        if self._reminders and reminder_due and not fresh:
            waiting = await self._waiting(group, poll)
            if waiting and not await self._reminded_since(group, poll, now - REMINDED_LATELY):
                await self._remind(group, poll, waiting, _auto_key(group, poll))

    async def _sync(self, group: Group, poll: Message, meeting: Meeting, now: datetime) -> None:
        """Answers changed in Outlook onto the RSVP (a tap in Send a moment ago wins:
        Exchange updates the organizer's copy a little after it)."""
        assert poll.poll is not None
        answers = {a.address: a.response for a in meeting.attendees}
        members = await self._store.get_people(group.tenant_id, list(group.member_ids))
        changed: dict[str, int] = {}
        for member in members:
            if member.email.lower() == meeting.organizer:
                continue
            addresses = [member.email.lower(), *(a.lower() for a in member.addresses)]
            response = next((answers[a] for a in addresses if a in answers), None)
            option = option_of(response)
            tapped = self._taps.get((meeting.ical_uid, member.person_id))
            if tapped is not None and now - tapped < TAP_KEPT:
                continue
            if option is not None and poll.poll.answer_of(member.person_id) != option:
                changed[member.person_id] = option
        if changed:
            await self._take(group, poll, changed)

    async def _ended(self, group: Group) -> None:
        """A meeting over: its group is looked up by the watch no more."""
        await _relink(self._store, group, ended=True)

    async def _take(self, group: Group, poll: Message, changed: dict[str, int]) -> None:
        """Outlook's answers on the RSVP (no calendar call: they come from there)."""

        def change(current: Message) -> Message:
            if current.poll is None:
                return current
            updated = current.poll
            for person_id, option in changed.items():
                updated = updated.with_answer(person_id, option)
            return replace(current, poll=updated)

        await read_modify_write(
            poll,
            lambda: self._store.get_message(group.group_id, poll.message_id),
            change,
            self._store.save_message,
            f"rsvp {poll.message_id}",
        )
        self._cards.refresh(group, poll.message_id)

    async def _moved(self, group: Group, start: datetime) -> None:
        link = group.meeting
        assert link is not None
        key = hashlib.sha256(f"moved|{group.group_id}|{link.ical_uid}|{start}".encode())
        members = await self._store.get_people(group.tenant_id, list(group.member_ids))
        await _relink(self._store, group, start=start)
        owner = next((p for p in members if p.person_id == group.owner_id), None)
        if link.rsvp_id and owner is not None:
            # The RSVP's question names the new time (in its asker's words and zone).
            when = when_dated(owner.language, start, owner.time_zone)
            question = say(owner.language, "meeting.rsvp", subject=link.subject, when=when)
            await self._reword(group, link.rsvp_id, question)
        if await self._store.remember_once(key.hexdigest(), self._clock.now(), LOOK_AHEAD):
            for person in members:
                when = when_dated(person.language, start, person.time_zone)
                self._chats.announce(
                    [person],
                    worded("meeting.moved", subject=link.subject, group=group.name, when=when),
                )

    async def _reword(self, group: Group, message_id: str, question: str) -> None:
        poll = await self._store.get_message(group.group_id, message_id)
        if poll is None or poll.text == question:
            return
        await read_modify_write(
            poll,
            lambda: self._store.get_message(group.group_id, message_id),
            lambda current: replace(current, text=question),
            self._store.save_message,
            f"rsvp {message_id}",
        )
        self._cards.refresh(group, message_id)

    async def _cancelled(self, group: Group) -> None:
        link = group.meeting
        assert link is not None
        key = hashlib.sha256(f"cancelled|{group.group_id}|{link.ical_uid}".encode())
        members = await self._store.get_people(group.tenant_id, list(group.member_ids))
        await _relink(self._store, group, cancelled=True)
        if await self._store.remember_once(key.hexdigest(), self._clock.now(), LOOK_AHEAD):
            notice = worded("meeting.was_cancelled", subject=link.subject, group=group.name)
            self._chats.announce(members, notice)

    async def _poll_of(self, group: Group) -> Message | None:
        """The group's meeting RSVP, else its latest poll among its recent messages."""
        if group.meeting is not None and group.meeting.rsvp_id and not group.meeting.cancelled:
            found = await self._store.get_message(group.group_id, group.meeting.rsvp_id)
            if found is not None and found.poll is not None:
                return found
        for line in reversed(group.recent):
            found = await self._store.get_message(group.group_id, line.message_id)
            if found is None or found.poll is None or found.deleted_at is not None:
                continue
            if found.poll.meeting:
                continue  # a cancelled meeting's RSVP waits for nobody
            return found
        return None

    async def _waiting(self, group: Group, poll: Message) -> list[Person]:
        """Members who have not answered (the organizer of a meeting has, by organizing)."""
        assert poll.poll is not None
        answered = {p for p, _ in poll.poll.votes}
        organizer = group.meeting.organizer if group.meeting is not None else ""
        ids = [m for m in group.member_ids if m not in answered]
        found = {p.person_id: p for p in await self._store.get_people(group.tenant_id, ids)}
        people = [found[i] for i in ids if i in found]  # in the group's order
        return [p for p in people if not (organizer and p.email.lower() == organizer)]

    async def _remind(self, group: Group, poll: Message, people: list[Person], key: str) -> bool:
        """A reminder of that poll to `people`, stored under the id `key` makes (a second
        one with that id is refused by the store); False when nobody could get it."""
        notice = worded("nudge.reminder", question=poll.text, group=group.name)
        return await self._relay.remind(group, notice, people, key) is not None

    async def _reminded_since(self, group: Group, poll: Message, since: datetime) -> bool:
        """Whether a reminder of that poll (automatic, or a `nudge` of today or yesterday)
        went after `since`: one a day at most, whoever asks."""
        now = self._clock.now()
        keys = [_auto_key(group, poll), _nudge_key(group, poll, now)]
        keys.append(_nudge_key(group, poll, now - timedelta(days=1)))
        for key in keys:
            sent = await self._store.get_message(group.group_id, key)
            if sent is not None and sent.sent_at > since:
                return True
        return False


async def _relink(store: WatchStore, group: Group, **changes: object) -> None:
    """The group's link to its meeting, changed (a new time, cancelled, ended)."""

    def change(current: Group) -> Group:
        if current.meeting is None:
            return current
        return replace(current, meeting=replace(current.meeting, **changes))  # type: ignore[arg-type]

    await update_group(store, group, change)


def _auto_key(group: Group, poll: Message) -> str:
    """The automatic reminder's id: one per poll, ever."""
    return hashlib.sha256(f"remind|{group.group_id}|{poll.message_id}|auto".encode()).hexdigest()[
        :32
    ]


def _nudge_key(group: Group, poll: Message, now: datetime) -> str:
    """A `nudge`'s id: one per poll and day."""
    key = f"remind|{group.group_id}|{poll.message_id}|{now.date().isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
