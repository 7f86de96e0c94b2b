"""The receipt under each message in its sender's chat: what became of it, kept current.

Once a message's first delivery round is over, its sender (unless they typed `receipts
off`) gets one line from Send in their chat: "Sent to Lunch · delivered 4 of 4 · seen by 3
· 👍 Megan". The delivering instance shows it at the end of each delivery round, from
what the round already has in memory (no store read), and its activity id is stored with
the round's own write: a receipt costs no store request of its own. Later changes (seen, reactions, edits) update that
same line in place from any instance: coalesced, at most one update per `RECEIPT_PAUSE`
seconds per message. A day after the message was sent the receipt is final.

A receipt never holds a copy up: it takes only spare room in the pace (`RateLimiter.
spare_now`: no copy waiting, at most half the tenant's allowance used this second, room
in the sender's chat); otherwise it goes a moment later (once the copies waiting then
have gone: it waits for them, it does not keep asking), showing whatever changed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from bot.core.membership.status import receipt_text
from bot.core.model import Group, Message, Person, Receipt, Source
from bot.core.ports import Clock, MessagingStore, SendOutcome, TeamsSender
from bot.core.sending.coalesce import Coalesced
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.retry import update_message

log = logging.getLogger("send.receipts")

# Seconds between two updates of one receipt.
RECEIPT_PAUSE = 3.0
# How long a receipt is kept current; after that it shows what it last showed.
RECEIPT_KEPT = timedelta(days=1)
# How many messages' last saved versions are kept for their receipts' own writes.
SAVED_KEPT = 1024


class Receipts:
    def __init__(
        self,
        store: MessagingStore,
        teams: TeamsSender,
        limiter: RateLimiter,
        clock: Clock,
        *,
        pause: float = RECEIPT_PAUSE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._teams = teams
        self._limiter = limiter
        self._clock = clock
        self._updates = Coalesced("receipt", pause=pause, sleep=sleep)
        # Messages whose first receipt this instance is to show (it delivered them).
        self._first: set[str] = set()
        # Messages whose first receipt is being sent from here right now.
        self._sending: set[str] = set()
        # Messages with a change asked for and not read yet (what a round knows is older).
        self._changed: set[str] = set()
        # The version each recent round saved: a receipt shown after its round stores its
        # id over that version, not over the round's older snapshot (which the store
        # would refuse as changed, costing a refused write and a read).
        self._saved: OrderedDict[str, Message] = OrderedDict()
        self._stopping = False

    async def in_round(
        self, message: Message, group: Group, people: Mapping[str, Person]
    ) -> Receipt | None:
        """At the end of a delivery round of `message` (its deliveries as the round left
        them; `people`: those the round read): its receipt, shown now from what the round
        knows if the pace has spare room, to be stored with the round's own write; else
        None, and it is shown a moment later. Never raises: a receipt is no reason for a
        round to fail."""
        key = message.message_id
        if _has_receipt(message) and message.receipt is None:
            self._first.add(key)
        if key in self._changed or self._updates.busy(key):
            self.changed(group, key)  # a later change is being shown: that run reads it all
            return None
        try:
            sender = people.get(message.sender_id)
            if sender is None and _has_receipt(message):
                sender = await self._store.get_person(group.tenant_id, message.sender_id)

            def later() -> None:
                # No room now: shown a moment later from the same snapshot (no store read),
                # unless something changes meanwhile (then that run reads the store).
                self._updates.ask(key, lambda: self._from_round(message, group, people, sender))

            return await self._show(message, group, people, sender, later)
        except Exception:
            log.exception("receipt not shown", extra={"message_id": key})
            return None

    def after_save(self, shown_from: Message, saved: Message, group: Group) -> None:
        """The round that showed the receipt from `shown_from` saved `saved`: what changed
        in between (a reaction, a read, an edit, here or on another instance) is shown."""
        self._remember(saved)
        if (
            saved.reactions != shown_from.reactions
            or saved.edited_at != shown_from.edited_at
            or saved.deleted_at != shown_from.deleted_at
            or _seen(saved) != _seen(shown_from)
        ):
            self.changed(group, saved.message_id)

    def changed(self, group: Group, message_id: str) -> None:
        """Something the receipt shows changed (seen, a reaction, an edit, a delete)."""
        self._changed.add(message_id)
        self._updates.ask(message_id, lambda: self._again(group, message_id))

    async def settled(self) -> None:
        """Returns once every receipt update asked for so far has been made."""
        await self._updates.settled()

    async def drain(self, grace: float) -> None:
        # Stopping: nothing waits for spare room any more (each tries once, as it is).
        self._stopping = True
        self._limiter.stop_waiting_for_room()
        await self._updates.drain(grace)

    async def _room(self, tenant_id: str) -> None:
        """Until the tenant's copies waiting now have gone: a receipt is shown from here
        because there was no spare room, and there is none before that, so this waits
        once rather than asking every pause through a burst."""
        if not self._stopping:
            await self._limiter.until_none_waits(tenant_id)

    async def _from_round(
        self,
        message: Message,
        group: Group,
        people: Mapping[str, Person],
        sender: Person | None,
    ) -> None:
        await self._room(group.tenant_id)
        shown = await self._show(
            message, group, people, sender, later=lambda: self._updates.again(message.message_id)
        )
        await self._keep(self._saved.get(message.message_id, message), shown)

    async def _again(self, group: Group, message_id: str) -> None:
        """A later update, read from the store (any instance may make it)."""
        await self._room(group.tenant_id)
        self._changed.discard(message_id)
        message = await self._store.get_message(group.group_id, message_id)
        if message is None or not _has_receipt(message):
            self._first.discard(message_id)
            return
        wanted = {d.recipient_id for d in message.deliveries}
        wanted |= {p for p, _ in message.reactions} | {message.sender_id}
        people = {
            p.person_id: p for p in await self._store.get_people(group.tenant_id, list(wanted))
        }
        sender = people.get(message.sender_id)
        shown = await self._show(
            message, group, people, sender, lambda: self._updates.again(message_id)
        )
        await self._keep(message, shown)

    async def _keep(self, message: Message, receipt: Receipt | None) -> None:
        """Stores the receipt shown (never over another one sent meanwhile)."""
        if receipt is None:
            return

        def change(current: Message) -> Message:
            if current.receipt is not None and current.receipt.activity_id != receipt.activity_id:
                return current
            return replace(current, receipt=receipt)

        kept = await update_message(self._store, message, change)
        if kept is not None:
            self._remember(kept)

    def _remember(self, saved: Message) -> None:
        self._saved[saved.message_id] = saved
        self._saved.move_to_end(saved.message_id)
        if len(self._saved) > SAVED_KEPT:
            self._saved.popitem(last=False)

    async def _show(
        self,
        message: Message,
        group: Group,
        people: Mapping[str, Person],
        sender: Person | None,
        later: Callable[[], None],
    ) -> Receipt | None:
        """Sends or updates the receipt when it shows something new; the receipt to store.
        `later` asks for another try when there is no room now, or Teams said to retry."""
        message_id = message.message_id
        if (
            not _has_receipt(message)
            or sender is None
            or sender.teams is None
            or not sender.teams_chat_ready
            or (message.receipt is None and not sender.receipts_on)
            or self._clock.now() - message.sent_at > RECEIPT_KEPT
        ):
            # None wanted, nowhere to show it, or final (one already shown stays current
            # when its sender turns receipts off).
            self._first.discard(message_id)
            return None
        if message.receipt is None and message_id not in self._first:
            if message_id in self._sending:
                later()  # its first receipt is on its way from here: update it after
            return None  # the instance delivering it shows the first one
        first = message.receipt is None
        # A first receipt is always sent, so room is looked for before it is written: in a
        # long burst its message is tried every pause until there is room, at no cost.
        if first and not self._limiter.spare_now(group.tenant_id, sender.teams.conversation_id):
            later()
            return None
        shown = receipt_text(group, message, people, sender)
        if message.receipt is not None and message.receipt.shown == shown:
            return None
        if not first and not self._limiter.spare_now(group.tenant_id, sender.teams.conversation_id):
            # Copies are waiting their turn, or using the allowance, or the chat is full
            # this second: the receipt goes a moment later, showing what changed meanwhile.
            later()
            return None
        if message.receipt is None:
            # Not "first" while it is on its way: a change meanwhile must not send another.
            self._first.discard(message_id)
            self._sending.add(message_id)
            try:
                result = await self._teams.send_receipt(sender, shown)
            finally:
                self._sending.discard(message_id)
            if result.outcome is SendOutcome.RETRY:
                self._first.add(message_id)
            receipt = Receipt(result.activity_id, shown)
        else:
            result = await self._teams.update_receipt(sender, message.receipt.activity_id, shown)
            receipt = replace(message.receipt, shown=shown)
        if result.outcome is not SendOutcome.SENT or not receipt.activity_id:
            log.warning(
                "receipt not shown", extra={"message_id": message_id, "detail": result.detail}
            )
            if result.outcome is SendOutcome.RETRY:
                later()
            return None
        self._first.discard(message_id)
        return receipt


def _seen(message: Message) -> set[str]:
    return {d.recipient_id for d in message.deliveries if d.seen}


def _has_receipt(message: Message) -> bool:
    """Messages people typed or sent from Teams; a poll is its own receipt (the asker gets
    the card with its tally), and Outlook's senders are answered in Outlook."""
    return message.source is Source.TEAMS and message.poll is None
