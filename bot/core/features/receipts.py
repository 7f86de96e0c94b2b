"""The receipt under each message in its sender's chat: what became of it, kept current.

Once a message's first delivery round is over, its sender (unless they typed `receipts
off`) gets one line from Send in their chat: "Sent to Lunch · delivered 4 of 4 · seen by 3
· 👍 Megan". As copies are delivered, seen and reacted to, that same line is updated in
place: coalesced, so a burst of changes is one update, and at most one update per
`RECEIPT_PAUSE` seconds per message. A day after the message was sent the receipt is
final. Only the delivering instance sends the first receipt, so two instances never
send two; any instance updates it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot.core.membership.status import receipt_text
from bot.core.model import Group, Message, Receipt, Source
from bot.core.ports import Clock, MessagingStore, SendOutcome, TeamsSender
from bot.core.sending.coalesce import Coalesced
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.retry import update_message

log = logging.getLogger("send.receipts")

# Seconds between two updates of one receipt.
RECEIPT_PAUSE = 3.0
# How long a receipt is kept current; after that it shows what it last showed.
RECEIPT_KEPT = timedelta(days=1)


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
        # Messages whose first receipt this instance may send (it delivered them).
        self._first: set[str] = set()

    def delivered(self, group: Group, message_id: str) -> None:
        """A delivery round of the message ended here: its receipt is sent or updated."""
        self._first.add(message_id)
        self.changed(group, message_id)

    def changed(self, group: Group, message_id: str) -> None:
        """Something the receipt shows changed (seen, a reaction, an edit, a delete)."""
        self._updates.ask(message_id, lambda: self._show(group, message_id))

    async def drain(self, grace: float) -> None:
        await self._updates.drain(grace)

    async def _show(self, group: Group, message_id: str) -> None:
        message = await self._store.get_message(group.group_id, message_id)
        sender = None
        if message is not None and _has_receipt(message):
            sender = await self._store.get_person(group.tenant_id, message.sender_id)
        if (
            message is None
            or sender is None
            or sender.teams is None
            or not sender.teams_chat_ready
            or (message.receipt is None and not sender.receipts_on)
            or self._clock.now() - message.sent_at > RECEIPT_KEPT
        ):
            # No receipt: none wanted, nowhere to show it, or final (a receipt already
            # shown stays current when its sender turns receipts off).
            self._first.discard(message_id)
            return
        current = await self._store.get_group(group.tenant_id, group.group_id) or group
        wanted = [d.recipient_id for d in message.deliveries] + [p for p, _ in message.reactions]
        people = {p.person_id: p for p in await self._store.get_people(group.tenant_id, wanted)}
        shown = receipt_text(current, message, people, sender)
        if message.receipt is not None and message.receipt.shown == shown:
            return
        first = message.receipt is None
        if first and message_id not in self._first:
            return  # the instance delivering it sends the first one
        self._first.discard(message_id)
        await self._limiter.wait(group.tenant_id, sender.teams.conversation_id, lane=group.group_id)
        if message.receipt is None:
            result = await self._teams.send_receipt(sender, shown)
            receipt = Receipt(result.activity_id, shown)
        else:
            result = await self._teams.update_receipt(sender, message.receipt.activity_id, shown)
            receipt = replace(message.receipt, shown=shown)
        if result.outcome is not SendOutcome.SENT or not receipt.activity_id:
            log.warning(
                "receipt not shown",
                extra={"message_id": message_id, "detail": result.detail},
            )
            if first and result.outcome is SendOutcome.RETRY:
                self._first.add(message_id)  # the next change tries again
            return
        await update_message(self._store, message, lambda m: replace(m, receipt=receipt))


def _has_receipt(message: Message) -> bool:
    """Messages people typed or sent from Teams; a poll is its own receipt (the asker gets
    the card with its tally), and Outlook's senders are answered in Outlook."""
    return message.source is Source.TEAMS and message.poll is None
