"""Reading a Bot Framework activity, once, into the core's plain `TeamsRequest`."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.core.model import Styled
from bot.core.turn.requests import (
    ActionKind,
    CardAction,
    IncomingMedia,
    MentionedUser,
    TeamsRequest,
    TeamsUser,
)
from bot.teams.cards import (
    ANSWER_ACTION,
    MEETING_ACTION,
    PICK_ACTION,
    REPLY_ACTION,
    REPLY_INPUT,
    VOTE_ACTION,
    read_held_media,
)
from bot.teams.rich_text import HTML_CONTENT_TYPE, ReadHtml, read_html

# A file sent to the bot in a 1:1 chat (manifest `supportsFiles`): `content.downloadUrl`
# is a pre-authorised, short-lived link to the file in the sender's OneDrive.
FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"[ \t]{2,}")


def _has_id(account: Any) -> bool:
    return isinstance(getattr(account, "id", None), str) and bool(account.id)


def activity_problem(activity: Activity) -> str | None:
    """What makes `activity` unusable for a turn (the reason for a 400), else None.

    Checked once, before the turn, so the turn can rely on the shape Teams always sends:
    botbuilder's models accept any of these fields missing or of another JSON type."""
    if not _has_id(activity.conversation):
        return "the activity needs a conversation with an id"
    if not _has_id(activity.from_property):
        return "the activity needs from with an id"
    if activity.recipient is None:
        return "the activity needs a recipient"
    if not isinstance(activity.service_url, str) or not activity.service_url:
        return "the activity needs a serviceUrl"
    channel_data = activity.channel_data
    if channel_data is not None:
        if not isinstance(channel_data, dict):
            return "channelData must be an object"
        tenant = channel_data.get("tenant")
        if tenant is not None and not (
            isinstance(tenant, dict) and isinstance(tenant.get("id"), str)
        ):
            return "channelData.tenant must be an object with a string id"
    attachments = activity.attachments
    if attachments is not None:
        if not isinstance(attachments, list):
            return "attachments must be a list"
        for item in attachments:
            if not isinstance(item.content_type, str):
                return "an attachment needs a contentType string"
            if item.content_url is not None and not isinstance(item.content_url, str):
                return "an attachment's contentUrl must be a string"
            if item.name is not None and not isinstance(item.name, str):
                return "an attachment's name must be a string"
    if activity.type == "message" and not tenant_of(activity):
        # Teams names the organisation on every message; without it a person would be
        # registered outside any tenant, where no rule about tenants applies.
        return "the activity names no tenant (channelData.tenant.id)"
    entities = activity.entities
    if entities is not None:
        if not isinstance(entities, list):
            return "entities must be a list"
        for entity in entities:
            if not isinstance(entity.type, str) or entity.type.lower() != "mention":
                continue
            who = (getattr(entity, "additional_properties", None) or {}).get("mentioned")
            if not (isinstance(who, dict) and isinstance(who.get("id"), str)):
                return "a mention needs mentioned, an object with a string id"
    return None


def tenant_of(activity: Activity) -> str:
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (channel_data.get("tenant") or {}).get("id")
    if tenant:
        return str(tenant)
    conversation = activity.conversation
    if conversation is None:
        return ""
    # botbuilder maps "tenantID"; Teams writes "tenantId", which lands in the extras.
    extra = getattr(conversation, "additional_properties", None) or {}
    return str(getattr(conversation, "tenant_id", "") or extra.get("tenantId") or "")


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None) if conversation else None
    return kind in (None, "personal") and not getattr(conversation, "is_group", False)


def mentioned(activity: Activity) -> list[MentionedUser]:
    """Everyone @mentioned, the bot included; botbuilder keeps them in additional_properties."""
    found: list[MentionedUser] = []
    for entity in activity.entities or []:
        if (entity.type or "").lower() != "mention":
            continue
        who = (getattr(entity, "additional_properties", None) or {}).get("mentioned") or {}
        user_id = str(who.get("id", ""))
        if user_id and all(user_id != m.user_id for m in found):
            found.append(
                MentionedUser(
                    user_id, str(who.get("name", "")), str(who.get("aadObjectId", "") or "")
                )
            )
    return found


def mentions_of(activity: Activity) -> tuple[MentionedUser, ...]:
    """Everyone @mentioned except the bot itself."""
    bot_id = activity.recipient.id if activity.recipient else ""
    return tuple(m for m in mentioned(activity) if m.user_id != bot_id)


def command_text(activity: Activity) -> str:
    """The typed text without <at>…</at> mention markup (mentions travel separately)."""
    return _AT.sub(" ", activity.text or "").replace("&nbsp;", " ").strip()


def spoken_text(activity: Activity) -> str:
    """The typed text with each @mention shown as its name, as the reader saw it; the
    bot's own mention (how a group chat addresses it) is dropped."""
    bot_id = activity.recipient.id if activity.recipient else ""
    bot_tags = set()
    for entity in activity.entities or []:
        extra = getattr(entity, "additional_properties", None) or {}
        if (entity.type or "").lower() == "mention" and (extra.get("mentioned") or {}).get(
            "id"
        ) == bot_id:
            bot_tags.add(str(extra.get("text", "")))

    def shown(match: re.Match[str]) -> str:
        return "" if match.group(0) in bot_tags else match.group(1).strip()

    text = _AT.sub(shown, activity.text or "").replace("&nbsp;", " ")
    return _SPACES.sub(" ", text).strip()


def activity_key(activity: Activity) -> str:
    """A stable id per inbound activity, so a re-sent activity maps to the same message."""
    if not activity.id:
        return uuid.uuid4().hex  # nothing to recognise a re-send by: each one is new
    raw = f"{tenant_of(activity)}|{activity.conversation.id}|{activity.id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _card_action(activity: Activity) -> CardAction | None:
    value: Any = activity.value
    if not isinstance(value, dict):
        return None
    kind = value.get("sendAction")
    group_id = str(value.get("groupId", ""))
    card_id = activity.reply_to_id or ""
    message_id = str(value.get("messageId", "") or "")
    if kind == REPLY_ACTION:
        text = str(value.get(REPLY_INPUT, "") or "")
        return CardAction(ActionKind.REPLY, group_id, text, card_id, message_id)
    if kind == VOTE_ACTION:
        option = value.get("option")
        text = str(option) if isinstance(option, int) and not isinstance(option, bool) else ""
        return CardAction(ActionKind.VOTE, group_id, text, card_id, message_id)
    if kind == ANSWER_ACTION:
        # Teams submits the card's inputs with the button's data: the reply box too.
        text = str(value.get("answer", "") or "")
        typed = str(value.get(REPLY_INPUT, "") or "").strip()
        return CardAction(ActionKind.ANSWER, group_id, text, card_id, message_id, typed=typed)
    if kind == MEETING_ACTION:
        meeting, start = value.get("meeting"), value.get("start")
        text = meeting if isinstance(meeting, str) else ""
        return CardAction(
            ActionKind.MEETING, "", text, card_id, start=start if isinstance(start, str) else ""
        )
    if kind == PICK_ACTION:
        return CardAction(
            ActionKind.PICK,
            group_id,
            str(value.get("text", "")),
            activity.reply_to_id or "",
            media=read_held_media(value.get("media")),
            seal=str(value.get("seal", "") or ""),
        )
    return None


def media_of(activity: Activity) -> tuple[IncomingMedia, ...]:
    """Pictures pasted and files attached. The text/html attachment Teams adds to a message
    with a picture is the message as Teams drew it, not something sent: it is left out,
    like cards."""
    found = []
    for item in activity.attachments or []:
        kind = item.content_type.lower()
        if kind == FILE_DOWNLOAD_INFO:
            content = item.content if isinstance(item.content, dict) else {}
            url = content.get("downloadUrl")
            if isinstance(url, str) and url:
                file_type = str(content.get("fileType", "") or "")
                found.append(IncomingMedia(url, item.name or "", file_type, needs_bot_token=False))
        elif kind.startswith("image/") and item.content_url:
            found.append(
                IncomingMedia(item.content_url, item.name or "", kind, needs_bot_token=True)
            )
    return tuple(found)


def typed_html(activity: Activity) -> ReadHtml | None:
    """The message as Teams drew it (its `text/html` attachment), sanitised and read; None
    when there is none, or it cannot stand for the text (mentions, pictures)."""
    for item in activity.attachments or []:
        if (item.content_type or "").lower() == HTML_CONTENT_TYPE and isinstance(item.content, str):
            return read_html(item.content)
    return None


def client_info(activity: Activity) -> tuple[str, str]:
    """(locale, IANA time zone) of the sender: the `clientInfo` entity Teams sends on every
    message, else the activity's `locale`; "" for what neither says."""
    locale = activity.locale if isinstance(activity.locale, str) else ""
    zone = ""
    for entity in activity.entities or []:
        if not isinstance(entity.type, str) or entity.type.lower() != "clientinfo":
            continue
        extra = getattr(entity, "additional_properties", None) or {}
        if isinstance(extra.get("locale"), str) and extra["locale"]:
            locale = extra["locale"]
        if isinstance(extra.get("timezone"), str):
            zone = extra["timezone"]
    return locale[:35], zone[:64]


def read_request(activity: Activity) -> TeamsRequest:
    personal = is_personal(activity)
    account = activity.from_property
    bot_id = activity.recipient.id if activity.recipient else ""
    locale, zone = client_info(activity)
    sender = TeamsUser(
        tenant_id=tenant_of(activity),
        user_id=account.id,
        display_name=account.name or "",
        service_url=activity.service_url or "",
        bot_id=bot_id,
        aad_object_id=account.aad_object_id or "",
        conversation_id=activity.conversation.id if personal else "",
        locale=locale,
        time_zone=zone,
    )
    text, spoken, quoted = command_text(activity), spoken_text(activity), ""
    styled: tuple[Styled, ...] = ()
    # A message, or an edit of one (messageUpdate carries the edited message the same way).
    typed = (
        typed_html(activity) if personal and activity.type in ("message", "messageUpdate") else None
    )
    if typed is not None and (typed.styled or typed.quoted):
        # The HTML says more than `text`: its formatting, or the message it quotes (which
        # `text` may include as if typed).
        text, spoken, styled, quoted = typed.text, typed.text, typed.styled, typed.quoted
    return TeamsRequest(
        sender=sender,
        conversation_id=activity.conversation.id,
        personal=personal,
        activity_key=activity_key(activity),
        text=text,
        styled=styled,
        quoted_copy=quoted,
        spoken=spoken,
        mentions=mentions_of(activity),
        mentions_bot=any(m.user_id == bot_id for m in mentioned(activity)),
        action=_card_action(activity) if activity.type == "message" else None,
        media=media_of(activity) if personal and activity.type == "message" else (),
    )


async def reply_text(turn_context: TurnContext, text: str) -> None:
    await turn_context.send_activity(plain_message(text))


def plain_message(text: str) -> Activity:
    """An answer or notice of Send's, as Teams' `xml` text format: HTML, whose escaping is
    documented (entities), unlike markdown's. Everything in it is escaped text: names and
    what people typed show exactly as written, with no backslash anywhere; its lines are
    kept as lines."""
    return Activity(type="message", text=as_html(text), text_format="xml")


def as_html(text: str) -> str:
    # Escaping leaves line breaks as they are: one pass, then each becomes a <br>.
    return html.escape(text, quote=False).replace("\n", "<br>")
