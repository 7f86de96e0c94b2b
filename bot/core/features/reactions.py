"""What members do with the copies they get: react to them, and read them.

A reaction on a copy (Teams' `messageReaction`, naming the copy by its activity id) is
recorded on the message, and every member's copy shows the tally, updated in place by
`PollCards` (coalesced and paced: a burst of reactions is a few rounds, not one update
each). A read receipt in a person's chat with Send (the `readReceipt` event, naming the
last message they read) marks their copies up to it as seen; `status` says who has seen
a message. Both find the copy among the reader's recent messages: the copies people react
to and read are the recent ones, and nothing is written per copy sent to find them later.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import replace

from bot.core.features.polls import PollCards
from bot.core.features.receipts import Receipts
from bot.core.model import Channel, Delivery, Group, Message, Person
from bot.core.ports import MessagingStore
from bot.core.sending.retry import update_message

log = logging.getLogger("send.reactions")

# How many of a reader's recent messages are looked through for a copy.
RECENT_LOOKED_AT = 30


class Reactions:
    def __init__(self, store: MessagingStore, cards: PollCards, receipts: Receipts) -> None:
        self._store = store
        self._cards = cards
        self._receipts = receipts
        # Reactions to one message take turns here rather than colliding on its etag (a
        # burst would otherwise retry round after round; other instances still retry).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def reacted(
        self, person: Person, copy_id: str, added: tuple[str, ...], removed: tuple[str, ...]
    ) -> None:
        """`person` reacted (or took a reaction back) on their copy `copy_id`."""
        found = await self._copy(person, copy_id)
        if found is None:
            log.debug("reaction on no copy Send knows")
            return
        group, message = found
        if message.deleted_at is not None:
            return

        def change(current: Message) -> Message:
            mine = {r for p, r in current.reactions if p == person.person_id}
            mine = (mine | set(added)) - set(removed)
            others = tuple((p, r) for p, r in current.reactions if p != person.person_id)
            return replace(
                current, reactions=(*others, *((person.person_id, r) for r in sorted(mine)))
            )

        lock = self._locks.get(message.message_id)
        if lock is None:
            lock = self._locks[message.message_id] = asyncio.Lock()
        async with lock:
            before = message.reactions
            updated = await update_message(self._store, message, change)
        if updated is not None and updated.reactions != before:
            self._cards.refresh(group, message.message_id)
            self._receipts.changed(group, message.message_id)

    async def read(self, person: Person, last_read: str) -> int:
        """A read receipt: the person's copies up to `last_read` (Teams' id of the last
        message they read in their chat with Send) are seen; how many were marked."""
        marked, reached = 0, False
        for group, message in await self._recent(person):  # newest first
            copy = _copy_of(message, person)
            if copy is None or not copy.activity_id:
                continue
            if copy.activity_id.isdigit() and last_read.isdigit():
                # Each copy by its own id: a copy delivered late has a later id.
                due = int(copy.activity_id) <= int(last_read)
            else:
                reached = reached or copy.activity_id == last_read
                due = reached
            if not due or copy.seen:
                continue

            def change(current: Message) -> Message:
                deliveries = tuple(
                    replace(d, seen=True) if d == _copy_of(current, person) else d
                    for d in current.deliveries
                )
                return replace(current, deliveries=deliveries)

            if await update_message(self._store, message, change) is not None:
                marked += 1
                self._receipts.changed(group, message.message_id)
        return marked

    async def copy(self, person: Person, copy_id: str) -> tuple[Group, Message] | None:
        """The message of `person`'s copy `copy_id` (among their recent ones), and its group;
        None when it is no copy of theirs Send knows, or its message was deleted."""
        found = await self._copy(person, copy_id)
        if found is None or found[1].deleted_at is not None:
            return None
        return found

    async def _copy(self, person: Person, copy_id: str) -> tuple[Group, Message] | None:
        for group, message in await self._recent(person):
            copy = _copy_of(message, person)
            if copy is not None and copy.activity_id == copy_id:
                return group, message
        return None

    async def _recent(self, person: Person) -> list[tuple[Group, Message]]:
        """The person's most recent messages across their groups, newest first."""
        groups = await self._store.groups_of(person.tenant_id, person.person_id)
        recent = sorted(
            ((g, s) for g in groups for s in g.recent), key=lambda gs: gs[1].sent_at, reverse=True
        )[:RECENT_LOOKED_AT]
        found = []
        for group, summary in recent:
            message = await self._store.get_message(group.group_id, summary.message_id)
            if message is not None:
                found.append((group, message))
        return found


def _copy_of(message: Message, person: Person) -> Delivery | None:
    return next(
        (
            d
            for d in message.deliveries
            if d.channel is Channel.TEAMS and d.recipient_id == person.person_id and not d.retract
        ),
        None,
    )
