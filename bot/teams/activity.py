"""Reading what Send needs out of Bot Framework activities."""

from __future__ import annotations

import hashlib
import re

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ChannelAccount

from bot.core.addresses import Mention
from bot.core.people import TeamsUser

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def tenant_of(activity: Activity) -> str:
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (channel_data.get("tenant") or {}).get("id")
    if tenant:
        return str(tenant)
    conversation = activity.conversation
    return str(getattr(conversation, "tenant_id", "") or "") if conversation else ""


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None) if conversation else None
    return kind in (None, "personal") and not getattr(conversation, "is_group", False)


def sender_of(activity: Activity, email: str = "") -> TeamsUser:
    account: ChannelAccount = activity.from_property
    return TeamsUser(
        tenant_id=tenant_of(activity),
        user_id=account.id,
        display_name=account.name or "",
        service_url=activity.service_url or "",
        bot_id=activity.recipient.id if activity.recipient else "",
        email=email,
        aad_object_id=account.aad_object_id or "",
        conversation_id=activity.conversation.id if is_personal(activity) else "",
    )


def _mentioned(activity: Activity) -> list[tuple[str, str]]:
    """(user id, name) of every @mention; botbuilder keeps them in additional_properties."""
    found: list[tuple[str, str]] = []
    for entity in activity.entities or []:
        if (entity.type or "").lower() != "mention":
            continue
        mentioned = (getattr(entity, "additional_properties", None) or {}).get("mentioned") or {}
        user_id = str(mentioned.get("id", ""))
        if user_id and all(user_id != u for u, _ in found):
            found.append((user_id, str(mentioned.get("name", ""))))
    return found


def mentions_bot(activity: Activity) -> bool:
    bot_id = activity.recipient.id if activity.recipient else ""
    return any(user_id == bot_id for user_id, _ in _mentioned(activity))


def mentions_of(activity: Activity) -> list[tuple[str, str]]:
    """(user id, name) of everyone @mentioned except the bot itself."""
    bot_id = activity.recipient.id if activity.recipient else ""
    return [(u, n) for u, n in _mentioned(activity) if u != bot_id]


def command_text(activity: Activity) -> str:
    """The typed text without <at>…</at> mention markup (mentions travel separately)."""
    return _AT.sub(" ", activity.text or "").replace("&nbsp;", " ").strip()


def message_id_for(activity: Activity) -> str:
    """A stable id per inbound activity, so a re-sent activity maps to the same message."""
    raw = f"{tenant_of(activity)}|{activity.conversation.id}|{activity.id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def mention_of(user: TeamsUser) -> Mention:
    return Mention(user.user_id, user.display_name, user.email, user.aad_object_id)


async def reply_text(turn_context: TurnContext, text: str) -> None:
    await turn_context.send_activity(Activity(type="message", text=text, text_format="plain"))
