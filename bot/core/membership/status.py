"""`status`: what became of the sender's last message in a group, copy by copy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.core.model import REACTION_EMOJI, Channel, Delivery, DeliveryState, Group, Message, Person
from bot.core.sending.attempts import GONE, OUTLOOK_ONLY, QUIET
from bot.core.texts import Language, say, when


def status_text(
    group: Group,
    message: Message | None,
    people: Mapping[str, Person],
    sender: Person,
    now: datetime | None = None,
) -> str:
    """One line per outcome: in Teams, by Outlook only, pending, failed (with why), in the
    sender's language, the time in their zone."""
    lang = sender.language
    if message is None:
        return say(lang, "status.none", group=group.name)

    def name(person_id: str) -> str:
        person = people.get(person_id)
        if person is not None:
            return person.display_name
        member = group.member(person_id)
        return member.display_name if member is not None else say(lang, "a_former_member")

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
    at = when(lang, message.sent_at, sender.time_zone, now or message.sent_at)
    lines = [say(lang, "status.heading", group=group.name, when=at, text=_short(message.text))]
    lines.append(say(lang, "status.in_teams", names=", ".join(reached) or say(lang, "nobody_yet")))
    seen = sorted(name(d.recipient_id) for d in teams if d.state is DeliveryState.SENT and d.seen)
    if seen:
        lines.append(say(lang, "status.seen", names=", ".join(seen)))
    if message.reactions:
        given = ", ".join(
            f"{REACTION_EMOJI.get(kind, kind)} {name(person_id)}"
            for person_id, kind in message.reactions
        )
        lines.append(say(lang, "status.reactions", reactions=given))
    if outlook_only:
        lines.append(say(lang, "status.outlook_only", names=", ".join(outlook_only)))
    for d in pending:
        times = say(lang, "n.time", count=d.attempts)
        why = say(lang, "status.tried", times=times, error=d.last_error) if d.attempts else ""
        lines.append(say(lang, "status.pending", person=name(d.recipient_id), why=why))
    for d in failed:
        if _outlook_only(d):
            continue
        lines.append(say(lang, "status.failed", person=name(d.recipient_id), why=_reason(d, lang)))
    if mail is not None:
        lines.append(say(lang, "status.thread", state=_mail_state(mail, lang)))
    return "\n".join(lines)


def _outlook_only(delivery: Delivery) -> bool:
    return delivery.last_error == QUIET or delivery.last_error.startswith(f"{OUTLOOK_ONLY}:")


def _reason(delivery: Delivery, lang: Language) -> str:
    if delivery.last_error == GONE:
        return say(lang, "status.gone")
    return delivery.last_error or say(lang, "unknown")


def _mail_state(delivery: Delivery, lang: Language) -> str:
    people = say(lang, "n.person", count=len(delivery.addresses))
    if delivery.state is DeliveryState.SENT:
        return say(lang, "status.mail_sent", people=people)
    if delivery.state is DeliveryState.PENDING:
        return say(lang, "status.mail_pending", people=people)
    return say(lang, "status.mail_failed", error=delivery.last_error)


def _short(text: str, most: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"
