"""A group managed from Outlook: the same changes as the Teams commands, by the same rules.

An Outlook card's manage buttons and the mail's manage links (a reply to the address
of that change, `bot.outlook.reply_address`) both end here, and here they become the
`Groups` calls the Teams commands make: one rule, wherever asked.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.errors import Refused
from bot.core.membership.groups import Groups
from bot.core.model import Group, Person
from bot.core.texts import text


class Manage(StrEnum):
    MUTE = "mute"
    UNMUTE = "unmute"
    OUTLOOK_OFF = "outlook_off"
    OUTLOOK_ON = "outlook_on"
    LEAVE = "leave"


async def manage(groups: Groups, person: Person, group: Group, change: Manage) -> str:
    """Makes the change for `person` in `group`; returns the same answer Teams gives.
    Refused: Outlook copies off for someone who does not read Send in Teams (they would
    get nothing at all, with no way to ask for them again)."""
    if change is Manage.OUTLOOK_OFF and not person.teams_chat_ready:
        raise Refused(text("outlook.off_needs_teams", group=group.name))
    if change is Manage.MUTE or change is Manage.UNMUTE:
        return await groups.mute(person, group.name, change is Manage.MUTE)
    if change is Manage.OUTLOOK_OFF or change is Manage.OUTLOOK_ON:
        return await groups.outlook(person, change is Manage.OUTLOOK_ON)
    return await groups.leave(person, group.name)
