"""What the sender is told about copies of their message that could not be delivered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.model import Channel, Delivery, Group, Message, Person
from bot.core.sending.attempts import GONE, OUTLOOK_ONLY, QUIET
from bot.core.texts import Language, say, text


def welcome(group: Group, added_by: Person, *, language: Language) -> str:
    """What a new member reads first in their chat with Send, in their language."""
    return text(
        "notice.welcome", actor=added_by.display_name, group=group.name, count=len(group.members)
    ).say(language)


def outlook_only_line(name: str, group_name: str, why: str, *, language: Language) -> str:
    return say(language, "notice.outlook_only", person=name, group=group_name, why=why)


def failure_notice(
    message: Message,
    group: Group,
    failures: Sequence[Delivery],
    people: Mapping[str, Person],
    *,
    language: Language,
) -> str:
    """One line per kind of failure, in the sender's language; "" when there is nothing
    to say (already told)."""
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
            lines.append(say(language, "notice.gone_mailed", names=", ".join(gone)))
        else:
            lines.append(say(language, "notice.gone", names=", ".join(gone)))
    for d in failures:
        if d.last_error in (GONE, QUIET):
            continue
        if d.last_error.startswith(f"{OUTLOOK_ONLY}:"):
            why = d.last_error.removeprefix(f"{OUTLOOK_ONLY}:").strip()
            lines.append(
                outlook_only_line(name(d.recipient_id), group.name, why, language=language)
            )
        elif d.channel is Channel.OUTLOOK:
            lines.append(say(language, "notice.not_in_thread", group=group.name, why=d.last_error))
        else:
            lines.append(
                say(
                    language,
                    "notice.not_in_teams",
                    person=name(d.recipient_id),
                    group=group.name,
                    why=d.last_error,
                )
            )
    return "\n".join(lines)
