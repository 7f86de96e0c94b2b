"""What each command does: one handler per verb of the command table.

`Conversation` checks what the table says of a command (its shape; for an owner-only
command, that the person owns the group) and then looks its handler up here: one
dictionary, filled once, that must name every `Verb` (a missing one stops the app at
start, and tests/unit/test_commands.py checks the table, the handlers, help and the text
catalog against each other).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.errors import Refused
from bot.core.features.meeting_watch import MeetingWatch
from bot.core.features.meetings import Meetings
from bot.core.features.polls import Polls
from bot.core.membership.addresses import Mention, parse_members
from bot.core.membership.groups import Groups
from bot.core.membership.people import ActiveGroup
from bot.core.model import Group, Person
from bot.core.turn.commands import Command, Verb, help_text, switched_on
from bot.core.turn.held import Held, Posting, named
from bot.core.turn.new_group import NewGroupDialog
from bot.core.turn.requests import Answer, MeetingPicker, TeamsRequest


@dataclass(frozen=True)
class CommandCall:
    """One command as typed, by whom, and (for owner-only commands) the group they own."""

    person: Person
    command: Command
    mentions: tuple[Mention, ...]
    request: TeamsRequest
    group: Group | None = None

    @property
    def owned(self) -> Group:
        """The group of an owner-only command, checked as theirs before the handler runs."""
        if self.group is None:
            raise TypeError(f"{self.command.verb} is not an owner-only command")
        return self.group


Handler = Callable[[CommandCall], Awaitable[Answer]]
# Sends held words as a message: to the active group, or the group picker (Conversation's).
SendMessage = Callable[[Person, Held, str, ActiveGroup | None], Awaitable[Answer]]


class CommandHandlers:
    def __init__(
        self,
        groups: Groups,
        polls: Polls,
        posting: Posting,
        send_message: SendMessage,
        new_group: NewGroupDialog,
        meetings: Meetings,
        watch: MeetingWatch,
    ) -> None:
        self._watch = watch
        self._groups = groups
        self._meetings = meetings
        self._new_group = new_group
        self._polls = polls
        self._posting = posting
        self._send_message = send_message
        self._handlers: dict[Verb, Handler] = {
            Verb.HELP: self._help,
            Verb.NEW: self._new,
            Verb.GROUPS: self._list,
            Verb.USE: self._use,
            Verb.TO: self._to,
            Verb.MEMBERS: self._members,
            Verb.ADD: self._add,
            Verb.REMOVE: self._remove,
            Verb.RENAME: self._rename,
            Verb.LEAVE: self._leave,
            Verb.DELETE: self._delete,
            Verb.HISTORY: self._history,
            Verb.STATUS: self._status,
            Verb.POLL: self._poll,
            Verb.MUTE: self._mute,
            Verb.UNMUTE: self._mute,
            Verb.OUTLOOK: self._outlook,
            Verb.RECEIPTS: self._receipts,
            Verb.MEETING: self._meeting,
            Verb.NUDGE: self._nudge,
        }
        missing = set(Verb) - set(self._handlers)
        if missing:
            raise TypeError(f"commands without a handler: {sorted(missing)}")

    @property
    def verbs(self) -> frozenset[Verb]:
        return frozenset(self._handlers)

    async def run(self, call: CommandCall) -> Answer:
        return await self._handlers[call.command.verb](call)

    async def _help(self, call: CommandCall) -> Answer:
        return Answer(help_text(language=call.person.language))

    async def _new(self, call: CommandCall) -> Answer:
        c = call.command
        if not c.has_colon and not call.mentions:
            return await self._new_group.start(call.person, c.target)
        members = parse_members(c.rest, call.mentions)
        return Answer((await self._groups.create(call.person, c.target, members)).text)

    async def _list(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.list_text(call.person))

    async def _use(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.use(call.person, call.command.target))

    async def _to(self, call: CommandCall) -> Answer:
        c, request = call.command, call.request
        held = Held(c.rest, request.media, request.sender.service_url, named(call.mentions, c.rest))
        try:
            group = await self._groups.find(call.person, c.target)
        except Refused as refusal:
            if c.word not in c.spec.colon_only:
                # "to <group>: <text>" names where its text goes: a wrong name is that
                # command's mistake, not a sentence to send elsewhere.
                raise Refused(refusal.reason) from None
            # "pour info : ..." is a French sentence, not a group: a message.
            whole = Held((request.spoken or request.text).strip(), request.media)
            return await self._send_message(call.person, whole, request.activity_key, None)
        await self._posting.post(call.person, group, request.activity_key, held)
        return Answer()

    async def _members(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.members_text(call.person, call.command.target))

    async def _leave(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.leave(call.person, call.command.target))

    async def _history(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.history_text(call.person, call.command.target))

    async def _status(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.status_text(call.person, call.command.target))

    async def _poll(self, call: CommandCall) -> Answer:
        group = await self._groups.find(call.person, call.command.target)
        await self._polls.ask(call.person, group, call.command.rest, call.request.activity_key)
        return Answer()

    async def _mute(self, call: CommandCall) -> Answer:
        muted = call.command.verb is Verb.MUTE
        return Answer(await self._groups.mute(call.person, call.command.target, muted))

    async def _outlook(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.outlook(call.person, switched_on(call.command)))

    async def _receipts(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.receipts(call.person, switched_on(call.command)))

    async def _meeting(self, call: CommandCall) -> Answer:
        offer = await self._meetings.offer(call.person, call.command.target)
        picker = MeetingPicker(offer.choices) if offer.choices else None
        return Answer(offer.text, buttons=picker)

    # owner-only (`owner_only` in the command table): `call.owned` is theirs

    async def _add(self, call: CommandCall) -> Answer:
        members = parse_members(call.command.rest, call.mentions)
        return Answer(await self._groups.add(call.person, call.owned, members))

    async def _remove(self, call: CommandCall) -> Answer:
        ids = [m.teams_user_id for m in call.mentions]
        people = await self._groups.people_for_mentions(call.person.tenant_id, ids)
        mentioned = [p.person_id for p in people]
        return Answer(
            await self._groups.remove(call.person, call.owned, call.command.rest, mentioned)
        )

    async def _nudge(self, call: CommandCall) -> Answer:
        return Answer(await self._watch.nudge(call.person, call.owned))

    async def _rename(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.rename(call.person, call.owned, call.command.rest))

    async def _delete(self, call: CommandCall) -> Answer:
        return Answer(await self._groups.delete(call.person, call.owned))
