"""A group managed from Outlook: the same changes as the Teams commands, by the same rules.

An Outlook card's manage buttons and the mail's manage links (a reply to the group's
reply address reading `mute Lunch`, `outlook off`, `leave Lunch`) both end here, and
here they become the `Groups` calls the Teams commands make: one rule, wherever asked.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.membership.group_rules import name_key
from bot.core.membership.groups import Groups
from bot.core.model import Group, Person
from bot.core.turn.commands import Command, Verb, parse, switched_on


class Manage(StrEnum):
    MUTE = "mute"
    UNMUTE = "unmute"
    OUTLOOK_OFF = "outlook_off"
    OUTLOOK_ON = "outlook_on"
    LEAVE = "leave"


def manage_of(text: str, group: Group) -> Manage | None:
    """The change a mailed line asks for in `group`: a Teams command (`mute Lunch`,
    `unmute`, `leave Lunch`, `outlook off` and their French words) naming that group or
    none; None for anything else, which is then a message like any other."""
    command = parse(text)
    if not isinstance(command, Command):
        return None
    if command.verb is Verb.OUTLOOK:
        return Manage.OUTLOOK_ON if switched_on(command) else Manage.OUTLOOK_OFF
    named = name_key(command.target)
    if command.rest or (named and named != name_key(group.name)):
        return None
    return {
        Verb.MUTE: Manage.MUTE,
        Verb.UNMUTE: Manage.UNMUTE,
        Verb.LEAVE: Manage.LEAVE,
    }.get(command.verb)


async def manage(groups: Groups, person: Person, group: Group, change: Manage) -> str:
    """Makes the change for `person` in `group`; returns the same answer Teams gives."""
    if change is Manage.MUTE or change is Manage.UNMUTE:
        return await groups.mute(person, group.name, change is Manage.MUTE)
    if change is Manage.OUTLOOK_OFF or change is Manage.OUTLOOK_ON:
        return await groups.outlook(person, change is Manage.OUTLOOK_ON)
    return await groups.leave(person, group.name)
