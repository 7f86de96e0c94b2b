"""The delivery worker: sends each pending delivery of accepted messages.

A message is delivered in rounds. In a round every delivery that is due gets one
attempt, concurrently, paced by the rate limiter; then the states are written back
in one store request (so a crash re-sends at most that round's copies), with the
claim's lease extended past the next round. Between rounds the message waits
without holding a worker slot, however long a Retry-After asks for. What an
answer means (sent, try again when, failed why) is `bot.core.sending.attempts`; one copy's
attempt (Teams or Outlook) and the sender's notice of failures are `bot.core.sending.copies`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.features.media import Media
from bot.core.features.message_life import retracted
from bot.core.features.polls import PollCards
from bot.core.features.polls import relayed as relayed_copy
from bot.core.features.receipts import Receipts
from bot.core.membership.reach import TeamsChats
from bot.core.model import Channel, Delivery, DeliveryState, Group, Message, Person, Receipt
from bot.core.ports import (
    Clock,
    ConcurrentUpdate,
    MessagingStore,
    OutlookRecorder,
    RelayedMessage,
    StoreError,
    TeamsSender,
)
from bot.core.sending.attempts import RetryPolicy, due
from bot.core.sending.copies import Copies
from bot.core.sending.mentions import teams_mentions
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import record_in_group
from bot.core.sending.retry import update_group, update_message
from bot.core.sending.thread import OutlookThread
from bot.core.texts import Language

log = logging.getLogger("send.delivery")
# A message waiting longer than this is worth an operator's look (logged by each pass).
BACKLOG_ALERT = timedelta(minutes=15)

# How long an instance may take to deliver a message before another may take over.
DEFAULT_LEASE = timedelta(minutes=5)

# How long a held message's first round may take before it is filed as accepted without
# waiting for the round (until then, edits and answers to it do not find it).
FILE_AFTER_SECONDS = 1.0


class DeliveryWorker:
    def __init__(
        self,
        store: MessagingStore,
        teams: TeamsSender,
        outlook: OutlookRecorder,
        limiter: RateLimiter,
        policy: RetryPolicy,
        concurrency: int = 64,
        instance_id: str = "",
        lease: timedelta = DEFAULT_LEASE,
        *,
        file_after: float = FILE_AFTER_SECONDS,
        clock: Clock,
        chats: TeamsChats,
        media: Media,
        cards: PollCards,
        receipts: Receipts,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cards = cards
        self._receipts = receipts
        self._chats = chats
        self._monotonic = monotonic
        self._thread = OutlookThread(store, outlook, media)
        self._limiter = limiter
        self._copies = Copies(
            store,
            teams,
            self._chats,
            self._thread,
            limiter,
            policy,
            clock,
            media,
        )
        self.instance_id = instance_id or uuid.uuid4().hex
        self._lease = lease
        self._file_after = file_after
        self._clock = clock
        self._sleep = sleep  # injected so tests of retries and back-off need not wait
        # When the oldest message still pending was accepted, as of the last recovery pass.
        self.oldest_pending: datetime | None = None
        # When the last recovery pass ended (monotonic seconds: a wall clock may jump), and
        # how often they run (keep_recovering).
        self.last_pass: float | None = None
        self._every: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[asyncio.Task[None], Message] = {}
        self._in_flight: set[str] = set()
        # Held messages filed as accepted before their first round's write (`_first_round`).
        self._filed_early: dict[str, Message] = {}
        # Messages delivered at once. Delivery states are saved per message, so this also
        # bounds how many copies a crash can leave sent-but-unrecorded (sent twice later).
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def chats(self) -> TeamsChats:
        return self._chats

    @property
    def thread(self) -> OutlookThread:
        """The groups' Outlook threads (a deleted group's last mail is written through it)."""
        return self._thread

    @property
    def busy(self) -> bool:
        """Whether a message is being delivered here (between rounds included)."""
        return bool(self._tasks)

    def claim(self, now: datetime) -> tuple[str, datetime]:
        return self.instance_id, now + self._lease

    def submit(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        """Delivers a message just stored (nobody else can have delivered any of it)."""
        self._start(message, group, people, read_again=False)

    def resume(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        """Delivers a message read from the store earlier: it is read again before its first
        round, since a delivery that ended meanwhile may have sent its copies already."""
        self._start(message, group, people, read_again=True)

    def submit_unfiled(
        self, message: Message, group: Group, people: Sequence[Person]
    ) -> asyncio.Future[Message | None]:
        """Delivers a message its group holds (`Group.unfiled`): its first round's write
        files it on its own, or, when that round takes longer than `file_after`, it is
        filed as accepted first (so it can be edited, deleted and answered meanwhile). The
        future holds the filed message, or None when its delivery stopped first."""
        filed: asyncio.Future[Message | None] = asyncio.get_running_loop().create_future()
        if message.message_id in self._in_flight:
            filed.set_result(None)  # being delivered here already: filed by that delivery
            return filed
        self._start(message, group, people, read_again=False, filed=filed)
        return filed

    def _start(
        self,
        message: Message,
        group: Group,
        people: Sequence[Person],
        *,
        read_again: bool,
        filed: asyncio.Future[Message | None] | None = None,
    ) -> None:
        if message.message_id in self._in_flight:
            return
        self._in_flight.add(message.message_id)
        by_id = {p.person_id: p for p in people}
        task = asyncio.create_task(
            self._run(message, group, by_id, read_again=read_again, filed=filed)
        )
        self._tasks.add(task)
        self._running[task] = message
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: self._running.pop(t, None))

    async def recover(self, at_start: bool = True) -> int:
        """Takes over pending deliveries whose claim expired (their instance died) and,
        at start, those claimed under this instance's id before a restart."""
        resumed = 0
        now = self._clock.now()
        await self._file_unfiled(now, at_start)
        pending = await self._store.pending_messages()
        # The deployment's backlog, as of this pass (every instance scans all of it).
        self.oldest_pending = min((m.sent_at for m in pending), default=None)
        if self.oldest_pending is not None and now - self.oldest_pending > BACKLOG_ALERT:
            log.warning(
                "delivery backlog",
                extra={
                    "oldest_pending_seconds": round((now - self.oldest_pending).total_seconds()),
                    "pending_messages": len(pending),
                },
            )
        for message in pending:
            if message.message_id in self._in_flight:
                continue
            # While running, our own claims belong to requests still being accepted.
            ours = at_start and message.claimed_by == self.instance_id
            expired = message.claimed_until is None or message.claimed_until <= now
            if not (ours or expired):
                continue  # being delivered (by another instance, or by this one)
            try:
                message = await self._store.save_message(
                    replace(message, claimed_by=self.instance_id, claimed_until=now + self._lease)
                )
            except ConcurrentUpdate:
                continue  # another instance took it first
            group = await self._store.get_group(message.tenant_id, message.group_id)
            if group is None:
                await self._give_up(message, "group deleted")
                continue
            group = await record_in_group(self._store, group, message)
            people = await self._store.get_people(
                message.tenant_id, [d.recipient_id for d in message.deliveries]
            )
            self.resume(message, group, people)
            resumed += 1
        if resumed:
            log.info("pending deliveries taken over", extra={"messages": resumed})
        self.last_pass = self._monotonic()
        return resumed

    async def _file_unfiled(self, now: datetime, at_start: bool) -> None:
        """Files the messages groups hold for an instance that stopped before filing them
        (their claim ended; at start, this instance's own from before a restart), as they
        were accepted, and drops them from their group: the pending pass then takes them
        over like any other. One its round had filed already is only dropped."""
        # A held message's claim ends at most a lease after it was accepted.
        until = now + self._lease + timedelta(minutes=1) if at_start else now
        for group in await self._store.groups_with_unfiled(until):
            try:
                await self._file_held_by(group, now, at_start)
            except (ConcurrentUpdate, StoreError):
                # The next pass tries again; the pending messages are still taken over now.
                log.warning("held messages not filed", extra={"group_id": group.group_id})

    async def _file_held_by(self, group: Group, now: datetime, at_start: bool) -> None:
        left = {
            m.message_id: m
            for m in group.unfiled
            if m.message_id not in self._in_flight
            and (
                (at_start and m.claimed_by == self.instance_id)
                or m.claimed_until is None
                or m.claimed_until <= now
            )
        }
        for message in left.values():
            await self._store.add_message(message)  # None: filed already
        if left:
            await update_group(self._store, group, lambda g: g.holding_no_more(left))

    def stalled(self) -> bool:
        """Whether this instance's recovery loop has missed three passes in a row (stuck,
        or dead): what makes this instance unfit to serve, unlike a backlog, which is the
        whole deployment's and may be Teams' or Exchange's doing."""
        if self._every is None or self.last_pass is None:
            return False
        return self._monotonic() - self.last_pass > 3 * self._every + 60

    async def _give_up(self, message: Message, reason: str) -> None:
        failed = tuple(
            replace(d, state=DeliveryState.FAILED, last_error=reason)
            if d.state is DeliveryState.PENDING
            else d
            for d in message.deliveries
        )
        try:
            await self._store.save_message(replace(message, deliveries=failed))
        except ConcurrentUpdate:
            return  # changed meanwhile: the next pass looks again

    async def keep_recovering(self, every: float) -> None:
        """Runs `recover` periodically, so a dead instance's work is taken over."""
        self._every = every
        while True:
            await asyncio.sleep(every)
            try:
                await self.recover(at_start=False)
            except StoreError:
                log.warning("recovery pass failed: store unavailable")
            except Exception:
                log.exception("recovery pass failed")

    async def drain(self, grace: float) -> None:
        """Waits for in-flight deliveries, then releases the claims of what is left,
        so another instance (or the next start) takes it over at once."""
        await self._chats.drain(grace)
        left: set[asyncio.Task[None]] = set()
        if self._tasks:
            _, left = await asyncio.wait(set(self._tasks), timeout=grace)
        unfinished = [self._running[t] for t in left if t in self._running]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        await self._limiter.close()
        for message in unfinished:
            await self._release(message)

    async def _release(self, message: Message) -> None:
        try:
            current = await self._store.get_message(message.group_id, message.message_id)
            if current is None and message.version is None:
                # Held by its group, never filed: filed now, free for anyone to take.
                await self._store.add_message(replace(message, claimed_until=self._clock.now()))
                return
            if current is None or not current.pending or current.claimed_by != self.instance_id:
                return
            await self._store.save_message(replace(current, claimed_until=self._clock.now()))
        except (ConcurrentUpdate, StoreError):
            log.warning("claim not released", extra={"message_id": message.message_id})

    async def _run(
        self,
        message: Message,
        group: Group,
        people: dict[str, Person],
        *,
        read_again: bool,
        filed: asyncio.Future[Message | None] | None = None,
    ) -> None:
        try:
            if read_again:
                current = await self._store.get_message(message.group_id, message.message_id)
                if current is None or not current.pending:
                    return
                message = current
            while True:
                if filed is not None and not filed.done():
                    message, wait = await self._first_round(message, group, people, filed)
                else:
                    async with self._slots:
                        message, wait = await self._round(message, group, people)
                if wait is None:
                    return
                await self._sleep(wait)
                # Read again: it may have been edited, deleted or restored meanwhile.
                current = await self._store.get_message(message.group_id, message.message_id)
                if current is None or not current.pending:
                    return
                if current.claimed_by != self.instance_id:
                    return  # another instance took it over (an undo, a delete there)
                message = current
        except Exception:
            # Left pending in the store: the next start (or a recovery pass) resumes it.
            log.exception(
                "delivery failed",
                extra={"message_id": message.message_id, "group_id": group.group_id},
            )
        finally:
            self._in_flight.discard(message.message_id)
            if filed is not None and not filed.done():
                filed.set_result(None)  # stopped before its first write: left to recovery

    async def _first_round(
        self,
        message: Message,
        group: Group,
        people: dict[str, Person],
        filed: asyncio.Future[Message | None],
    ) -> tuple[Message, float | None]:
        """The first round of a message its group holds: its write files the message (a
        create); when it takes longer than `file_after`, the message is filed as accepted
        first, and the round's write merges into it."""

        async def first() -> tuple[Message, float | None]:
            async with self._slots:
                return await self._round(message, group, people)

        going = asyncio.ensure_future(first())
        try:
            done, _ = await asyncio.wait({going}, timeout=self._file_after)
            if not done:
                early = await self._store.add_message(message)
                if early is not None:
                    self._filed_early[message.message_id] = early
                    filed.set_result(early)
            after, wait = await going
        except BaseException:
            going.cancel()  # stopped (a shutdown, a store failure): the round with it
            raise
        finally:
            self._filed_early.pop(message.message_id, None)
        if not filed.done():
            filed.set_result(after if after.version is not None else None)
        return after, wait

    async def _round(
        self, message: Message, group: Group, people: dict[str, Person]
    ) -> tuple[Message, float | None]:
        """One attempt at every due delivery; the states saved; seconds to the next round
        (None when nothing is pending any more)."""
        # What each reader sees, by their language (a card's own words are in it).
        relayed = {lang: relayed_copy(message, group, language=lang) for lang in Language}
        if message.mentions:
            mentions = teams_mentions(message, group, people)
            relayed = {lang: replace(copy, mentions=mentions) for lang, copy in relayed.items()}
        now = self._clock.now()
        done = await asyncio.gather(
            *(
                self._copies.guarded(d, self._attempt(message, group, relayed, d, people))
                for d in message.deliveries
                if due(d, now)
            )
        )
        outcome = {d.recipient_id: d for d in done}
        still = [outcome.get(d.recipient_id, d) for d in message.deliveries]
        waits = [d.next_attempt_at for d in still if d.state is DeliveryState.PENDING]
        now = self._clock.now()
        wait = (
            None
            if not waits
            else max(0.0, min((at - now).total_seconds() if at else 0.0 for at in waits))
        )
        # The sender's receipt, from what this round knows; stored with the round's write.
        receipt = None
        after = replace(message, deliveries=tuple(still))
        if done:
            receipt = await self._receipts.in_round(after, group, people)
        saved = await self._save(message, outcome, wait, receipt)
        if done and saved is not None:
            self._receipts.after_save(after, saved, group)
        if wait is None and saved is not None and saved.pending:
            wait = 0.0  # changed meanwhile (deleted, restored): another round at once
        changed = saved is not None and (saved.text != message.text or saved.poll != message.poll)
        if saved is not None and saved.deleted_at is None and changed:
            # Edited, or a poll answered, while this round was sending: what it sent shows
            # the old text or tally (and an update before its copy's id was kept missed it).
            self._cards.refresh(group, message.message_id)
        for delivery in done:
            if delivery.state is DeliveryState.PENDING:
                continue  # a retry was logged where it was decided
            # Each copy that went at DEBUG (the message's own line below counts them: at INFO
            # a line per copy was a sixth of a copy's CPU); one that finally failed at INFO.
            level = logging.INFO if delivery.state is DeliveryState.FAILED else logging.DEBUG
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "delivery final",
                    extra={
                        "message_id": message.message_id,
                        "group_id": group.group_id,
                        "recipient": delivery.recipient_id,
                        "channel": delivery.channel.value,
                        "state": delivery.state.value,
                        "attempts": delivery.attempts,
                        "detail": delivery.last_error,
                    },
                )
        if wait is None:
            log.info(
                "message delivered",
                extra={
                    "message_id": message.message_id,
                    "group_id": group.group_id,
                    "sent": sum(d.state is DeliveryState.SENT for d in still),
                    "failed": sum(d.state is DeliveryState.FAILED for d in still),
                },
            )
        failures = [d for d in done if d.state is DeliveryState.FAILED]
        if failures:
            await self._copies.tell_sender(message, group, failures, people)
        return saved or message, wait

    def _attempt(
        self,
        message: Message,
        group: Group,
        relayed: Mapping[Language, RelayedMessage],
        delivery: Delivery,
        people: dict[str, Person],
    ) -> Coroutine[Any, Any, Delivery]:
        if delivery.retract:
            return self._copies.retract(message, delivery, people)
        if delivery.channel is Channel.OUTLOOK:
            return self._copies.record(message, group, delivery, people)
        return self._copies.send(message, relayed, delivery, people)

    async def _save(
        self,
        message: Message,
        outcome: dict[str, Delivery],
        wait: float | None,
        receipt: Receipt | None = None,
    ) -> Message | None:
        """Writes the deliveries' new states (one write per round, merged on a conflict).

        While deliveries are still pending, the claim is extended past the next round, so
        another instance does not take over a message that is only waiting.
        """
        until = None if wait is None else self._clock.now() + timedelta(seconds=wait) + self._lease

        def change(current: Message) -> Message:
            deliveries = tuple(_merged(d, outcome.get(d.recipient_id)) for d in current.deliveries)
            claimed_until = current.claimed_until
            if until is not None and current.claimed_by == self.instance_id:
                claimed_until = max(until, claimed_until or until)
            merged = replace(current, deliveries=deliveries, claimed_until=claimed_until)
            if receipt is not None and current.receipt is None:
                merged = replace(merged, receipt=receipt)  # (a later one is never overwritten)
            if merged.deleted_at is not None:
                # Deleted during this round: what it just sent is taken back too.
                merged = retracted(merged, merged.deleted_at)
            return merged

        # A held message filed as accepted while this round went: written over that record.
        base = self._filed_early.pop(message.message_id, message)
        return await update_message(self._store, base, change)


def _merged(current: Delivery, done: Delivery | None) -> Delivery:
    """A delivery as stored, with what a round just did to it. A round's outcome counts
    only for the same kind of attempt (a copy, or taking one back); except that a copy
    this round took back, while an undo meanwhile kept it as "still there", is gone: it
    goes out again."""
    if done is None:
        return current
    if done.retract == current.retract:
        return done
    taken_back = done.retract and done.state is DeliveryState.SENT and not done.last_error
    kept = current.state is DeliveryState.SENT and current.activity_id == done.activity_id
    if taken_back and kept and not current.retract:
        return replace(
            current,
            state=DeliveryState.PENDING,
            activity_id="",
            attempts=0,
            last_error="",
            next_attempt_at=None,
        )
    return current
