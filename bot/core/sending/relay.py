"""Accepting a message for a group: the rules, the durable record, then delivery.

A message is stored with its deliveries before its sender is told it was accepted.
A plain message (text, no photo, file or poll: nothing in its copies points back to it)
is stored by the group's own write that adds its line to the recent list: the group
holds it (`Group.unfiled`) until the delivery worker files it on its own, with its first
round's outcome (or as accepted, when that round takes longer than `file_after`). The
next write of the group by this instance drops what it filed; recovery files what an
instance that stopped left there. Anything else is stored on its own first, with one
pending delivery per recipient and channel, then added to the group's recent list.
Either way the delivery worker takes it from there.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.core.errors import Refused
from bot.core.kept import keep
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
from bot.core.sending.unfiled import message_in
from bot.core.texts import Text, majority
from bot.core.texts import text as worded

# How many messages a group holds at most while their first rounds go (see `_may_hold`).
UNFILED_MOST = 3

# How many ids of held messages a group keeps after their lines (`Group.accepted`).
ACCEPTED_KEPT = 32

# Groups whose filed messages this instance remembers, to drop them from the group's next
# write (one forgotten is dropped by recovery instead, once its claim ends).
GROUPS_KEPT = 4096

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

    def submit_unfiled(
        self, message: Message, group: Group, people: Sequence[Person]
    ) -> asyncio.Future[Message | None]:
        """Starts delivering a message the group holds (`Group.unfiled`); it is filed on its
        own by its first round's write. The future holds the filed message, or None when
        its delivery stopped first (recovery files it then)."""
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
        # Per group, the held messages this instance filed since its last write of it:
        # that write drops them from the group.
        self._filed: dict[str, set[str]] = {}

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
            current = await self._store.get_group(group.tenant_id, group.group_id)
            if await message_in(self._store, current or group, message_id) is not None:
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
        # The sender too: the Outlook mail's language and time zone count theirs.
        readers = [sender, *people]
        if any(m.message_id == message_id for m in group.unfiled):
            return None  # sent again while its group holds it: accepted, being delivered
        # Held: a plain message typed in Teams. Not a mail (the inbox may read a mail again
        # long after, and only the store remembers every message) nor a poll's answer.
        plain = source is Source.TEAMS and teams_copies and poll is None and not media
        if plain and self._may_hold(group):
            return await self._hold_and_deliver(message, group, readers)
        stored = await self._store.add_message(message)
        if stored is None:
            earlier = await self._store.get_message(group.group_id, message_id)
            return await self._sent_again(earlier, group, readers)
        self._allowance.record(sender.tenant_id, sender.person_id, now)
        await self._record_and_start(stored, group, readers, fresh=True)
        return stored

    async def _sent_again(
        self, earlier: Message | None, group: Group, people: Sequence[Person]
    ) -> Message | None:
        """A message id accepted before (Teams retries after a timeout or a 5xx): None, or,
        when the first attempt stored it but stopped before delivering it, that work
        finished now (unless another instance is still on it)."""
        if earlier is None or not earlier.pending:
            return None
        claimed_by, _ = self._queue.claim(self._clock.now())
        expired = earlier.claimed_until is None or earlier.claimed_until <= self._clock.now()
        if earlier.claimed_by != claimed_by and not expired:
            return None  # another instance is delivering it
        await self._record_and_start(earlier, group, people, fresh=False)
        return earlier

    async def _hold_and_deliver(
        self, message: Message, group: Group, people: Sequence[Person]
    ) -> Message | None:
        """A plain message: stored by the group's write of its line (the group holds it),
        then handed to the worker, which files it on its own with its first round's
        outcome. Three store requests in all, with the sender's query."""
        group, added = await self._in_group(group, message, hold=True)
        if not added:
            # Its line was there: sent again. Filed: as any message sent again. Still held
            # by the group: accepted, and being delivered (or left to recovery).
            earlier = await self._store.get_message(group.group_id, message.message_id)
            return await self._sent_again(earlier, group, people)
        self._allowance.record(message.tenant_id, message.sender_id, message.sent_at)
        filed = self._queue.submit_unfiled(message, group, people)
        filed.add_done_callback(lambda done: self._note_filed(message, done))
        return message

    def _may_hold(self, group: Group) -> bool:
        """Whether the group may hold one more message: a burst (messages accepted faster
        than their first rounds end) would make every write of it heavier, so past a few
        the message is stored on its own first instead."""
        filed = self._filed.get(group.group_id, set())
        return sum(m.message_id not in filed for m in group.unfiled) < UNFILED_MOST

    def _note_filed(self, message: Message, done: asyncio.Future[Message | None]) -> None:
        if done.cancelled() or done.result() is None:
            return  # left held: recovery files it and drops it from the group
        filed = self._filed.get(message.group_id, set())
        keep(self._filed, message.group_id, filed, GROUPS_KEPT).add(message.message_id)

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
        group, added = await self._in_group(group, message)
        if fresh and not added:
            # Its line was there, yet no record was: its group holds it for the instance
            # that accepted it (Teams sent it again elsewhere), which delivers it.
            return
        start = self._queue.submit if fresh else self._queue.resume
        start(message, group, people)

    async def _in_group(
        self, group: Group, message: Message, *, hold: bool = False
    ) -> tuple[Group, bool]:
        """The group with the message's line (and the message itself when `hold`); whether
        this call wrote it. The write also drops the held messages this instance filed."""
        lock = self._group_locks.get(group.group_id)
        if lock is None:
            lock = self._group_locks[group.group_id] = asyncio.Lock()
        filed = self._filed.pop(group.group_id, set())
        try:
            async with lock:
                return await recorded_in_group(
                    self._store, group, message, hold=hold, filed=frozenset(filed)
                )
        except BaseException:
            # Not written: still to be dropped by the next write.
            self._filed.setdefault(group.group_id, set()).update(filed)
            raise


async def record_in_group(store: MessagingStore, group: Group, message: Message) -> Group:
    """Adds a message to its group's recent list (idempotent; retried on concurrent changes)."""
    updated, _ = await recorded_in_group(store, group, message)
    return updated


async def recorded_in_group(
    store: MessagingStore,
    group: Group,
    message: Message,
    *,
    hold: bool = False,
    filed: frozenset[str] = frozenset(),
) -> tuple[Group, bool]:
    """`record_in_group`, and whether its line was new (checked against the stored group,
    however old `group` was: a stale one is refused by its etag and read again). `hold`:
    the group keeps the message itself until it is filed on its own; `filed`: held
    messages filed since, dropped by this write."""
    added = False

    def add(current: Group) -> Group:
        nonlocal added
        known = (
            message.message_id in current.accepted
            or any(s.message_id == message.message_id for s in current.recent)
            or any(m.message_id == message.message_id for m in current.unfiled)
        )
        added = not known
        changed = current.holding_no_more(filed)
        if known:
            return changed  # its line is there: at most the filed ones to drop
        recent = sorted((*current.recent, message.summary()), key=lambda s: s.sent_at)
        changed = replace(changed, recent=tuple(recent[-HISTORY_SIZE:]))
        if hold:
            accepted = (*current.accepted, message.message_id)[-ACCEPTED_KEPT:]
            changed = replace(changed, unfiled=(*changed.unfiled, message), accepted=accepted)
        return changed

    updated = await update_group(store, group, add)
    if updated is None:
        raise Refused(worded("group.gone"))
    return updated, added
