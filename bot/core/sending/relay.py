"""Accepting a message for a group: the rules, the durable record, then delivery.

A message is stored together with one pending delivery per recipient and channel
before anyone is told it was accepted; the delivery worker takes it from there.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.core.errors import Refused
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import TeamsAccess
from bot.core.model import (
    HISTORY_SIZE,
    OUTLOOK_THREAD,
    Channel,
    Delivery,
    Group,
    Mentioned,
    Message,
    Person,
    Poll,
    Quote,
    Source,
    StoredMedia,
    Styled,
)
from bot.core.ports import Clock, MessagingStore
from bot.core.sending.fair_use import SenderAllowance
from bot.core.sending.retry import update_group, update_message
from bot.core.texts import Text, majority
from bot.core.texts import text as worded

# The sender of what Send itself writes in a group (`Source.SEND`): no member has this id.
SEND_ID = "send"
SEND_NAME = "Send"


class DeliveryQueue(Protocol):
    def claim(self, now: datetime) -> tuple[str, datetime]:
        """Who delivers a message accepted now, and until when (written with the message)."""
        ...

    def submit(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        """Starts delivering a message just stored; does nothing if it is already being
        delivered."""
        ...

    def resume(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        """Starts delivering a message read from the store before (sent again, recovered):
        it is read again first. Does nothing if it is already being delivered."""
        ...


def wants_teams_copy(person: Person, group: Group, access: TeamsAccess, now: datetime) -> bool:
    member = group.member(person.person_id)
    return member is not None and not member.muted and access.possible(person, now)


class Relay:
    def __init__(
        self,
        store: MessagingStore,
        clock: Clock,
        queue: DeliveryQueue,
        max_message_chars: int,
        *,
        mail: MailPolicy,
        allowance: SenderAllowance,
        access: TeamsAccess,
    ) -> None:
        self._store = store
        self._access = access
        self._mail = mail
        self._allowance = allowance
        self._clock = clock
        self._queue = queue
        self._max_chars = max_message_chars
        # Members of one group posting at the same moment take turns updating the group
        # here instead of colliding on its etag (other instances still collide, and retry).
        self._group_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def max_chars(self) -> int:
        """MAX_MESSAGE_CHARS: the longest text a message (or an edit of one) may have."""
        return self._max_chars

    def check_text(self, text: str, with_media: bool = False) -> str:
        """The text to relay, or Refused; a photo or file may go without a caption."""
        text = text.strip()
        if not text and not with_media:
            raise Refused(worded("relay.nothing"))
        if len(text) > self._max_chars:
            raise Refused(worded("relay.too_long", length=len(text), most=self._max_chars))
        return text

    def check_allowance(self, sender: Person) -> None:
        """Refused when the sender has used up their allowance for this minute: checked
        before a message's photos and files are downloaded, so a flood costs nothing."""
        too_many = self._allowance.refusal(
            sender.tenant_id, sender.person_id, self._clock.now(), language=sender.language
        )
        if too_many is not None:
            raise Refused(too_many)

    def spend(self, sender: Person) -> None:
        """Counts a group change (`new`, `add`) in the sender's allowance, like a message;
        Refused when it is used up."""
        now = self._clock.now()
        if not self._allowance.allows(sender.tenant_id, sender.person_id, now):
            raise Refused(worded("group.slow_down"))
        self._allowance.record(sender.tenant_id, sender.person_id, now)

    async def from_teams(
        self,
        sender: Person,
        group: Group,
        text: str,
        message_id: str,
        *,
        known: Mapping[str, Person] | None = None,
        media: tuple[StoredMedia, ...] = (),
        mentions: tuple[Mentioned, ...] = (),
        reply_to: Quote | None = None,
        styled: tuple[Styled, ...] = (),
    ) -> Message | None:
        """A member's message typed in Teams (with its photos and files, the people it
        @mentions, and what it answers); None when this message id was already accepted."""
        return await self._post(
            sender,
            group,
            text,
            Source.TEAMS,
            message_id,
            known=known,
            media=media,
            mentions=mentions,
            reply_to=reply_to,
            styled=styled,
        )

    async def from_outlook(
        self,
        sender: Person,
        group: Group,
        text: str,
        message_id: str,
        *,
        reached: frozenset[str] | None,
        media: tuple[StoredMedia, ...] = (),
    ) -> Message | None:
        """A member's answer written in Outlook. `reached`: the addresses the mail itself
        reached (they get no Outlook copy); empty for a reply typed in a card, which mailed
        nobody; None when that is not known, and then there is no Outlook copy at all."""
        return await self._post(
            sender,
            group,
            text,
            Source.OUTLOOK,
            message_id,
            outlook_copy=reached is not None,
            already_mailed=reached or frozenset(),
            media=media,
        )

    async def ask(self, sender: Person, group: Group, poll: Poll, message_id: str) -> None:
        """A poll: every member's Teams copy, the asker's too, shows its tally."""
        await self._post(sender, group, poll.question, Source.TEAMS, message_id, poll=poll)

    async def record_answer(
        self, sender: Person, group: Group, line: str, source: Source, message_id: str
    ) -> Message | None:
        """An answer to a poll, as a line in the history and the Outlook thread only (the
        poll's cards show it in Teams)."""
        return await self._post(sender, group, line, source, message_id, teams_copies=False)

    async def _post(
        self,
        sender: Person,
        group: Group,
        text: str,
        source: Source,
        message_id: str,
        outlook_copy: bool = True,
        known: Mapping[str, Person] | None = None,
        already_mailed: frozenset[str] = frozenset(),
        poll: Poll | None = None,
        teams_copies: bool = True,
        media: tuple[StoredMedia, ...] = (),
        mentions: tuple[Mentioned, ...] = (),
        reply_to: Quote | None = None,
        styled: tuple[Styled, ...] = (),
    ) -> Message | None:
        """Stores and queues a message; None when this message id was already accepted.

        `already_mailed` holds the addresses that already have this message in the thread
        (a mail written in Outlook: its sender and recipients); the Outlook copy goes to the
        group's other addresses only, and there is none when nobody is left. `outlook_copy`
        False sends no Outlook copy at all. `known` holds people already read in this
        request (the members, read with the sender), saving a read. A `poll` goes to every
        member in Teams, the asker too (their card shows the tally); `teams_copies` False
        records a message in the history and the Outlook thread only (a poll's answer:
        the poll's cards show it). `media` were stored for this group beforehand.
        """
        text = self.check_text(text, with_media=bool(media))
        if "".join(s.text for s in styled) != text:
            styled = ()  # the formatting is of the text as typed, or there is none
        if sender.tenant_id != group.tenant_id or not group.has_member(sender.person_id):
            raise Refused(worded("relay.not_member", group=group.name))
        too_many = self._allowance.refusal(
            sender.tenant_id, sender.person_id, self._clock.now(), language=sender.language
        )
        if too_many is not None:
            if await self._store.get_message(group.group_id, message_id) is not None:
                return None  # sent again by Teams: accepted before, not a new message
            raise Refused(too_many)
        others = [m.person_id for m in group.members if m.person_id != sender.person_id]
        if known is not None and all(o in known for o in others):
            people = [known[o] for o in others]
        else:
            people = await self._store.get_people(group.tenant_id, others)
        accepted_at = self._clock.now()
        readers = [sender, *people] if poll is not None else people
        deliveries = tuple(
            Delivery(recipient_id=p.person_id, channel=Channel.TEAMS)
            for p in readers
            if teams_copies and wants_teams_copy(p, group, self._access, accepted_at)
        )
        # The Outlook conversation is the group's whole record, so the sender is in it too.
        addresses = tuple(sorted({p.email for p in (sender, *people) if self._mail.mails(p)}))
        mailed = {a.lower() for a in already_mailed}
        addresses = tuple(a for a in addresses if a.lower() not in mailed)
        if addresses and outlook_copy:
            deliveries += (Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, addresses=addresses),)
        now = self._clock.now()
        claimed_by, claimed_until = self._queue.claim(now)
        message = Message(
            claimed_by=claimed_by,
            claimed_until=claimed_until,
            tenant_id=group.tenant_id,
            group_id=group.group_id,
            message_id=message_id,
            sender_id=sender.person_id,
            sender_name=sender.display_name,
            text=text,
            sent_at=now,
            source=source,
            deliveries=deliveries,
            poll=poll,
            media=media,
            mentions=mentions,
            reply_to=reply_to,
            styled=styled,
        )
        stored = await self._store.add_message(message)
        fresh = stored is not None
        if stored is not None:
            self._allowance.record(sender.tenant_id, sender.person_id, now)
        else:
            # Sent again (Teams retries after a timeout or a 5xx). If the first attempt
            # stored it but failed before queueing it, finish that work now.
            earlier = await self._store.get_message(group.group_id, message_id)
            if earlier is None or not earlier.pending:
                return None
            expired = earlier.claimed_until is None or earlier.claimed_until <= now
            if earlier.claimed_by != claimed_by and not expired:
                return None  # another instance is delivering it
            stored = earlier
        # The sender too: the Outlook mail's language and time zone count theirs.
        await self._record_and_start(stored, group, [sender, *people], fresh=fresh)
        return stored

    async def post_notice(
        self, group: Group, notice: Text, people: Sequence[Person], message_id: str
    ) -> Message | None:
        """A line from Send itself in the group's Outlook thread (a rename), stored and
        delivered like any message, so it is retried and shows in `history` and the cards.
        Worded in the thread's language; no Teams copies (members get a Teams notice).
        `people` are the members. None when nobody gets Outlook copies, or already stored."""
        readers = [p for p in people if self._mail.mails(p)]
        if not readers:
            return None
        addresses = tuple(sorted({p.email for p in readers}))
        # The language the thread's mail is written in (as `thread.mail_readers` picks it).
        text = notice.say(majority([p.language for p in readers]))
        outlook = (Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, addresses=addresses),)
        return await self._from_send(group, text, outlook, people, message_id)

    async def remind(
        self, group: Group, notice: Text, people: Sequence[Person], message_id: str
    ) -> Message | None:
        """A line from Send to some members only (a reminder): Teams copies to those who
        take them, the thread's mail to their addresses; stored and delivered like any
        message, so it survives a restart and goes once (`message_id` is the caller's).
        None when already stored (or nobody to tell)."""
        now = self._clock.now()
        deliveries = tuple(
            Delivery(recipient_id=p.person_id, channel=Channel.TEAMS)
            for p in people
            if wants_teams_copy(p, group, self._access, now)
        )
        addresses = tuple(sorted({p.email for p in people if self._mail.mails(p)}))
        if addresses:
            deliveries += (Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, addresses=addresses),)
        if not deliveries:
            return None
        text = notice.say(majority([p.language for p in people]))
        return await self._from_send(group, text, deliveries, people, message_id)

    async def _from_send(
        self,
        group: Group,
        text: str,
        deliveries: tuple[Delivery, ...],
        people: Sequence[Person],
        message_id: str,
    ) -> Message | None:
        """A message of Send's own, stored (None when that id was stored already) and
        then recorded and delivered like any other."""
        now = self._clock.now()
        claimed_by, claimed_until = self._queue.claim(now)
        message = Message(
            claimed_by=claimed_by,
            claimed_until=claimed_until,
            tenant_id=group.tenant_id,
            group_id=group.group_id,
            message_id=message_id,
            sender_id=SEND_ID,
            sender_name=SEND_NAME,
            text=text,
            sent_at=now,
            source=Source.SEND,
            deliveries=deliveries,
        )
        stored = await self._store.add_message(message)
        if stored is None:
            return None
        await self._record_and_start(stored, group, people, fresh=True)
        return stored

    async def redeliver(
        self, group: Group, message: Message, change: Callable[[Message], Message]
    ) -> Message | None:
        """Changes a stored message, and delivers what that leaves pending (a delete's
        retractions, an undo's copies) under a claim of this instance's; None when the
        message is gone."""
        claimed_by, claimed_until = self._queue.claim(self._clock.now())

        def apply(current: Message) -> Message:
            changed = change(current)
            if not changed.pending:
                return changed
            return replace(changed, claimed_by=claimed_by, claimed_until=claimed_until)

        updated = await update_message(self._store, message, apply)
        if updated is not None and updated.pending:
            readers = [d.recipient_id for d in updated.deliveries if d.channel is Channel.TEAMS]
            people = await self._store.get_people(group.tenant_id, readers)
            self._queue.resume(updated, group, people)
        return updated

    async def _record_and_start(
        self, message: Message, group: Group, people: Sequence[Person], *, fresh: bool
    ) -> None:
        """The one step after a message is stored: its line in the group's recent list,
        then delivery (`resume` when it was read from the store rather than just written)."""
        lock = self._group_locks.get(group.group_id)
        if lock is None:
            lock = self._group_locks[group.group_id] = asyncio.Lock()
        async with lock:
            group = await record_in_group(self._store, group, message)
        start = self._queue.submit if fresh else self._queue.resume
        start(message, group, people)


async def record_in_group(store: MessagingStore, group: Group, message: Message) -> Group:
    """Adds a message to its group's recent list (idempotent; retried on concurrent changes)."""

    def add(current: Group) -> Group:
        if any(s.message_id == message.message_id for s in current.recent):
            return current  # already there: nothing to write
        recent = sorted((*current.recent, message.summary()), key=lambda s: s.sent_at)
        return replace(current, recent=tuple(recent[-HISTORY_SIZE:]))

    updated = await update_group(store, group, add)
    if updated is None:
        raise Refused(worded("group.gone"))
    return updated
