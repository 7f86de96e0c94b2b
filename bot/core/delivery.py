"""The delivery worker: sends each pending delivery of accepted messages.

A message is delivered in rounds. In a round every delivery that is due gets one
attempt, concurrently, paced by the rate limiter; then the states are written back
in one store request (so a crash re-sends at most that round's copies), with the
claim's lease extended past the next round. Between rounds the message waits
without holding a worker slot, however long a Retry-After asks for. What an
answer means (sent, try again when, failed why) is `bot.core.attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.attempts import GONE, OUTLOOK_ONLY, QUIET, RetryPolicy, due, failed, settle
from bot.core.media import Media
from bot.core.model import (
    Channel,
    Delivery,
    DeliveryState,
    Group,
    Message,
    Person,
    TeamsReach,
)
from bot.core.notices import failure_notice
from bot.core.people import update_person
from bot.core.polls import relayed as relayed_copy
from bot.core.ports import (
    Clock,
    ConcurrentUpdate,
    OutlookRecorder,
    RelayedMessage,
    SendOutcome,
    Store,
    StoreError,
    TeamsMention,
    TeamsSender,
)
from bot.core.ratelimit import RateLimiter
from bot.core.reach import Reach, TeamsChats
from bot.core.relay import record_in_group
from bot.core.retry import read_modify_write
from bot.core.thread import OutlookThread

log = logging.getLogger("send.delivery")

# How long an instance may take to deliver a message before another may take over.
DEFAULT_LEASE = timedelta(minutes=5)


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        teams: TeamsSender,
        outlook: OutlookRecorder,
        limiter: RateLimiter,
        policy: RetryPolicy | None = None,
        concurrency: int = 64,
        instance_id: str = "",
        lease: timedelta = DEFAULT_LEASE,
        *,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        chats: TeamsChats | None = None,
        media: Media | None = None,
    ) -> None:
        self._store = store
        self._teams = teams
        self._chats = chats or TeamsChats(store, teams, clock)
        self._media = media
        self._thread = OutlookThread(store, outlook, media)
        self._limiter = limiter
        self._policy = policy or RetryPolicy()
        self.instance_id = instance_id or uuid.uuid4().hex
        self._lease = lease
        self._clock = clock
        self._sleep = sleep  # injected so tests of retries and back-off need not wait
        # When the oldest message still pending was accepted, as of the last recovery pass.
        self.oldest_pending: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[asyncio.Task[None], Message] = {}
        self._in_flight: set[str] = set()
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
        pending = await self._store.pending_messages()
        # The deployment's backlog, as of this pass (every instance scans all of it).
        self.oldest_pending = min((m.sent_at for m in pending), default=None)
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
        current = await self._store.get_message(message.group_id, message.message_id)
        if current is None or not current.pending or current.claimed_by != self.instance_id:
            return
        try:
            await self._store.save_message(replace(current, claimed_until=self._clock.now()))
        except (ConcurrentUpdate, StoreError):
            log.warning("claim not released", extra={"message_id": message.message_id})

    async def _run(self, message: Message, group: Group, people: dict[str, Person]) -> None:
        try:
            while True:
                async with self._slots:
                    message, wait = await self._round(message, group, people)
                if wait is None:
                    return
                await self._sleep(wait)
        except Exception:
            # Left pending in the store: the next start (or a recovery pass) resumes it.
            log.exception(
                "delivery failed",
                extra={"message_id": message.message_id, "group_id": group.group_id},
            )
        finally:
            self._in_flight.discard(message.message_id)

    async def _round(
        self, message: Message, group: Group, people: dict[str, Person]
    ) -> tuple[Message, float | None]:
        """One attempt at every due delivery; the states saved; seconds to the next round
        (None when nothing is pending any more)."""
        relayed = relayed_copy(message, group)
        if message.mentions:
            relayed = replace(relayed, mentions=teams_mentions(message, group, people))
        now = self._clock.now()
        done = await asyncio.gather(
            *(
                self._guarded(
                    d,
                    self._record(message, group, d, people)
                    if d.channel is Channel.OUTLOOK
                    else self._send(message, relayed, d, people),
                )
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
        saved = await self._save(message, outcome, wait)
        for delivery in done:
            if delivery.state is not DeliveryState.PENDING:
                log.info(
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
            await self._tell_sender(message, group, failures, people)
        return saved or message, wait

    async def _guarded(self, delivery: Delivery, work: Awaitable[Delivery]) -> Delivery:
        """One delivery's unexpected failure leaves it pending (the next recovery retries
        it) without losing what the other deliveries of the message achieved."""
        try:
            return await work
        except Exception as error:
            log.exception("delivery error", extra={"recipient": delivery.recipient_id})
            return replace(delivery, last_error=f"error: {type(error).__name__}")

    async def _record(
        self, message: Message, group: Group, delivery: Delivery, people: dict[str, Person]
    ) -> Delivery:
        """Adds the message to the group's Outlook conversation (one mail to all recipients)."""
        result = await self._thread.record(message, group, delivery.addresses, people)
        if result.outcome is SendOutcome.RETRY:
            log.warning(
                "outlook mail will be retried",
                extra={"message_id": message.message_id, "detail": result.detail},
            )
        return self._settle(message, delivery, result.outcome, result.detail, result.retry_after)

    async def _send(
        self,
        message: Message,
        relayed: RelayedMessage,
        delivery: Delivery,
        people: dict[str, Person],
    ) -> Delivery:
        person = people.get(delivery.recipient_id)
        if person is None:
            return failed(delivery, "no Teams identity")
        # The usual case, a chat already known, reads nothing more.
        via = None if person.teams_chat_ready else await self._via(message, people)
        found = await self._chats.chat(person, via)
        person = people[person.person_id] = found.person
        if found.reach is Reach.RETRY:
            log.warning(
                "teams chat not ready, will be retried",
                extra={"message_id": message.message_id, "recipient": person.person_id},
            )
            return self._settle(
                message, delivery, SendOutcome.RETRY, found.detail, found.retry_after
            )
        if found.reach is Reach.OUTLOOK_ONLY:
            # Told once, the first time Teams is found unusable for them.
            return failed(delivery, f"{OUTLOOK_ONLY}: {found.detail}" if found.news else QUIET)
        if found.reach is Reach.GONE or person.teams is None:
            return failed(delivery, GONE)
        await self._limiter.wait(
            message.tenant_id, person.teams.conversation_id, lane=message.group_id
        )
        # The card's own words are in the reader's language.
        relayed = replace(relayed, language=person.language)
        if message.media and self._media is not None:
            # Each reader's links are signed for them: a link passed on opens only for a member.
            relayed = replace(relayed, media=self._media.shared(message, person.person_id))
        result = await self._teams.send_message(person, relayed)
        detail = result.detail
        if result.outcome is SendOutcome.GONE:
            await self._mark_unreachable(person)
            detail = GONE  # the sender is told about these
        elif result.outcome is SendOutcome.REFUSED:
            log.error(
                "teams send refused",
                extra={"message_id": message.message_id, "detail": result.detail},
            )
        elif result.outcome is SendOutcome.RETRY:
            log.warning(
                "teams send will be retried",
                extra={
                    "message_id": message.message_id,
                    "recipient": person.person_id,
                    "detail": result.detail,
                },
            )
        settled = self._settle(message, delivery, result.outcome, detail, result.retry_after)
        return replace(settled, activity_id=result.activity_id or settled.activity_id)

    def _settle(
        self,
        message: Message,
        delivery: Delivery,
        outcome: SendOutcome,
        detail: str,
        retry_after: float,
    ) -> Delivery:
        return settle(
            delivery,
            outcome,
            detail,
            retry_after,
            self._clock.now(),
            message.sent_at,
            self._policy,
        )

    async def _via(self, message: Message, people: dict[str, Person]) -> TeamsReach | None:
        """Someone's Teams reach in the tenant (the sender's first): where to reach a person
        Send never heard from in Teams. Read only when needed."""
        for person in people.values():
            if person.teams is not None and person.teams.service_url:
                return person.teams
        sender = await self._store.get_person(message.tenant_id, message.sender_id)
        return sender.teams if sender is not None else None

    async def _mark_unreachable(self, person: Person) -> None:
        def change(p: Person) -> Person:
            return replace(p, teams=replace(p.teams, reachable=False)) if p.teams else p

        await update_person(self._store, person.tenant_id, person.person_id, change)

    async def _save(
        self, message: Message, outcome: dict[str, Delivery], wait: float | None
    ) -> Message | None:
        """Writes the deliveries' new states (one write per round, merged on a conflict).

        While deliveries are still pending, the claim is extended past the next round, so
        another instance does not take over a message that is only waiting.
        """
        until = None if wait is None else self._clock.now() + timedelta(seconds=wait) + self._lease

        def change(current: Message) -> Message:
            deliveries = tuple(outcome.get(d.recipient_id, d) for d in current.deliveries)
            claimed_until = current.claimed_until
            if until is not None and current.claimed_by == self.instance_id:
                claimed_until = max(until, claimed_until or until)
            return replace(current, deliveries=deliveries, claimed_until=claimed_until)

        return await read_modify_write(
            message,
            lambda: self._store.get_message(message.group_id, message.message_id),
            change,
            self._store.save_message,
            f"message {message.message_id}",
        )

    async def _tell_sender(
        self,
        message: Message,
        group: Group,
        failures: list[Delivery],
        people: dict[str, Person],
    ) -> None:
        """One notice per round about copies that finally failed (each fails only once)."""
        if not failure_notice(message, group, failures, people):
            return
        sender = await self._store.get_person(message.tenant_id, message.sender_id)
        if sender is None or not sender.teams_chat_ready:
            return
        text = failure_notice(message, group, failures, people, sender.language)
        await self._teams.send_notice(sender, text)


def teams_mentions(
    message: Message, group: Group, people: Mapping[str, Person]
) -> tuple[TeamsMention, ...]:
    """The message's @mentions that Teams can show as mentions: members of the group now,
    whom Teams knows (by user id, else Entra object id). Anyone else stays a plain name."""
    found = []
    for mentioned in message.mentions:
        person = people.get(mentioned.person_id)
        if person is None or not group.has_member(person.person_id):
            continue
        teams_id = (person.teams.user_id if person.teams else "") or person.aad_object_id
        if teams_id:
            found.append(TeamsMention(mentioned.name, teams_id))
    return tuple(found)
