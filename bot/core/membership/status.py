"""`status`: what became of the sender's last message in a group, copy by copy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.core.model import (
    REACTION_EMOJI,
    Channel,
    Delivery,
    DeliveryState,
    Group,
    Message,
    Person,
    reaction_tally,
)
from bot.core.sending.attempts import GONE, OUTLOOK_ONLY, QUIET
from bot.core.texts import Language, say, when

# Up to this many reactions, a receipt names who gave each; past it, it counts them.
MAX_REACTIONS_NAMED = 3


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
        return _name(person_id, group, people, lang)

    fate = _fate(group, message, people, sender)
    reached = sorted(name(d.recipient_id) for d in fate.reached)
    outlook_only = sorted(name(p) for p in fate.outlook_only)
    at = when(lang, message.sent_at, sender.time_zone, now or message.sent_at)
    lines = [say(lang, "status.heading", group=group.name, when=at, text=_short(message.text))]
    lines.append(say(lang, "status.in_teams", names=", ".join(reached) or say(lang, "nobody_yet")))
    seen = sorted(name(d.recipient_id) for d in fate.reached if d.seen)
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
    for d in fate.pending:
        times = say(lang, "n.time", count=d.attempts)
        why = say(lang, "status.tried", times=times, error=d.last_error) if d.attempts else ""
        lines.append(say(lang, "status.pending", person=name(d.recipient_id), why=why))
    for d in fate.failed:
        lines.append(say(lang, "status.failed", person=name(d.recipient_id), why=_reason(d, lang)))
    if fate.mail is not None:
        lines.append(say(lang, "status.thread", state=_mail_state(fate.mail, lang)))
    return "\n".join(lines)


def receipt_text(
    group: Group, message: Message, people: Mapping[str, Person], sender: Person
) -> str:
    """The line under a message in its sender's chat: "Sent to Lunch · delivered 4 of 4 ·
    seen by 3 · 👍 Megan". Counts, names of who reacted: never the message's words."""
    lang = sender.language
    if message.deleted_at is not None:
        return say(lang, "receipt.deleted", group=group.name)
    fate = _fate(group, message, people, sender)
    mailed = fate.mail is not None and fate.mail.state is DeliveryState.SENT
    delivered = len(fate.reached) + (len(fate.outlook_only) if mailed else 0)
    total = len(fate.reached) + len(fate.pending) + len(fate.failed) + len(fate.outlook_only)
    parts = [say(lang, "receipt.sending" if fate.pending else "receipt.sent", group=group.name)]
    if total:
        parts.append(say(lang, "receipt.delivered", count=delivered, total=total))
    seen = sum(d.seen for d in fate.reached)
    if seen:
        parts.append(say(lang, "receipt.seen", count=seen))
    if fate.outlook_only:
        parts.append(say(lang, "receipt.by_outlook", count=len(fate.outlook_only)))
    if fate.failed:
        parts.append(say(lang, "receipt.failed", count=len(fate.failed), group=group.name))
    if message.edited_at is not None:
        parts.append(say(lang, "receipt.edited"))
    if message.reactions:
        parts.append(_reactions_in_short(message, group, people, lang))
    return " · ".join(parts)


@dataclass(frozen=True)
class _Fate:
    """What became of a message's copies, by outcome."""

    reached: tuple[Delivery, ...]  # Teams copies delivered
    pending: tuple[Delivery, ...]  # Teams copies still being tried
    failed: tuple[Delivery, ...]  # Teams copies given up, not for "Outlook only"
    outlook_only: tuple[str, ...]  # members (not the sender) who get it by mail alone
    mail: Delivery | None  # the Outlook thread's mail


def _fate(group: Group, message: Message, people: Mapping[str, Person], sender: Person) -> _Fate:
    teams = [d for d in message.deliveries if d.channel is Channel.TEAMS and not d.retract]
    mail = next((d for d in message.deliveries if d.channel is Channel.OUTLOOK), None)
    mailed = {a.lower() for a in mail.addresses} if mail is not None else set()
    failed = [d for d in teams if d.state is DeliveryState.FAILED]
    no_teams_copy = {d.recipient_id for d in failed if _outlook_only(d)} | (
        {m.person_id for m in group.members} - {d.recipient_id for d in teams}
    )
    return _Fate(
        reached=tuple(d for d in teams if d.state is DeliveryState.SENT),
        pending=tuple(d for d in teams if d.state is DeliveryState.PENDING),
        failed=tuple(d for d in failed if not _outlook_only(d)),
        outlook_only=tuple(
            p
            for p in sorted(no_teams_copy - {sender.person_id})
            if p in people and people[p].email.lower() in mailed
        ),
        mail=mail,
    )


def _reactions_in_short(
    message: Message, group: Group, people: Mapping[str, Person], lang: Language
) -> str:
    """Who reacted how, by name while they are few ("👍 Megan, ❤️ Adele"), else by count
    ("👍 12 · ❤️ 3")."""
    if len(message.reactions) <= MAX_REACTIONS_NAMED:
        return ", ".join(
            f"{REACTION_EMOJI.get(kind, kind)} {_name(person_id, group, people, lang)}"
            for person_id, kind in message.reactions
        )
    return " · ".join(f"{emoji} {count}" for emoji, count in reaction_tally(message))


def _name(person_id: str, group: Group, people: Mapping[str, Person], lang: Language) -> str:
    person = people.get(person_id)
    if person is not None:
        return person.display_name
    member = group.member(person_id)
    return member.display_name if member is not None else say(lang, "a_former_member")


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
