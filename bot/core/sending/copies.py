"""One attempt at one copy of a message, and what follows from its answer.

A Teams copy goes to the recipient's 1:1 chat (found or opened first, paced by the rate
limiter, in the reader's language, with media links signed for them); an Outlook copy is
the group's conversation mail. Each answer is settled by `bot.core.sending.attempts`; copies that
finally failed are told to the sender. The rounds they are attempted in are
`bot.core.sending.delivery`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import replace

from bot.core.features.media import Media
from bot.core.membership.notices import failure_notice
from bot.core.membership.people import update_person
from bot.core.membership.reach import Reach, TeamsChats
from bot.core.model import Delivery, DeliveryState, Group, Message, Person, TeamsReach
from bot.core.ports import (
    Clock,
    PeopleStore,
    RelayedMessage,
    SendOutcome,
    TeamsSender,
)
from bot.core.sending.attempts import GONE, OUTLOOK_ONLY, QUIET, RetryPolicy, failed, settle
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.thread import OutlookThread
from bot.core.texts import Language

log = logging.getLogger("send.delivery")


class Copies:
    """Sends or records single copies for the delivery worker, and tells senders about
    the ones that failed."""

    def __init__(
        self,
        store: PeopleStore,
        teams: TeamsSender,
        chats: TeamsChats,
        thread: OutlookThread,
        limiter: RateLimiter,
        policy: RetryPolicy,
        clock: Clock,
        media: Media,
    ) -> None:
        self._store = store
        self._teams = teams
        self._chats = chats
        self._thread = thread
        self._limiter = limiter
        self._policy = policy
        self._clock = clock
        self._media = media

    async def guarded(self, delivery: Delivery, work: Awaitable[Delivery]) -> Delivery:
        """One delivery's unexpected failure leaves it pending (the next recovery retries
        it) without losing what the other deliveries of the message achieved."""
        try:
            return await work
        except Exception as error:
            log.exception("delivery error", extra={"recipient": delivery.recipient_id})
            return replace(delivery, last_error=f"error: {type(error).__name__}")

    async def record(
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

    async def send(
        self,
        message: Message,
        relayed: Mapping[Language, RelayedMessage],
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
        copy = relayed[person.language]
        if message.media:
            # Each reader's links are signed for them: a link passed on opens only for a member.
            copy = replace(copy, media=self._media.shared(message, person.person_id))
        result = await self._teams.send_message(person, copy)
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
        return self._settle(
            message, delivery, result.outcome, detail, result.retry_after, result.activity_id
        )

    async def retract(
        self, message: Message, delivery: Delivery, people: dict[str, Person]
    ) -> Delivery:
        """Takes a copy of a deleted message back from the person's chat."""
        person = people.get(delivery.recipient_id)
        if person is None or person.teams is None or not delivery.activity_id:
            return replace(delivery, state=DeliveryState.SENT, last_error="nothing to take back")
        await self._limiter.wait(
            message.tenant_id, person.teams.conversation_id, lane=message.group_id
        )
        result = await self._teams.delete_message(person, delivery.activity_id)
        if result.outcome is SendOutcome.GONE:
            # The chat is gone, and the copy with it.
            return replace(delivery, state=DeliveryState.SENT, last_error="chat gone")
        return self._settle(message, delivery, result.outcome, result.detail, result.retry_after)

    def _settle(
        self,
        message: Message,
        delivery: Delivery,
        outcome: SendOutcome,
        detail: str,
        retry_after: float,
        activity_id: str = "",
    ) -> Delivery:
        # A copy is tried until the deadline after its message was accepted; taking one
        # back, until the deadline after the message was deleted.
        since = message.deleted_at if delivery.retract and message.deleted_at else message.sent_at
        now = self._clock.now()
        return settle(delivery, outcome, detail, retry_after, now, since, self._policy, activity_id)

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

    async def tell_sender(
        self,
        message: Message,
        group: Group,
        failures: list[Delivery],
        people: dict[str, Person],
    ) -> None:
        """One notice per round about copies that finally failed (each fails only once)."""
        if not failure_notice(message, group, failures, people, language=Language.EN):
            return  # nothing worth telling (the check's words are not shown)
        sender = await self._store.get_person(message.tenant_id, message.sender_id)
        if sender is None or not sender.teams_chat_ready:
            return
        text = failure_notice(message, group, failures, people, language=sender.language)
        await self._teams.send_notice(sender, text)
