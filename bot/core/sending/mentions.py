"""Which people a message @mentions Teams can show as mentions in a card."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.model import Group, Message, Person
from bot.core.ports import TeamsMention


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
