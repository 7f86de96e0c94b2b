"""`status`: what became of the sender's last message in a group, copy by copy."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.attempts import GONE, OUTLOOK_ONLY, QUIET
from bot.core.model import Channel, Delivery, DeliveryState, Group, Message, Person


def status_text(
    group: Group, message: Message | None, people: Mapping[str, Person], sender: Person
) -> str:
    """One line per outcome: in Teams, by Outlook only, pending, failed (with why)."""
    if message is None:
        return (
            f"You have not written to {group.name} lately (status looks at its last 10 messages)."
        )

    def name(person_id: str) -> str:
        person = people.get(person_id)
        if person is not None:
            return person.display_name
        member = group.member(person_id)
        return member.display_name if member is not None else "a former member"

    teams = [d for d in message.deliveries if d.channel is Channel.TEAMS]
    mail = next((d for d in message.deliveries if d.channel is Channel.OUTLOOK), None)
    mailed = {a.lower() for a in mail.addresses} if mail is not None else set()
    reached = sorted(name(d.recipient_id) for d in teams if d.state is DeliveryState.SENT)
    pending = [d for d in teams if d.state is DeliveryState.PENDING]
    failed = [d for d in teams if d.state is DeliveryState.FAILED]
    no_teams_copy = {d.recipient_id for d in failed if _outlook_only(d)} | (
        {m.person_id for m in group.members} - {d.recipient_id for d in teams}
    )
    outlook_only = sorted(
        name(p)
        for p in no_teams_copy - {sender.person_id}
        if p in people and people[p].email.lower() in mailed
    )
    lines = [
        f'Your last message to {group.name} ({message.sent_at:%d %b %H:%M} UTC): "{_short(message.text)}"'
    ]
    lines.append(f"- In Teams: {', '.join(reached) or 'nobody yet'}")
    if outlook_only:
        lines.append(f"- By Outlook only: {', '.join(outlook_only)}")
    for d in pending:
        why = f" (tried {d.attempts} times: {d.last_error})" if d.attempts else ""
        lines.append(f"- Still pending in Teams: {name(d.recipient_id)}{why}")
    for d in failed:
        if _outlook_only(d):
            continue
        lines.append(f"- Not delivered in Teams: {name(d.recipient_id)} ({_reason(d)})")
    if mail is not None:
        lines.append(f"- Outlook thread: {_mail_state(mail)}")
    return "\n".join(lines)


def _outlook_only(delivery: Delivery) -> bool:
    return delivery.last_error == QUIET or delivery.last_error.startswith(f"{OUTLOOK_ONLY}:")


def _reason(delivery: Delivery) -> str:
    if delivery.last_error == GONE:
        return "they removed or blocked Send, or left Teams"
    return delivery.last_error or "unknown"


def _mail_state(delivery: Delivery) -> str:
    count = len(delivery.addresses)
    people = f"{count} {'person' if count == 1 else 'people'}"
    if delivery.state is DeliveryState.SENT:
        return f"added, for {people}"
    if delivery.state is DeliveryState.PENDING:
        return f"being added, for {people}"
    return f"not added ({delivery.last_error})"


def _short(text: str, most: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"
