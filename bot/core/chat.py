"""What the bot answers in a person's 1:1 chat: one entry point for every command."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.addresses import Mention, parse_members
from bot.core.commands import HELP_TEXT, Chat, Command, Verb
from bot.core.groups import Groups
from bot.core.model import Group, Person, Source
from bot.core.relay import Refused, Relay


@dataclass(frozen=True)
class GroupChoice:
    group_id: str
    name: str


@dataclass(frozen=True)
class Reply:
    text: str = ""
    # When set, the bot offers these groups as buttons and holds `pending_text` until one is picked.
    choices: tuple[GroupChoice, ...] = ()
    pending_text: str = ""
    # `new` with no arguments: the Teams side runs the step-by-step dialog.
    start_new_group_dialog: str | None = None


class ChatHandler:
    def __init__(self, groups: Groups, relay: Relay) -> None:
        self.groups = groups
        self.relay = relay

    async def handle(
        self,
        person: Person,
        parsed: Command | Chat,
        mentions: tuple[Mention, ...],
        message_id: str,
    ) -> Reply:
        try:
            if isinstance(parsed, Chat):
                return await self._chat(person, parsed.text, message_id)
            return await self._command(person, parsed, mentions, message_id)
        except Refused as refusal:
            return Reply(str(refusal))

    async def post_to(self, person: Person, group_id: str, text: str, message_id: str) -> Reply:
        """A quick reply or a picked group: the group is named by id, not by name."""
        try:
            group = await self.groups.by_id(person, group_id)
            return await self._post(person, group, text, message_id)
        except Refused as refusal:
            return Reply(str(refusal))

    async def _post(self, person: Person, group: Group, text: str, message_id: str) -> Reply:
        await self.relay.post(person, group, text, Source.TEAMS, message_id)
        # No echo: the sender already sees what they typed.
        return Reply()

    async def _chat(self, person: Person, text: str, message_id: str) -> Reply:
        if not text:
            return Reply("Type a message, or help for the list of commands.")
        self.relay.check_text(text)
        if person.active_group_id:
            # The usual case: one point read instead of a query over the person's groups.
            active_group = await self.groups.active(person)
            if active_group is not None:
                return await self._post(person, active_group, text, message_id)
        groups = await self.groups.of(person)
        active = next((g for g in groups if g.group_id == person.active_group_id), None)
        if active is None and len(groups) == 1:
            active = groups[0]
        if active is not None:
            return await self._post(person, active, text, message_id)
        if not groups:
            return Reply(
                "You have no groups yet, so this was not sent. "
                "Create one with new <name>: <members>, or type help."
            )
        return Reply(
            "Which group is this for? Pick one; nothing was sent yet.",
            choices=tuple(GroupChoice(g.group_id, g.name) for g in groups),
            pending_text=text,
        )

    async def _command(
        self, person: Person, c: Command, mentions: tuple[Mention, ...], message_id: str
    ) -> Reply:
        g = self.groups
        match c.verb:
            case Verb.HELP:
                return Reply(HELP_TEXT)
            case Verb.NEW:
                if not c.has_colon and not mentions:
                    return Reply(start_new_group_dialog=c.target)
                return Reply(
                    (await g.create(person, c.target, parse_members(c.rest, mentions))).text
                )
            case Verb.GROUPS:
                return Reply(await g.list_text(person))
            case Verb.USE:
                return Reply(await g.use(person, c.target))
            case Verb.TO:
                if not c.has_colon:
                    raise Refused("Write it as to <group>: <text>.")
                return await self._post(person, await g.find(person, c.target), c.rest, message_id)
            case Verb.MEMBERS:
                return Reply(await g.members_text(person, c.target))
            case Verb.ADD:
                if not c.has_colon:
                    raise Refused("Write it as add <group>: <members>.")
                return Reply(await g.add(person, c.target, parse_members(c.rest, mentions)))
            case Verb.REMOVE:
                if not c.has_colon:
                    raise Refused("Write it as remove <group>: <member>.")
                ids = [m.teams_user_id for m in mentions]
                mentioned = [
                    p.person_id for p in await g.people_for_mentions(person.tenant_id, ids)
                ]
                return Reply(await g.remove(person, c.target, c.rest, mentioned))
            case Verb.RENAME:
                if not c.has_colon:
                    raise Refused("Write it as rename <group>: <new name>.")
                return Reply(await g.rename(person, c.target, c.rest))
            case Verb.LEAVE:
                return Reply(await g.leave(person, c.target))
            case Verb.DELETE:
                return Reply(await g.delete(person, c.target))
            case Verb.HISTORY:
                return Reply(await g.history_text(person, c.target))
            case Verb.MUTE | Verb.UNMUTE:
                return Reply(await g.mute(person, c.target, c.verb is Verb.MUTE))
            case Verb.OUTLOOK:
                return Reply(await g.outlook(person, c.target.lower() == "on"))
