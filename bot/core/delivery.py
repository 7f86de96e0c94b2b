"""The delivery worker: sends each pending delivery of accepted messages.

Copies of one message go out concurrently, paced by the rate limiter. Passing
failures are retried with exponential backoff and jitter, never before the
server's Retry-After; after `max_attempts` a delivery fails permanently. A
recipient Teams says is gone (403/404) is marked unreachable, and the sender is
told once. Delivery state is written back in one store request per message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core.model import (
    Channel,
    Delivery,
    DeliveryState,
    Group,
    Message,
    MessageSummary,
    Person,
)
from bot.core.people import update_person
from bot.core.ports import (
    Clock,
    ConcurrentUpdate,
    OutlookRecorder,
    RelayedMessage,
    SendOutcome,
    Store,
    StoreError,
    TeamsSender,
    ThreadMail,
)
from bot.core.ratelimit import RateLimiter
from bot.core.relay import record_in_group
from bot.core.retry import read_modify_write

log = logging.getLogger("send.delivery")

# How long an instance may take to deliver a message before another may take over.
DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float) -> float:
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Full jitter spreads retries of many recipients; Retry-After is a floor.
        return max(retry_after, random.uniform(backoff / 2, backoff))


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        teams: TeamsSender,
        outlook: OutlookRecorder,
        limiter: RateLimiter,
        policy: RetryPolicy = RetryPolicy(),
        concurrency: int = 64,
        instance_id: str = "",
        lease: timedelta = DEFAULT_LEASE,
        *,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._teams = teams
        self._outlook = outlook
        self._limiter = limiter
        self._policy = policy
        self.instance_id = instance_id or uuid.uuid4().hex
        self._lease = lease
        self._clock = clock
        self._sleep = sleep  # injected so tests of retries and back-off need not wait
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[asyncio.Task[None], Message] = {}
        self._in_flight: set[str] = set()
        self._threads: dict[str, str] = {}  # group id -> latest Outlook thread id
        # Messages delivered at once. Delivery states are saved per message, so this also
        # bounds how many copies a crash can leave sent-but-unrecorded (sent twice later).
        self._slots = asyncio.Semaphore(concurrency)
        # One Outlook mail of a group at a time, in order, so the thread starts exactly once.
        self._thread_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def claim(self, now: datetime) -> tuple[str, datetime]:
        return self.instance_id, now + self._lease

    def submit(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        if message.message_id in self._in_flight:
            return
        self._in_flight.add(message.message_id)
        task = asyncio.create_task(self._run(message, group, {p.person_id: p for p in people}))
        self._tasks.add(task)
        self._running[task] = message
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: self._running.pop(t, None))

    async def recover(self, at_start: bool = True) -> int:
        """Takes over pending deliveries whose claim expired (their instance died) and,
        at start, those claimed under this instance's id before a restart."""
        resumed = 0
        now = self._clock.now()
        for message in await self._store.pending_messages():
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
            self.submit(message, group, people)
            resumed += 1
        if resumed:
            log.info("pending deliveries taken over", extra={"messages": resumed})
        return resumed

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
        current = await self._store.get_message(message.group_id, message.message_id)
        if current is None or not current.pending or current.claimed_by != self.instance_id:
            return
        try:
            await self._store.save_message(replace(current, claimed_until=self._clock.now()))
        except (ConcurrentUpdate, StoreError):
            log.warning("claim not released", extra={"message_id": message.message_id})

    async def _run(self, message: Message, group: Group, people: dict[str, Person]) -> None:
        try:
            async with self._slots:
                await self._deliver(message, group, people)
        except Exception:
            # Left pending in the store: the next start resumes it.
            log.exception(
                "delivery failed",
                extra={"message_id": message.message_id, "group_id": group.group_id},
            )
        finally:
            self._in_flight.discard(message.message_id)

    async def _deliver(self, message: Message, group: Group, people: dict[str, Person]) -> None:
        relayed = RelayedMessage(
            group_id=group.group_id,
            group_name=group.name,
            sender_name=message.sender_name,
            text=message.text,
            message_id=message.message_id,
        )
        pending = [d for d in message.deliveries if d.state is DeliveryState.PENDING]
        done = await asyncio.gather(
            *(
                self._guarded(
                    d,
                    self._record(message, group, d)
                    if d.channel is Channel.OUTLOOK
                    else self._send(message, relayed, d, people.get(d.recipient_id)),
                )
                for d in pending
            )
        )
        outcome = {d.recipient_id: d for d in done}
        await self._save(message, outcome)
        gone = [
            people[d.recipient_id]
            for d in done
            if d.state is DeliveryState.FAILED
            and d.last_error == "gone"
            and d.recipient_id in people
        ]
        log.info(
            "message delivered",
            extra={
                "message_id": message.message_id,
                "group_id": group.group_id,
                "sent": sum(d.state is DeliveryState.SENT for d in done),
                "failed": sum(d.state is DeliveryState.FAILED for d in done),
            },
        )
        if gone:
            await self._tell_sender(message, gone)

    async def _guarded(self, delivery: Delivery, work: Awaitable[Delivery]) -> Delivery:
        """One delivery's unexpected failure leaves it pending (the next recovery retries
        it) without losing what the other deliveries of the message achieved."""
        try:
            return await work
        except Exception as error:
            log.exception("delivery error", extra={"recipient": delivery.recipient_id})
            return replace(delivery, last_error=f"error: {type(error).__name__}")

    async def _record(self, message: Message, group: Group, delivery: Delivery) -> Delivery:
        """Adds the message to the group's Outlook conversation (one mail to all recipients)."""
        lock = self._thread_locks.get(group.group_id)
        if lock is None:
            lock = self._thread_locks[group.group_id] = asyncio.Lock()
        async with lock:
            attempts = delivery.attempts
            while attempts < self._policy.max_attempts:
                thread_id = await self._thread_of(group)
                mail = ThreadMail(
                    tenant_id=group.tenant_id,
                    group_id=group.group_id,
                    group_name=group.name,
                    message_id=message.message_id,
                    thread_id=thread_id,
                    addresses=delivery.addresses,
                    recent=_recent_until(group, message),
                )
                attempts += 1
                result = await self._outlook.record(mail)
                if result.outcome is SendOutcome.SENT and result.thread_id not in ("", thread_id):
                    await set_outlook_thread(
                        self._store, group, result.thread_id, result.conversation_id
                    )
                    self._remember_thread(group.group_id, result.thread_id)
                settled = _settled(delivery, attempts, result.outcome, result.detail)
                if settled is not None:
                    return settled
                log.warning(
                    "outlook mail will be retried",
                    extra={
                        "message_id": message.message_id,
                        "attempt": attempts,
                        "detail": result.detail,
                    },
                )
                if attempts < self._policy.max_attempts:  # no wait before giving up
                    await self._sleep(self._policy.delay(attempts, result.retry_after))
            return _gave_up(delivery, attempts)

    def _remember_thread(self, group_id: str, thread_id: str) -> None:
        self._threads[group_id] = thread_id
        if len(self._threads) > 10_000:
            self._threads.pop(next(iter(self._threads)))

    async def _thread_of(self, group: Group) -> str:
        # A thread started again (its first mail was deleted) is newer than the snapshot
        # of the group that queued messages carry.
        known = self._threads.get(group.group_id)
        if known:
            return known
        if group.outlook_thread:
            return group.outlook_thread
        # Another message (or process) may have started the conversation since `group` was read.
        current = await self._store.get_group(group.tenant_id, group.group_id)
        return current.outlook_thread if current else ""

    async def _send(
        self, message: Message, relayed: RelayedMessage, delivery: Delivery, person: Person | None
    ) -> Delivery:
        if person is None or person.teams is None:
            return replace(delivery, state=DeliveryState.FAILED, last_error="no Teams identity")
        attempts = delivery.attempts
        while attempts < self._policy.max_attempts:
            person = await self._ensure_chat(person)
            if person.teams is None or not person.teams.conversation_id:
                return replace(delivery, state=DeliveryState.FAILED, last_error="gone")
            await self._limiter.wait(
                message.tenant_id, person.teams.conversation_id, lane=message.group_id
            )
            attempts += 1
            result = await self._teams.send_message(person, relayed)
            detail = result.detail
            if result.outcome is SendOutcome.GONE:
                await self._mark_unreachable(person)
                detail = "gone"  # the sender is told about these
            elif result.outcome is SendOutcome.REFUSED:
                log.error(
                    "teams send refused",
                    extra={"message_id": message.message_id, "detail": result.detail},
                )
            settled = _settled(delivery, attempts, result.outcome, detail)
            if settled is not None:
                return settled
            log.warning(
                "teams send will be retried",
                extra={
                    "message_id": message.message_id,
                    "recipient": person.person_id,
                    "attempt": attempts,
                    "detail": result.detail,
                },
            )
            if attempts < self._policy.max_attempts:  # no wait before giving up
                await self._sleep(self._policy.delay(attempts, result.retry_after))
        return _gave_up(delivery, attempts)

    async def _ensure_chat(self, person: Person) -> Person:
        if person.teams is None or person.teams.conversation_id:
            return person
        conversation_id = await self._teams.open_chat(person)
        if not conversation_id:
            return person
        teams = replace(person.teams, conversation_id=conversation_id, reachable=True)
        updated = await update_person(
            self._store, person.tenant_id, person.person_id, lambda p: replace(p, teams=teams)
        )
        return updated or replace(person, teams=teams)

    async def _mark_unreachable(self, person: Person) -> None:
        def change(p: Person) -> Person:
            return replace(p, teams=replace(p.teams, reachable=False)) if p.teams else p

        await update_person(self._store, person.tenant_id, person.person_id, change)

    async def _save(self, message: Message, outcome: dict[str, Delivery]) -> None:
        """Writes the deliveries' new states (one write per message, merged on a conflict)."""
        await read_modify_write(
            message,
            lambda: self._store.get_message(message.group_id, message.message_id),
            lambda current: replace(
                current,
                deliveries=tuple(outcome.get(d.recipient_id, d) for d in current.deliveries),
            ),
            self._store.save_message,
            f"message {message.message_id}",
        )

    async def _tell_sender(self, message: Message, gone: list[Person]) -> None:
        sender = await self._store.get_person(message.tenant_id, message.sender_id)
        if sender is None or not sender.teams_chat_ready:
            return
        who = ", ".join(sorted(p.display_name for p in gone))
        mailed = {
            a for d in message.deliveries if d.channel is Channel.OUTLOOK for a in d.addresses
        }
        if all(p.email in mailed for p in gone):
            text = f"{who} could not be reached in Teams; they still get the Outlook copy."
        else:
            text = f"{who} could not be reached in Teams."
        await self._teams.send_notice(sender, text)


def _settled(
    delivery: Delivery, attempts: int, outcome: SendOutcome, detail: str
) -> Delivery | None:
    """The delivery's final state after an answer, or None when it is to be tried again."""
    if outcome is SendOutcome.RETRY:
        return None
    if outcome is SendOutcome.SENT:
        return replace(delivery, state=DeliveryState.SENT, attempts=attempts, last_error="")
    return replace(delivery, state=DeliveryState.FAILED, attempts=attempts, last_error=detail)


def _gave_up(delivery: Delivery, attempts: int) -> Delivery:
    return replace(
        delivery, state=DeliveryState.FAILED, attempts=attempts, last_error="gave up after retries"
    )


def _recent_until(group: Group, message: Message, count: int = 5) -> tuple[MessageSummary, ...]:
    """The card's messages: the group's latest up to and including this one."""
    earlier = [
        s
        for s in group.recent
        if s.sent_at <= message.sent_at and s.message_id != message.message_id
    ]
    return (*earlier[-(count - 1) :], message.summary())


async def set_outlook_thread(
    store: Store, group: Group, thread_id: str, conversation_id: str
) -> None:
    def point(current: Group) -> Group:
        if current.outlook_thread == thread_id:
            return current
        return replace(current, outlook_thread=thread_id, outlook_conversation=conversation_id)

    await read_modify_write(
        group,
        lambda: store.get_group(group.tenant_id, group.group_id),
        point,
        store.save_group,
        f"group {group.group_id}",
    )
