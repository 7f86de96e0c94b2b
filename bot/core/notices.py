"""What the sender is told about copies of their message that could not be delivered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.attempts import GONE, OUTLOOK_ONLY, QUIET
from bot.core.model import Channel, Delivery, Group, Message, Person


def welcome(group: Group, added_by: Person) -> str:
    """What a new member reads first in their chat with Send."""
    name = group.name
    return (
        f"{added_by.display_name} added you to {name} ({len(group.members)} people). Its "
        "messages reach you here and in Outlook; answer on a message's card, or type "
        f"to {name}: <text>. mute {name} stops them here, leave {name} takes you out."
    )


def outlook_only_line(name: str, group_name: str, why: str) -> str:
    return (
        f"{name} gets {group_name} by Outlook only: Send cannot reach them in Teams ({why}); "
        "it tries again tomorrow."
    )


def failure_notice(
    message: Message,
    group: Group,
    failures: Sequence[Delivery],
    people: Mapping[str, Person],
) -> str:
    """One line per kind of failure; "" when there is nothing to say (already told)."""
    mailed = {
        a.lower() for d in message.deliveries if d.channel is Channel.OUTLOOK for a in d.addresses
    }

    def name(recipient_id: str) -> str:
        person = people.get(recipient_id)
        return person.display_name if person else recipient_id

    lines = []
    gone = sorted(name(d.recipient_id) for d in failures if d.last_error == GONE)
    if gone:
        reached = [
            people[d.recipient_id]
            for d in failures
            if d.last_error == GONE and d.recipient_id in people
        ]
        if reached and all(p.email.lower() in mailed for p in reached):
            lines.append(
                f"{', '.join(gone)} could not be reached in Teams; they still get the Outlook copy."
            )
        else:
            lines.append(f"{', '.join(gone)} could not be reached in Teams.")
    for d in failures:
        if d.last_error in (GONE, QUIET):
            continue
        if d.last_error.startswith(f"{OUTLOOK_ONLY}:"):
            why = d.last_error.removeprefix(f"{OUTLOOK_ONLY}:").strip()
            lines.append(outlook_only_line(name(d.recipient_id), group.name, why))
        elif d.channel is Channel.OUTLOOK:
            lines.append(
                f"Your message to {group.name} was not added to its Outlook thread ({d.last_error})."
            )
        else:
            lines.append(
                f"{name(d.recipient_id)} did not get your message to {group.name} in Teams "
                f"({d.last_error})."
            )
    return "\n".join(lines)
