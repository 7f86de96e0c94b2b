"""What Send answers in Teams: one entry point per Teams request, every rule decided here.

The Teams adapter turns an activity into a `TeamsRequest` and calls `handle` (or
`installed`) once; this module decides who the person is, whether their
organisation may use Send, whether the request was seen before, and what the
words mean, and gives back an `Answer` for the adapter to render.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from bot.core.errors import NotACommand, Refused
from bot.core.features.media import Media
from bot.core.features.meeting_watch import MeetingWatch
from bot.core.features.meetings import Meetings
from bot.core.features.message_life import MessageLife
from bot.core.features.polls import Polls
from bot.core.features.reactions import Reactions
from bot.core.membership.addresses import Mention
from bot.core.membership.groups import Groups, check_chat_size, check_name
from bot.core.membership.people import ActiveGroup, People
from bot.core.membership.policy import TenantGate
from bot.core.model import MAX_MEMBERS, Person, Quote
from bot.core.ports import (
    Clock,
    MarkerStore,
    MessageStore,
    PeopleStore,
    StoreError,
    TeamsRoster,
)
from bot.core.sending.relay import Relay
from bot.core.texts import language_of, say, text
from bot.core.turn.card_actions import CardActions
from bot.core.turn.command_handlers import CommandCall, CommandHandlers
from bot.core.turn.commands import (
    Chat,
    Command,
    Shape,
    Verb,
    parse,
)
from bot.core.turn.held import Held, Posting, named, with_names
from bot.core.turn.new_group import NewGroupDialog
from bot.core.turn.requests import (
    Answer,
    GroupChoice,
    GroupPicker,
    MessageChange,
    TeamsRequest,
)
from bot.core.turn.sentences import Sentences

log = logging.getLogger("send.conversation")

# Teams re-sends an activity it got no answer to within 15 s; remember ids for a day.
DEDUPE_WINDOW = timedelta(days=1)


class TurnStore(PeopleStore, MessageStore, MarkerStore, Protocol):
    """What a turn uses of the store itself: markers of activities already handled, the
    person's step-by-step `new`, the messages card actions answer."""


class Conversation:
    def __init__(
        self,
        store: TurnStore,
        people: People,
        groups: Groups,
        relay: Relay,
        roster: TeamsRoster,
        clock: Clock,
        gate: TenantGate,
        polls: Polls,
        media: Media,
        life: MessageLife,
        reactions: Reactions,
        meetings: Meetings,
        watch: MeetingWatch,
    ) -> None:
        self._life = life
        self._reactions = reactions
        self._polls = polls
        self._media = media
        self._store = store
        self._people = people
        self._groups = groups
        self._relay = relay
        self._roster = roster
        self._clock = clock
        self._gate = gate
        self._posting = Posting(relay, media)
        self._cards = CardActions(store, groups, self._polls, relay, self._posting, meetings)
        self._sentences = Sentences(groups, relay)
        self._new_group = NewGroupDialog(groups, store, clock)
        self._commands = CommandHandlers(
            groups, self._polls, self._posting, self._message, self._new_group, meetings, watch
        )

    async def installed(self, request: TeamsRequest, welcome: bool) -> Answer:
        """The app was installed, or the bot added to a chat: register, and say hello once.
        Added to a group chat, Send introduces itself there, in the language of whoever
        added it: what `@Send new <name>` does."""
        if not self._gate.allows(request.sender.tenant_id):
            return Answer()
        if not request.personal:
            if not welcome or not await self._first_time(request, []):
                return Answer()  # Teams sending the same event again: said once
            return Answer(say(language_of(request.sender.locale), "group_chat_intro"))
        sender = await self._people.sender(request)
        person = sender.person
        return Answer(say(person.language, "welcome") if welcome else "", person=person)

    async def handle(self, request: TeamsRequest) -> Answer:
        taken: list[str] = []
        try:
            return await self._handle(request, taken)
        except StoreError:
            # Not done, so Teams sends it again: that retry must not be taken for a
            # duplicate. Best effort: if the store is down this fails too.
            for key in taken:
                try:
                    await self._store.forget(key)
                except StoreError:
                    continue
            raise

    async def changed(self, request: TeamsRequest, change: MessageChange) -> Answer:
        """A person edited, deleted or restored in Teams a message they sent in their chat
        with Send: the same everywhere it went. Anything else (a group chat's, a tenant
        that may not use Send) changes nothing."""
        if not request.personal or self._gate.refusal(request.sender.tenant_id) is not None:
            log.debug("message change ignored", extra={"change": change.value})
            return Answer()
        person = (await self._people.sender(request)).person
        message_id = request.activity_key
        if change is MessageChange.EDITED:
            words = request.spoken or request.text
            line = await self._life.edit(person, message_id, words, request.styled)
        elif change is MessageChange.DELETED:
            line = await self._life.delete(person, message_id)
        else:
            line = await self._life.undelete(person, message_id, request.spoken or request.text)
        return Answer(line.say(person.language) if line else "", person=person)

    async def reacted(
        self, request: TeamsRequest, copy_id: str, added: tuple[str, ...], removed: tuple[str, ...]
    ) -> None:
        """A member reacted on a copy in their chat with Send (or took a reaction back)."""
        if request.personal and self._gate.allows(request.sender.tenant_id):
            person = (await self._people.sender(request)).person
            await self._reactions.reacted(person, copy_id, added, removed)

    async def read(self, request: TeamsRequest, last_read: str) -> None:
        """A read receipt in a member's chat with Send: what they have seen."""
        if request.personal and self._gate.allows(request.sender.tenant_id):
            person = (await self._people.sender(request)).person
            await self._reactions.read(person, last_read)

    async def _handle(self, request: TeamsRequest, taken: list[str]) -> Answer:
        refusal = self._gate.refusal(request.sender.tenant_id)
        if refusal is not None:
            # Nobody is registered yet: the language Teams says the person reads.
            return Answer(refusal.say(language_of(request.sender.locale)))
        if not request.personal:
            return await self._group_chat(request, taken)
        sender = await self._people.sender(request)
        person = sender.person
        if request.action is not None:
            return replace(
                await self._cards.card_action(person, request.action, request), person=person
            )
        mentioned = len({m.user_id for m in request.mentions})
        if mentioned > MAX_MEMBERS:
            # One group's worth at most: each mention may register a person.
            line = say(person.language, "mentions.too_many", most=MAX_MEMBERS, count=mentioned)
            return Answer(line, person=person)
        if person.new_group is not None and self._new_group.expired(person.new_group):
            person = await self._new_group.forget(person)
        if person.new_group is not None:
            # An answer to the step-by-step `new`, whatever its words.
            if not await self._first_time(request, taken):
                return Answer()
            mentions = await self._people.mentioned(request)
            return await self._new_group.answer(
                person, person.new_group, request.text, mentions, request.activity_key
            )
        if person.new_group_ended_by and request.activity_key == person.new_group_ended_by:
            return Answer()  # the dialog's last answer, sent again by Teams
        parsed = with_names(parse(request.text), request)
        if request.media and not (isinstance(parsed, Command) and parsed.verb is Verb.TO):
            # With a photo or file the words are its caption, whatever they start with.
            parsed = Chat((request.spoken or request.text).strip())
        # Messages are de-duplicated by their message id when stored; commands here, and
        # messages with photos or files too, before any download: a turn Teams sends again
        # while the first is still downloading and checking never starts that work twice.
        once = isinstance(parsed, Command) or bool(request.media)
        if once and not await self._first_time(request, taken):
            return Answer()
        mentions = await self._people.mentioned(request)
        answer = await self._chat(person, parsed, mentions, request, sender.active)
        return answer if answer.person is not None else replace(answer, person=person)

    async def _first_time(self, request: TeamsRequest, taken: list[str]) -> bool:
        key = f"activity:{request.activity_key}"
        first = await self._store.remember_once(key, self._clock.now(), DEDUPE_WINDOW)
        if first:
            taken.append(key)
        return first

    # group chats: only "@Send new <name>"

    async def _group_chat(self, request: TeamsRequest, taken: list[str]) -> Answer:
        if not request.mentions_bot:
            return Answer()
        parsed = parse(request.text)
        lang = language_of(request.sender.locale)
        if not isinstance(parsed, Command) or parsed.verb is not Verb.NEW or not parsed.target:
            return Answer(say(lang, "group_chat_help"))
        if not await self._first_time(request, taken):
            return Answer()
        entries = await self._roster.members(
            request.sender.service_url, request.conversation_id, at_most=MAX_MEMBERS
        )
        try:
            # Checked before anyone is registered, so a refused `new` writes nothing.
            check_chat_size(len(entries))
            name = check_name(parsed.target)
            everyone = await self._people.from_roster(request, entries)
            return Answer(await self._groups.create_from_chat(everyone, name, language=lang))
        except Refused as refusal:
            return Answer(refusal.say(lang))

    # the 1:1 chat

    async def _chat(
        self,
        person: Person,
        parsed: Command | Chat,
        mentions: tuple[Mention, ...],
        request: TeamsRequest,
        active: ActiveGroup | None,
    ) -> Answer:
        message_id = request.activity_key
        try:
            if isinstance(parsed, Chat):
                held = Held(
                    parsed.text,
                    request.media,
                    request.sender.service_url,
                    named(mentions, parsed.text),
                    styled=request.styled,
                )
                if request.quoted_copy:
                    quoted = await self._reactions.copy(person, request.quoted_copy)
                    if quoted is not None and quoted[0].has_member(person.person_id):
                        # Teams' Reply on a copy: an answer to that message, in its group.
                        group, original = quoted
                        held = replace(held, quote=Quote.of(original))
                        await self._posting.post(person, group, message_id, held)
                        return Answer()
                return await self._message(person, held, message_id, active)
            return await self._command(person, parsed, mentions, request)
        except NotACommand as refusal:
            return await self._sentences.offer(person, refusal, request, active)
        except Refused as refusal:
            return Answer(refusal.say(person.language))

    async def _message(
        self, person: Person, held: Held, message_id: str, active: ActiveGroup | None
    ) -> Answer:
        lang = person.language
        if not held.text and not held.media:
            return Answer(say(lang, "type_something"))
        self._relay.check_text(held.text, with_media=bool(held.media))
        if active is not None:
            # The usual case: the group and its members were read with the sender.
            await self._posting.post(person, active.group, message_id, held, known=active.people)
            self._people.remember_active(person, active.group)
            return Answer()
        if person.active_group_id:
            # One point read instead of a query over the person's groups.
            active_group = await self._groups.active(person)
            if active_group is not None:
                await self._posting.post(person, active_group, message_id, held)
                self._people.remember_active(person, active_group)
                return Answer()
        groups = await self._groups.of(person)
        if len(groups) == 1:
            await self._posting.post(person, groups[0], message_id, held)
            return Answer()
        if not groups:
            return Answer(say(lang, "no_groups_not_sent"))
        choices = tuple(GroupChoice(g.group_id, g.name) for g in groups)
        seal = self._media.seal(person.person_id, held.text, held.media)
        return Answer(
            say(lang, "which_group_pick"),
            buttons=GroupPicker(choices, held.text, held.media, seal),
        )

    async def _command(
        self, person: Person, c: Command, mentions: tuple[Mention, ...], request: TeamsRequest
    ) -> Answer:
        """What the command table says of the command is checked here; then its handler."""
        spec = c.spec
        lang = person.language
        if spec.shape is Shape.NOTHING and (c.target or c.rest):
            # "help me carry the boxes": help takes nothing, so these words are a sentence.
            why = text("sentence.takes_nothing", word=c.word)
            raise NotACommand(text("sentence.type_alone", word=c.word), why)
        if spec.shape is Shape.GROUP_AND_REST and not c.has_colon:
            refusal = text("write_it_as", usage=spec.usage_in(lang))
            if not c.target or await self._sentences.names_a_group(person, c.target):
                raise Refused(refusal)  # "add lunch bob@x.com": the command, colon forgotten
            # "add more chairs to the room": no group of theirs, no colon: a sentence.
            raise NotACommand(refusal, text("sentence.write_it_as", usage=spec.usage_in(lang)))
        group = None
        if spec.owner_only:
            group = await self._groups.owned(person, c.target, spec.owner_action_in(lang))
        return await self._commands.run(CommandCall(person, c, mentions, request, group))
