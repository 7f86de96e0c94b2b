"""Adaptive Cards the bot sends in Teams (schema 1.5).

Text people typed is put in `TextRun`s, which Teams shows literally: markdown or
HTML in a message never turns into formatting or links it did not contain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.features.one_tap import one_tap_answers
from bot.core.model import MediaKind, Styled
from bot.core.ports import RelayedMessage, SharedMedia, TeamsMention
from bot.core.texts import Language, say
from bot.core.turn.requests import GroupChoice, IncomingMedia, MeetingChoice
from bot.markdown import literal
from bot.media.rules import size_text

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"

# The `sendAction` field of Action.Submit data tells the bot what a button means.
REPLY_ACTION = "reply"
ANSWER_ACTION = "answer"
VOTE_ACTION = "vote"
PICK_ACTION = "pick"
MEETING_ACTION = "meeting"
REPLY_INPUT = "reply"
RECEIPT_ID = "receipt"

Card = dict[str, Any]


def _card(body: list[Card], actions: list[Card] | None = None) -> Card:
    card: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if actions:
        card["actions"] = actions
    return card


def _plain(text: str, **style: Any) -> Card:
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def _header(message: RelayedMessage) -> Card:
    inlines = [
        {"type": "TextRun", "text": message.sender_name, "weight": "Bolder"},
        {
            "type": "TextRun",
            "text": say(message.language, "card.in_group", group=message.group_name),
            "isSubtle": True,
        },
    ]
    if message.edited:
        edited = say(message.language, "card.edited")
        inlines.append({"type": "TextRun", "text": f" · {edited}", "isSubtle": True})
    return {"type": "RichTextBlock", "inlines": inlines}


def _content(message: RelayedMessage) -> list[Card]:
    """The message itself: its pictures, its files, then its text (a caption may be empty),
    and the members' reactions."""
    body = [_shared(item, message.language) for item in message.media]
    if message.quote:
        body.append(_plain(message.quote, isSubtle=True))
    if message.mentions and message.text:
        body.append(_with_mentions(message.text, message.mentions))
    elif message.styled:
        body.append(_styled(message.styled))
    elif message.text or not message.media:
        body.append(_plain(message.text))
    if message.reactions:
        tally = " · ".join(f"{emoji} {count}" for emoji, count in message.reactions)
        body.append(_plain(tally, isSubtle=True))
    return body


def _styled(pieces: Sequence[Styled]) -> Card:
    """Text with the formatting it was typed with, each piece a `TextRun` (shown as it is:
    the look comes from the run's properties, never from characters in the text)."""
    inlines = []
    for piece in pieces:
        run: Card = {"type": "TextRun", "text": piece.text}
        if piece.bold:
            run["weight"] = "Bolder"
        if piece.italic:
            run["italic"] = True
        if piece.strike:
            run["strikethrough"] = True
        if piece.link:
            run["selectAction"] = {"type": "Action.OpenUrl", "url": piece.link}
            run["color"] = "Accent"
            run["underline"] = True
        inlines.append(run)
    return {"type": "RichTextBlock", "inlines": inlines}


def _with_mentions(text: str, mentions: Sequence[TeamsMention]) -> Card:
    """The text with each mentioned member as a Teams mention (`<at>name</at>`, the first
    time the name appears). Mentions need a TextBlock, which reads markdown, so everything
    else is escaped to show literally; a `<at>` typed by someone is escaped like the rest."""
    parts, rest = [], text
    for mention in mentions:
        before, found, after = rest.partition(mention.name)
        if not found:
            continue
        parts += [literal(before), f"<at>{literal(mention.name)}</at>"]
        rest = after
    parts.append(literal(rest))
    return {"type": "TextBlock", "text": "".join(parts), "wrap": True}


def mention_entities(message: RelayedMessage) -> list[Card]:
    """The card's `msteams.entities`: one per mention its text shows."""
    if not message.text:
        return []
    shown = _with_mentions(message.text, message.mentions)["text"]
    return [
        {
            "type": "mention",
            "text": f"<at>{literal(m.name)}</at>",
            "mentioned": {"id": m.teams_id, "name": m.name},
        }
        for m in message.mentions
        if f"<at>{literal(m.name)}</at>" in shown
    ]


def _shared(shared: SharedMedia, language: Language) -> Card:
    item = shared.item
    if item.kind is MediaKind.PHOTO:
        # Teams fetches the picture from our signed link; a tap opens it full size.
        return {
            "type": "Image",
            "url": shared.link,
            "altText": item.name,
            "msTeams": {"allowExpand": True},
            "selectAction": {"type": "Action.OpenUrl", "url": shared.link},
        }
    return {
        "type": "Container",
        "style": "emphasis",
        "items": [
            {
                "type": "RichTextBlock",
                "inlines": [
                    {"type": "TextRun", "text": item.name, "weight": "Bolder"},
                    {
                        "type": "TextRun",
                        "text": f"  {size_text(item.size, language=language)}",
                        "isSubtle": True,
                    },
                ],
            },
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.OpenUrl",
                        "title": say(language, "card.download"),
                        "url": shared.link,
                    }
                ],
            },
        ],
    }


def relayed_message_card(message: RelayedMessage, max_chars: int) -> Card:
    """A message as members get it: a row of one-tap answers, and a typed reply, in the
    reader's language (the answers are relayed as shown)."""
    lang = message.language
    data = {"groupId": message.group_id, "messageId": message.message_id}
    answers = {
        "type": "ActionSet",
        "actions": [
            {
                "type": "Action.Submit",
                "title": answer,
                "data": {"sendAction": ANSWER_ACTION, "answer": answer, **data},
            }
            for answer in one_tap_answers(language=lang)
        ],
    }
    card = _card(
        [
            _header(message),
            *_content(message),
            answers,
            {
                "type": "Input.Text",
                "id": REPLY_INPUT,
                "placeholder": say(lang, "card.reply_to", group=message.group_name),
                "maxLength": max_chars,
            },
        ],
        [
            {
                "type": "Action.Submit",
                "title": say(lang, "card.reply"),
                "data": {"sendAction": REPLY_ACTION, **data},
            }
        ],
    )
    entities = mention_entities(message) if message.mentions else []
    if entities:
        card["msteams"] = {"entities": entities}
    return card


def poll_card(message: RelayedMessage) -> Card:
    """A poll as every member sees it: the question, the live tally with who answered
    what, who has not answered yet, and one button per answer (tap again to change)."""
    assert message.poll is not None
    data = {"sendAction": VOTE_ACTION, "groupId": message.group_id, "messageId": message.message_id}
    body: list[Card] = [_header(message), _plain(message.text, weight="Bolder")]
    for choice in message.poll.choices:
        who = f": {', '.join(choice.voters)}" if choice.voters else ""
        body.append(
            {
                "type": "RichTextBlock",
                "inlines": [
                    {"type": "TextRun", "text": f"{choice.text} ", "weight": "Bolder"},
                    {"type": "TextRun", "text": f"{len(choice.voters)}{who}", "isSubtle": True},
                ],
            }
        )
    lang = message.language
    waiting = ", ".join(message.poll.waiting) or say(lang, "nobody")
    body.append(_plain(say(lang, "poll.waiting", names=waiting), isSubtle=True))
    actions = [
        {"type": "Action.Submit", "title": choice.text, "data": {**data, "option": i}}
        for i, choice in enumerate(message.poll.choices)
    ]
    return _card(body, actions)


def receipt_card(text: str) -> Card:
    """The receipt under a sender's message: one small, subtle line (`id` "receipt")."""
    inline = {"type": "TextRun", "text": text, "isSubtle": True, "size": "Small"}
    return _card([{"type": "RichTextBlock", "id": RECEIPT_ID, "inlines": [inline]}])


def answered_card(message: RelayedMessage, reply: str) -> Card:
    """The same card once its reader answered: what they sent, and nothing to send again
    by accident (a new answer is typed in the chat, or given on the next message)."""
    return _card(
        [
            _header(message),
            *_content(message),
            {
                "type": "RichTextBlock",
                "separator": True,
                "inlines": [
                    {
                        "type": "TextRun",
                        "text": say(message.language, "card.you"),
                        "weight": "Bolder",
                        "isSubtle": True,
                    },
                    {"type": "TextRun", "text": reply, "isSubtle": True},
                ],
            },
        ]
    )


def group_picker_card(
    choices: Sequence[GroupChoice],
    pending_text: str,
    media: Sequence[IncomingMedia] = (),
    seal: str = "",
    *,
    language: Language,
) -> Card:
    """The held message, and one button per group. The buttons carry what is held, the
    photos and files with the core's seal over them (see bot/core/features/media.py)."""
    held = {"text": pending_text}
    if media:
        held["seal"] = seal
    data: Card = {**held, "media": [held_media(m) for m in media]} if media else held
    file = say(language, "card.file")
    shown = [
        (say(language, "card.photo") if _is_picture(m) else f"[{m.name or file}]") for m in media
    ]
    return _card(
        [
            {
                "type": "TextBlock",
                "text": say(language, "card.which_group"),
                "weight": "Bolder",
                "wrap": True,
            },
            _plain(" ".join((*shown, pending_text)).strip(), isSubtle=True),
        ],
        [
            {
                "type": "Action.Submit",
                "title": choice.name,
                "data": {"sendAction": PICK_ACTION, "groupId": choice.group_id, **data},
            }
            for choice in choices
        ],
    )


def meeting_picker_card(choices: Sequence[MeetingChoice]) -> Card:
    """One full-width button per meeting (its day, time, subject and people), one under
    the other: a meeting's label is too long for a row of buttons."""
    return _card(
        [
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Submit",
                        "title": choice.label,
                        "data": {
                            "sendAction": MEETING_ACTION,
                            "meeting": choice.ical_uid,
                            "start": choice.start.isoformat(),
                        },
                    }
                ],
            }
            for choice in choices
        ]
    )


def send_as_message_card(choice: GroupChoice, pending_text: str, *, language: Language) -> Card:
    """Words that were no command ("leave at 5?"), shown as typed, and one button that
    sends them to `choice` as a message: a pick, like the picker's buttons."""
    return _card(
        [_plain(pending_text, isSubtle=True)],
        [
            {
                "type": "Action.Submit",
                "title": say(language, "card.send_to", group=choice.name),
                "data": {
                    "sendAction": PICK_ACTION,
                    "groupId": choice.group_id,
                    "text": pending_text,
                },
            }
        ],
    )


def held_media(item: IncomingMedia) -> Card:
    return {
        "url": item.url,
        "name": item.name,
        "contentType": item.content_type,
        "botToken": item.needs_bot_token,
    }


def read_held_media(value: Any) -> tuple[IncomingMedia, ...]:
    """The picker's held items as the card gave them back (the core checks their seal)."""
    if not isinstance(value, list):
        return ()
    return tuple(
        IncomingMedia(
            url=str(v.get("url", "")),
            name=str(v.get("name", "")),
            content_type=str(v.get("contentType", "")),
            needs_bot_token=v.get("botToken") is True,
        )
        for v in value
        if isinstance(v, dict)
    )


def _is_picture(item: IncomingMedia) -> bool:
    return item.content_type.lower().startswith("image/")


def attachment(card: Card) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}
