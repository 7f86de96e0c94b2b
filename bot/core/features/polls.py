"""Polls: `poll <group>: <question> | <option> | …`, answered with one tap or one click.

A poll is a message with fixed answers. Every member gets it, the asker included. Each
answer is stored on the poll's message (etag retries: concurrent answers lose nothing),
recorded in the group's history and Outlook thread, and every member's Teams card of the
poll is then updated in place, paced like other sends; answers arriving while the cards
are being updated make one more round, not one per answer.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from bot.core.errors import Refused
from bot.core.features.media import Media
from bot.core.model import (
    MAX_OPTION_CHARS,
    POLL_OPTIONS,
    Channel,
    Group,
    Message,
    Person,
    Poll,
    Source,
    reaction_tally,
)
from bot.core.ports import (
    Clock,
    MessagingStore,
    PollChoice,
    PollView,
    RelayedMessage,
    SendOutcome,
    TeamsSender,
)
from bot.core.sending.coalesce import Coalesced
from bot.core.sending.mentions import teams_mentions
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import Relay
from bot.core.sending.retry import read_modify_write, update_group
from bot.core.texts import Language, say
from bot.core.texts import text as worded

log = logging.getLogger("send.polls")


class MeetingAnswers(Protocol):
    async def respond(self, person: Person, group: Group, poll: Poll, option: int) -> None:
        """Sets an answer to a meeting's RSVP in the person's calendar (nothing for
        another poll); raises Refused when it cannot."""
        ...


def parse_poll(text: str) -> Poll:
    """`<question> | <option> | …`: 2 to 6 distinct options of at most 40 characters."""
    question, *options = [part.strip() for part in text.split("|")]
    fewest, most = POLL_OPTIONS
    usage = worded("poll.usage_hint")
    if not question:
        raise Refused(worded("poll.no_question", usage=usage))
    options = [o for o in options if o]
    if not fewest <= len(options) <= most:
        raise Refused(
            worded("poll.answer_count", fewest=fewest, most=most, count=len(options), usage=usage)
        )
    long = next((o for o in options if len(o) > MAX_OPTION_CHARS), None)
    if long is not None:
        raise Refused(
            worded("poll.answer_too_long", most=MAX_OPTION_CHARS, start=long[:20], length=len(long))
        )
    if len({o.casefold() for o in options}) != len(options):
        raise Refused(worded("poll.same_answers"))
    return Poll(question, tuple(options))


def poll_view(poll: Poll, group: Group, *, language: Language) -> PollView:
    def name(person_id: str) -> str:
        member = group.member(person_id)
        return member.display_name if member is not None else say(language, "a_former_member")

    choices = tuple(
        PollChoice(option, tuple(name(p) for p in poll.voters(i)))
        for i, option in enumerate(poll.options)
    )
    answered = {p for p, _ in poll.votes}
    waiting = tuple(m.display_name for m in group.members if m.person_id not in answered)
    return PollView(choices, waiting)


def relayed(message: Message, group: Group, *, language: Language) -> RelayedMessage:
    """What a reader of `language` sees of a message: the card's own words, and a poll's
    tally naming former members, are in it."""
    view = poll_view(message.poll, group, language=language) if message.poll is not None else None
    return RelayedMessage(
        group.group_id,
        group.name,
        message.sender_name,
        message.text,
        message.message_id,
        view,
        language=language,
        edited=message.edited_at is not None,
        reactions=reaction_tally(message),
        quote=message.reply_to.line() if message.reply_to is not None else "",
        styled=message.styled,
    )


class PollCards:
    """Updates every member's Teams card of a message in place (a poll's tally, an edited
    text), one round at a time; what changes meanwhile is coalesced into the next round."""

    def __init__(
        self,
        store: MessagingStore,
        teams: TeamsSender,
        limiter: RateLimiter,
        clock: Clock,
        media: Media,
    ) -> None:
        self._store = store
        self._media = media
        self._teams = teams
        self._limiter = limiter
        self._clock = clock
        self._updates = Coalesced("poll cards")

    def refresh(self, group: Group, message_id: str) -> None:
        """Shows a message as it is now on every copy; coalesces changes made meanwhile."""
        self._updates.ask(message_id, lambda: self._round(group, message_id))

    async def drain(self, grace: float) -> None:
        await self._updates.drain(grace)

    async def _round(self, group: Group, message_id: str) -> None:
        message = await self._store.get_message(group.group_id, message_id)
        current = await self._store.get_group(group.tenant_id, group.group_id)
        if message is None or message.deleted_at is not None or current is None:
            return  # a deleted message's copies are taken back by the delivery worker
        await _tally_in_history(self._store, current, message)
        copies = [
            d
            for d in message.deliveries
            if d.channel is Channel.TEAMS
            and d.activity_id
            and not d.retract
            and current.has_member(d.recipient_id)
        ]
        wanted = [d.recipient_id for d in copies] + [m.person_id for m in message.mentions]
        people = {p.person_id: p for p in await self._store.get_people(group.tenant_id, wanted)}
        mentions = teams_mentions(message, current, people)
        shown = {
            lang: replace(relayed(message, current, language=lang), mentions=mentions)
            for lang in Language
        }
        for copy in copies:
            person = people.get(copy.recipient_id)
            if person is None or person.teams is None:
                continue
            await self._limiter.wait(
                group.tenant_id, person.teams.conversation_id, lane=group.group_id
            )
            seen = shown[person.language]
            if message.media:
                seen = replace(seen, media=self._media.shared(message, person.person_id))
            result = await self._teams.update_message(person, copy.activity_id, seen)
            if result.outcome is not SendOutcome.SENT:
                log.warning(
                    "poll card not updated",
                    extra={"message_id": message_id, "recipient": person.person_id},
                )


async def _tally_in_history(store: MessagingStore, group: Group, message: Message) -> None:
    """The message's reactions on its line in the group's recent list (the Outlook mail's
    "Earlier in" shows them): written only when they changed, once per round."""
    tally = reaction_tally(message)
    line = next((s for s in group.recent if s.message_id == message.message_id), None)
    if line is None or line.reactions == tally:
        return

    def change(current: Group) -> Group:
        recent = tuple(
            replace(s, reactions=tally) if s.message_id == message.message_id else s
            for s in current.recent
        )
        return replace(current, recent=recent)

    await update_group(store, group, change)


async def record_answer(
    store: MessagingStore, group: Group, message_id: str, person: Person, option: int
) -> Message:
    """Stores a member's answer (a changed answer replaces theirs); the updated poll."""

    def change(current: Message) -> Message:
        if current.poll is None:
            raise Refused(worded("poll.not_a_poll"))
        return replace(current, poll=current.poll.with_answer(person.person_id, option))

    message = await store.get_message(group.group_id, message_id)
    if message is None or message.poll is None:
        raise Refused(worded("poll.gone"))
    if not 0 <= option < len(message.poll.options):
        raise Refused(worded("poll.not_an_answer"))
    if message.poll.answer_of(person.person_id) == option:
        return message
    updated = await read_modify_write(
        message,
        lambda: store.get_message(group.group_id, message_id),
        change,
        store.save_message,
        f"poll {message_id}",
    )
    if updated is None:
        raise Refused(worded("poll.gone"))
    return updated


class Polls:
    """Asking a poll and answering it, from Teams or Outlook."""

    def __init__(
        self, store: MessagingStore, relay: Relay, cards: PollCards, meetings: MeetingAnswers
    ) -> None:
        self._meetings = meetings
        self._store = store
        self._relay = relay
        self._cards = cards

    async def ask(self, person: Person, group: Group, text: str, message_id: str) -> None:
        poll = parse_poll(text)
        await self._relay.ask(person, group, poll, message_id)

    async def answer(
        self,
        person: Person,
        group: Group,
        poll_id: str,
        option: int,
        source: Source,
        answer_id: str,
    ) -> Message:
        """Records the answer (the poll's history and Outlook thread get a line, unless it
        is the answer they gave already) and updates everyone's cards."""
        if not group.has_member(person.person_id):
            raise Refused(worded("relay.not_member", group=group.name))
        before = await self._store.get_message(group.group_id, poll_id)
        previous = before.poll.answer_of(person.person_id) if before and before.poll else None
        if before is not None and before.poll is not None and previous != option:
            # A meeting's RSVP: set in the person's calendar first, or not counted at all.
            await self._meetings.respond(person, group, before.poll, option)
        message = await record_answer(self._store, group, poll_id, person, option)
        assert message.poll is not None
        if previous != option:
            # A line of the voter's, so in their language.
            chosen = message.poll.options[option]
            lang = person.language
            line = say(lang, "poll.answered", answer=chosen, question=message.text)
            if previous is not None:
                earlier = message.poll.options[previous]
                line = say(
                    lang, "poll.changed", answer=chosen, before=earlier, question=message.text
                )
            await self._relay.record_answer(person, group, line, source, answer_id)
        self._cards.refresh(group, poll_id)
        return message
