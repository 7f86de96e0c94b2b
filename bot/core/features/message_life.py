"""A message lives on after it is sent: its sender edits it, deletes it, or undoes that.

An edit changes the stored text (marked edited), every member's Teams copy in place
(`PollCards`, coalesced and paced), the line in `history`, and says one short line in
the Outlook thread; copies not sent yet go with the new text. A delete is a stored
change first: the text, media and mentions leave the message and its line leaves the
group's history, the photos and files leave the media store, copies not sent yet are
cancelled, and each copy sent becomes a pending *retraction*, which the delivery worker
carries out like any copy (retried, paced, and resumed after a crash). Teams' undo
(`undeleteMessage`) brings the text back and sends the copies again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from bot.core.features.media import Media
from bot.core.features.polls import PollCards
from bot.core.features.receipts import Receipts
from bot.core.model import Channel, DeliveryState, Group, Message, MessageSummary, Person, Styled
from bot.core.ports import Clock, MessagingStore
from bot.core.sending.relay import Relay, record_in_group
from bot.core.sending.retry import update_group, update_message
from bot.core.sending.unfiled import message_in
from bot.core.texts import Text, text

DELETED = "deleted"  # last_error of a copy cancelled because its message was deleted


def retracted(message: Message, now: datetime) -> Message:
    """The message deleted: its content gone; every Teams copy sent is to be taken back,
    every copy not sent yet is cancelled. Idempotent: applied again (to copies sent
    meanwhile), it takes those back too."""
    deliveries = []
    for d in message.deliveries:
        if d.retract:
            deliveries.append(d)
        elif d.channel is Channel.TEAMS and d.state is DeliveryState.SENT and d.activity_id:
            deliveries.append(
                replace(
                    d,
                    state=DeliveryState.PENDING,
                    retract=True,
                    attempts=0,
                    last_error="",
                    next_attempt_at=None,
                )
            )
        elif d.state is DeliveryState.PENDING:
            deliveries.append(replace(d, state=DeliveryState.FAILED, last_error=DELETED))
        else:
            deliveries.append(d)
    return replace(
        message,
        text="",
        styled=(),
        media=(),
        mentions=(),
        poll=None,
        edited_at=None,
        deleted_at=message.deleted_at or now,
        deliveries=tuple(deliveries),
    )


def restored(message: Message, words: str) -> Message:
    """A deleted message back (Teams' undo), with the text Teams gives back: each copy
    taken back, or cancelled, goes out again."""
    deliveries = []
    for d in message.deliveries:
        if d.retract and d.state is DeliveryState.PENDING:
            # Not taken back yet: the copy is still there, and stays.
            deliveries.append(replace(d, state=DeliveryState.SENT, retract=False, attempts=0))
        elif (d.retract and d.state is DeliveryState.SENT) or d.last_error == DELETED:
            deliveries.append(
                replace(
                    d,
                    state=DeliveryState.PENDING,
                    retract=False,
                    activity_id="",
                    attempts=0,
                    last_error="",
                    next_attempt_at=None,
                )
            )
        else:
            deliveries.append(d)
    return replace(message, text=words, deleted_at=None, deliveries=tuple(deliveries))


class MessageLife:
    def __init__(
        self,
        store: MessagingStore,
        relay: Relay,
        cards: PollCards,
        receipts: Receipts,
        media: Media,
        clock: Clock,
    ) -> None:
        self._store = store
        self._relay = relay
        self._cards = cards
        self._receipts = receipts
        self._media = media
        self._clock = clock

    async def edit(
        self, sender: Person, message_id: str, words: str, styled: tuple[Styled, ...] = ()
    ) -> Text | None:
        """The sender's edit of a message they sent (`styled`: its new formatting); a line
        for them when it changed nothing (None when it went everywhere, or there was
        nothing to do)."""
        found = await self._find(sender, message_id)
        if found is None:
            return text("life.edit_unknown")
        group, message = found
        if message.deleted_at is not None:
            return None
        if message.poll is not None:
            return text("life.edit_poll")
        words = words.strip()
        if "".join(s.text for s in styled) != words:
            styled = ()
        if not words and not message.media:
            return text("life.edit_empty")
        if len(words) > self._relay.max_chars:
            return text("life.edit_too_long", length=len(words), most=self._relay.max_chars)
        if words == message.text and styled == message.styled:
            return None
        now = self._clock.now()

        def change(current: Message) -> Message:
            if current.deleted_at is not None:
                return current  # deleted meanwhile: an edit brings nothing back
            kept = tuple(m for m in current.mentions if m.name in words)
            return replace(current, text=words, edited_at=now, mentions=kept, styled=styled)

        updated = await update_message(self._store, message, change)
        if updated is None:
            return text("life.edit_unknown")
        if updated.deleted_at is not None:
            return None
        await self._in_history(group, message_id, updated.summary())
        self._cards.refresh(group, message_id)
        self._receipts.changed(group, message_id)
        digest = hashlib.sha256(f"{message_id}|edit|{words}".encode()).hexdigest()[:32]
        line = text("life.thread_edited", sender=sender.display_name, text=words)
        await self._tell_thread(group, line, digest)
        return None

    async def delete(self, sender: Person, message_id: str) -> Text | None:
        """The sender's delete: taken back everywhere (None), or a line when Send no
        longer has it."""
        found = await self._find(sender, message_id)
        if found is None:
            return text("life.delete_unknown")
        group, message = found
        if message.deleted_at is not None:
            return None  # deleted before (Teams sent the event again)
        # The photos and files first: their links answer 404 from now on.
        if message.media:
            await self._media.discard(message.media)
        updated = await self._relay.redeliver(
            group, message, lambda current: retracted(current, self._clock.now())
        )
        if updated is None:
            return text("life.delete_unknown")
        await self._in_history(group, message_id, None)
        digest = hashlib.sha256(f"{message_id}|delete".encode()).hexdigest()[:32]
        await self._tell_thread(
            group, text("life.thread_deleted", sender=sender.display_name), digest
        )
        return None

    async def undelete(self, sender: Person, message_id: str, words: str) -> Text | None:
        """Teams' undo of a delete: the message back, with its copies sent again."""
        found = await self._find(sender, message_id)
        if found is None:
            return None  # Send never had it, or no longer does: nothing to restore
        group, message = found
        if message.deleted_at is None:
            return None
        words = words.strip()
        if not words:
            return text("life.undelete_empty")
        updated = await self._relay.redeliver(
            group, message, lambda current: restored(current, words)
        )
        if updated is None:
            return None
        await record_in_group(self._store, group, updated)
        digest = hashlib.sha256(f"{message_id}|undelete|{words}".encode()).hexdigest()[:32]
        line = text("life.thread_restored", sender=sender.display_name, text=words)
        await self._tell_thread(group, line, digest)
        return None

    async def _find(self, sender: Person, message_id: str) -> tuple[Group, Message] | None:
        """The message `sender` sent with that id, in one of their groups: those whose
        recent messages list it first (one read), then the others."""
        groups = await self._store.groups_of(sender.tenant_id, sender.person_id)
        listed = [g for g in groups if any(s.message_id == message_id for s in g.recent)]
        for group in [*listed, *(g for g in groups if g not in listed)]:
            message = await message_in(self._store, group, message_id)
            if message is not None:
                if message.sender_id != sender.person_id:
                    return None  # only its sender changes a message
                return group, message
        return None

    async def _in_history(
        self, group: Group, message_id: str, shown: MessageSummary | None
    ) -> None:
        """The message's line in the group's history replaced by `shown`, or dropped."""

        def change(current: Group) -> Group:
            recent = []
            for line in current.recent:
                if line.message_id != message_id:
                    recent.append(line)
                elif shown is not None:
                    recent.append(shown)
            return replace(current, recent=tuple(recent))

        await update_group(self._store, group, change)

    async def _tell_thread(self, group: Group, line: Text, notice_id: str) -> None:
        """One short line in the group's Outlook thread (nothing when nobody reads it)."""
        current = await self._store.get_group(group.tenant_id, group.group_id) or group
        people = await self._store.get_people(
            group.tenant_id, [m.person_id for m in current.members]
        )
        await self._relay.post_notice(current, line, people, notice_id)
