"""What the Teams adapter hands the core: one plain request per activity, one answer back.

The adapter reads an activity once into a `TeamsRequest`; the core decides
everything (who the person is, whether the tenant may use Send, whether the
activity was seen before, which command it is) and answers with an `Answer`,
which the adapter renders as text or cards. Nothing here knows Bot Framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.model import Person, Styled
from bot.core.ports import RelayedMessage


@dataclass(frozen=True)
class TeamsUser:
    """A person as a Teams activity or roster describes them."""

    tenant_id: str
    user_id: str
    display_name: str
    service_url: str
    bot_id: str = ""
    email: str = ""
    aad_object_id: str = ""
    # Set when the activity comes from the person's own 1:1 chat with the bot.
    conversation_id: str = ""
    # What Teams says of them on each message: their locale ("fr-FR") and IANA time
    # zone ("Europe/Paris"); "" when it did not say.
    locale: str = ""
    time_zone: str = ""


@dataclass(frozen=True)
class MentionedUser:
    """Somebody @mentioned in the activity (never the bot itself)."""

    user_id: str
    display_name: str
    # Teams names the Entra object id in the mention when it knows it.
    aad_object_id: str = ""


@dataclass(frozen=True)
class IncomingMedia:
    """A photo or file attached to an activity, not downloaded yet."""

    url: str
    # The sender's file name; "" for a pasted picture.
    name: str = ""
    # The claimed type: only what tells a picture from a file; the bytes decide the rest.
    content_type: str = ""
    # True when the URL is Teams' own (the bot's connector token opens it), False for a
    # pre-authorised download link (a file's downloadUrl).
    needs_bot_token: bool = False


class ActionKind(StrEnum):
    REPLY = "reply"  # the quick reply of a relayed card: text for that card's group
    ANSWER = "answer"  # a one-tap answer of a relayed card: a ready text for its group
    PICK = "pick"  # a group picked on the picker card: the held text goes to it
    VOTE = "vote"  # an answer tapped on a poll's card: `text` is the answer's index
    MEETING = "meeting"  # a meeting picked on `meeting`'s card: `text` is its iCalUId


@dataclass(frozen=True)
class CardAction:
    kind: ActionKind
    group_id: str
    text: str
    # The activity id of the card that was clicked ("" when Teams did not say).
    card_id: str = ""
    # The relayed message the card shows (replies and answers), to show it again updated.
    message_id: str = ""
    # A picker's held photos and files, and the core's seal over them (see core/media.py).
    media: tuple[IncomingMedia, ...] = ()
    seal: str = ""
    # Words typed in the card's reply box when a one-tap answer was tapped: they go too.
    typed: str = ""
    # A picked meeting's start (ISO 8601): which occurrence of a recurring one.
    start: str = ""


@dataclass(frozen=True)
class TeamsRequest:
    sender: TeamsUser
    # The conversation the activity came from: the person's 1:1 chat, or a group chat.
    conversation_id: str
    personal: bool
    # Stable for one inbound activity, so a re-sent activity maps to the same message.
    activity_key: str
    # The typed text without mention markup (mentions travel in `mentions`).
    text: str = ""
    # The text as people read it: each @mention as the name it shows (the bot's removed).
    # What a plain message relays; "" means the same as `text`.
    spoken: str = ""
    mentions: tuple[MentionedUser, ...] = ()
    mentions_bot: bool = False
    action: CardAction | None = None
    # Photos and files pasted or attached in the 1:1 chat.
    media: tuple[IncomingMedia, ...] = ()
    # `text` with the formatting it was typed with (bold, links...); () when it has none.
    styled: tuple[Styled, ...] = ()
    # Teams' activity id of the copy it quotes (Teams' "Reply" on a message); "" for none.
    quoted_copy: str = ""


class MessageChange(StrEnum):
    """What a person did in Teams to a message they sent (`messageUpdate`, `messageDelete`)."""

    EDITED = "editMessage"
    DELETED = "softDeleteMessage"
    UNDELETED = "undeleteMessage"


@dataclass(frozen=True)
class GroupChoice:
    group_id: str
    name: str


@dataclass(frozen=True)
class AnsweredCard:
    """The relayed message of a card, and what the person answered to it from there."""

    card_id: str
    message: RelayedMessage
    reply: str


@dataclass(frozen=True)
class GroupPicker:
    """The person's groups as buttons; `text` (with its media) is held until one is
    picked, with the seal that proves the picker's copy is ours."""

    choices: tuple[GroupChoice, ...]
    text: str
    media: tuple[IncomingMedia, ...] = ()
    seal: str = ""


@dataclass(frozen=True)
class SendAsMessage:
    """Words that were no command: the one group offered, with one button, to send
    them to as a message (several groups are a `GroupPicker`)."""

    group: GroupChoice
    text: str


@dataclass(frozen=True)
class YesNo:
    """A question answered yes or no (the step-by-step `new`'s confirmation)."""


@dataclass(frozen=True)
class MeetingChoice:
    """A meeting offered by `meeting`: its iCalUId, its start (which occurrence of a
    recurring one), and its button's words."""

    ical_uid: str
    start: datetime
    label: str


@dataclass(frozen=True)
class MeetingPicker:
    """The person's next meetings as buttons (`meeting`)."""

    choices: tuple[MeetingChoice, ...]


# What the answer offers to tap, besides its text.
Buttons = GroupPicker | SendAsMessage | YesNo | MeetingPicker


@dataclass(frozen=True)
class Answer:
    """What the bot says back in the chat the request came from (nothing when empty)."""

    text: str = ""
    buttons: Buttons | None = None
    # The person the request came from, when known (their language renders the buttons).
    person: Person | None = None
    # A card the person answered, to show again with their answer (nothing to send twice).
    answered: AnsweredCard | None = None
