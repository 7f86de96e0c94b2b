"""What a click on a Send card does in the 1:1 chat: a vote on a poll, a quick reply or a
one-tap answer, or a pick of the group a held message goes to."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.core.errors import Refused
from bot.core.features.meetings import Meetings
from bot.core.features.one_tap import one_tap
from bot.core.features.polls import Polls, relayed
from bot.core.membership.groups import Groups
from bot.core.model import Person, Quote, Source
from bot.core.ports import MessageStore, PeopleStore
from bot.core.sending.mentions import teams_mentions
from bot.core.sending.relay import Relay
from bot.core.sending.unfiled import message_in
from bot.core.texts import say, text
from bot.core.turn.held import Held, Posting
from bot.core.turn.requests import ActionKind, Answer, AnsweredCard, CardAction, TeamsRequest


def started(value: str) -> datetime | None:
    """A meeting button's start (what Teams sends back may be anything: None then)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class CardStore(PeopleStore, MessageStore, Protocol):
    """What a card click reads: the message a card shows, and the people it mentions."""


class CardActions:
    def __init__(
        self,
        store: CardStore,
        groups: Groups,
        polls: Polls,
        relay: Relay,
        posting: Posting,
        meetings: Meetings,
    ) -> None:
        self._meetings = meetings
        self._store = store
        self._groups = groups
        self._polls = polls
        self._relay = relay
        self._posting = posting

    async def card_action(
        self, person: Person, action: CardAction, request: TeamsRequest
    ) -> Answer:
        message_id = request.activity_key
        lang = person.language
        if action.kind is ActionKind.VOTE:
            try:
                group = await self._groups.by_id(person, action.group_id)
                if not action.text.isdigit():
                    raise Refused(text("poll.not_an_answer"))
                option = int(action.text)
                await self._polls.answer(
                    person, group, action.message_id, option, Source.TEAMS, message_id
                )
            except Refused as refusal:
                return Answer(refusal.say(lang))
            return Answer()  # the card shows the answer, with everyone's
        if action.kind is ActionKind.MEETING:
            try:
                return Answer(await self._meetings.pick(person, action.text, started(action.start)))
            except Refused as refusal:
                return Answer(refusal.say(lang))
        if action.kind in (ActionKind.REPLY, ActionKind.ANSWER):
            return await self._post_to(person, action, message_id)
        if action.card_id:
            # Every click on the picker of one message sends that one message.
            message_id = hashlib.sha256(f"pick|{action.card_id}".encode()).hexdigest()[:32]
        try:
            group = await self._groups.by_id(person, action.group_id)
            media = action.media
            if media:  # only what the core itself held on that card, for this person
                media = self._posting.media.unsealed(
                    person.person_id, action.text, media, action.seal
                )
            held = Held(action.text, media, request.sender.service_url)
            await self._posting.post(person, group, message_id, held)
            await self._groups.set_active(person, group.group_id)
        except Refused as refusal:
            return Answer(refusal.say(lang))
        return Answer(say(lang, "sent_now_active", group=group.name))

    async def _post_to(self, person: Person, action: CardAction, message_id: str) -> Answer:
        """A quick reply or a one-tap answer: the group is named by id, not by name. The
        card answered is shown again with the answer, so it is not sent twice by mistake."""
        try:
            said = one_tap(action.text) if action.kind is ActionKind.ANSWER else action.text
            if action.kind is ActionKind.ANSWER and action.typed:
                said = say(person.language, "answer.with_words", answer=said, words=action.typed)
            group = await self._groups.by_id(person, action.group_id)
            shown = None
            if action.message_id:
                shown = await message_in(self._store, group, action.message_id)
            if shown is not None and shown.deleted_at is not None:
                shown = None  # deleted meanwhile: nothing to quote or show again
            quote = Quote.of(shown) if shown is not None and shown.text else None
            await self._posting.post(person, group, message_id, Held(said, quote=quote))
        except Refused as refusal:
            return Answer(refusal.say(person.language))
        answered = None
        if action.card_id and action.message_id and shown is not None:
            # Shown again as it was: its picture, file and mentions with it.
            copy = relayed(shown, group, language=person.language)
            if shown.media:
                copy = replace(copy, media=self._posting.media.shared(shown, person.person_id))
            if shown.mentions:
                named = [m.person_id for m in shown.mentions]
                people = {
                    p.person_id: p for p in await self._store.get_people(group.tenant_id, named)
                }
                copy = replace(copy, mentions=teams_mentions(shown, group, people))
            answered = AnsweredCard(action.card_id, copy, self._relay.check_text(said))
        return Answer(answered=answered)
