"""What Send keeps: people, groups, messages and their deliveries.

Plain dataclasses with no dependency on Teams, Outlook or a database. `version`
is the store's concurrency token (an etag); `None` means "not stored yet".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from bot.core.membership.addresses import Mention
from bot.core.texts import Language

MAX_MEMBERS = 20
MAX_GROUP_NAME = 60
HISTORY_SIZE = 10
POLL_OPTIONS = (2, 6)  # fewest and most answers a poll offers
MAX_OPTION_CHARS = 40


@dataclass(frozen=True)
class TeamsReach:
    """How to send a proactive message to a person's 1:1 chat with the bot."""

    user_id: str
    service_url: str
    bot_id: str = ""
    conversation_id: str = ""
    # False once Teams answered 403/404: the bot was blocked or the chat is gone.
    reachable: bool = True


class DraftStep(StrEnum):
    """Where a person is in the step-by-step `new`: what Send asked them last."""

    NAME = "name"
    MEMBERS = "members"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class NewGroupDraft:
    """A group being made step by step: what was answered so far, and the next step."""

    step: DraftStep
    name: str = ""
    # The member list as typed, and the people @mentioned in it.
    members: str = ""
    mentions: tuple[Mention, ...] = ()
    # When the person typed `new`: a draft older than a day is forgotten.
    started_at: datetime | None = None


@dataclass(frozen=True)
class Person:
    """Someone of a tenant. `person_id` is opaque: the Entra object id for people Send met
    with one, an address or `teams:<user id>` for people met before (or without Graph).
    Every name a person is known by (object id, Teams user id, `email`, `addresses`) finds
    them through the store's aliases."""

    tenant_id: str
    person_id: str
    display_name: str
    # The primary address, where Outlook copies go.
    email: str = ""
    aad_object_id: str = ""
    teams: TeamsReach | None = None
    active_group_id: str = ""
    outlook_on: bool = True
    # Whether Send keeps a receipt under each of their messages (`receipts off` / `on`).
    receipts_on: bool = True
    # Set while the step-by-step `new` waits for this person's answer; and the activity
    # that ended it, so the same activity sent again is not read as a message.
    new_group: NewGroupDraft | None = None
    new_group_ended_by: str = ""
    # Other addresses of theirs (UPN, proxy addresses): a Reply All from any of them counts.
    addresses: tuple[str, ...] = ()
    # Why Send cannot reach them in Teams (installation refused...), "" when it can or may;
    # not tried again before `teams_retry_at`.
    teams_unavailable: str = ""
    teams_retry_at: datetime | None = None
    # The language Send writes to them in (their Teams locale, or their directory's
    # preferred language), and their IANA time zone from Teams ("" = unknown: UTC).
    language: Language = Language.EN
    time_zone: str = ""
    version: str | None = None

    @property
    def teams_chat_ready(self) -> bool:
        return bool(self.teams and self.teams.conversation_id and self.teams.reachable)

    @property
    def known_addresses(self) -> frozenset[str]:
        """Every address of theirs, lower-case."""
        found = {self.email, *self.addresses}
        if "@" in self.person_id:
            found.add(self.person_id)
        return frozenset(a.lower() for a in found if a)


@dataclass(frozen=True)
class Member:
    person_id: str
    display_name: str
    joined_at: datetime
    muted: bool = False


class Source(StrEnum):
    TEAMS = "teams"
    OUTLOOK = "outlook"
    # Written by Send itself (a rename told in the Outlook thread), not by a member.
    SEND = "send"


@dataclass(frozen=True)
class MessageSummary:
    """The few fields of a message kept on its group for `history` and cards."""

    message_id: str
    sender_id: str
    sender_name: str
    text: str
    sent_at: datetime
    source: Source
    # True once its sender edited it (`text` is then the new text).
    edited: bool = False
    # Its reactions by kind, most first: (emoji, count).
    reactions: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class MeetingLink:
    """The Outlook meeting a group was made from (`meeting`): the event's iCalUId (the
    same in every attendee's calendar), its subject and start as last read, its
    organizer's address, and the group's RSVP poll (its message id)."""

    ical_uid: str
    subject: str
    start: datetime
    organizer: str
    rsvp_id: str = ""
    # Cancelled in Outlook (the group was told): no more checks, reminders or answers.
    cancelled: bool = False
    # Over (a while after its start): the watch looks it up no more.
    ended: bool = False


@dataclass(frozen=True)
class Group:
    tenant_id: str
    group_id: str
    name: str
    owner_id: str
    members: tuple[Member, ...]
    created_at: datetime
    recent: tuple[MessageSummary, ...] = ()
    # Id of the Outlook conversation's first mail (Graph message id or RFC 5322 Message-ID).
    outlook_thread: str = ""
    # Graph's conversationId of that thread: how a Reply All in Outlook finds its group.
    outlook_conversation: str = ""
    meeting: MeetingLink | None = None
    # Plain messages accepted by this group's write (with their line in `recent`) and not
    # filed on their own yet: their copies are going (`Relay`). Kept here until then so a
    # message is stored before its sender is answered without a write of its own.
    unfiled: tuple[Message, ...] = ()
    # The ids of the last messages accepted so (at most `ACCEPTED_KEPT`): one Teams sends
    # again after its line left `recent` (ten newer, or deleted) is still known.
    accepted: tuple[str, ...] = ()
    version: str | None = None

    @cached_property
    def _by_person(self) -> dict[str, Member]:
        # Made once per version of a group (versions are kept and shared): `member` is
        # asked for every recipient of every message.
        return {m.person_id: m for m in reversed(self.members)}  # the first one wins

    def member(self, person_id: str) -> Member | None:
        return self._by_person.get(person_id)

    def has_member(self, person_id: str) -> bool:
        return self.member(person_id) is not None

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.person_id for m in self.members)

    def holding_no_more(self, message_ids: Collection[str]) -> Group:
        """The group once these held messages are filed (itself when it holds none)."""
        kept = tuple(m for m in self.unfiled if m.message_id not in message_ids)
        return self if kept == self.unfiled else replace(self, unfiled=kept)

    def without(self, person_id: str) -> Group:
        """The group once this person is gone: an owner hands over to the oldest member."""
        members = tuple(m for m in self.members if m.person_id != person_id)
        owner = self.owner_id
        if owner == person_id and members:
            owner = min(members, key=lambda m: m.joined_at).person_id
        return replace(self, members=members, owner_id=owner)


class Channel(StrEnum):
    TEAMS = "teams"
    OUTLOOK = "outlook"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: given up, or the person cannot be reached there


OUTLOOK_THREAD = "outlook-thread"  # recipient_id of the one Outlook delivery of a message


@dataclass(frozen=True)
class Delivery:
    """One copy to send: a person's Teams chat, or the group's Outlook mail to `addresses`."""

    recipient_id: str
    channel: Channel
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_error: str = ""
    addresses: tuple[str, ...] = ()
    # While pending after a passing failure: not to be tried again before this moment.
    next_attempt_at: datetime | None = None
    # The id Teams gave the copy once sent: how a poll's copy is updated in place.
    activity_id: str = ""
    # A Teams copy to take back (its message was deleted): pending until Teams removed the
    # activity `activity_id`, then sent; retried and resumed like any copy.
    retract: bool = False
    # The reader's Teams said they read it (a read receipt in their chat with Send).
    seen: bool = False


@dataclass(frozen=True)
class Poll:
    """A question with fixed answers; each member's answer, which they may change."""

    question: str
    options: tuple[str, ...]
    # (person id, index of their answer): one per person who answered, in answer order.
    votes: tuple[tuple[str, int], ...] = ()
    # A meeting's RSVP: the event's iCalUId; each answer is also that person's response
    # in their Outlook calendar (options: yes, maybe, no).
    meeting: str = ""

    def answer_of(self, person_id: str) -> int | None:
        return next((o for p, o in self.votes if p == person_id), None)

    def with_answer(self, person_id: str, option: int) -> Poll:
        others = tuple(v for v in self.votes if v[0] != person_id)
        return replace(self, votes=(*others, (person_id, option)))

    def voters(self, option: int) -> tuple[str, ...]:
        return tuple(p for p, o in self.votes if o == option)


class MediaKind(StrEnum):
    PHOTO = "photo"  # shown as a picture in Teams and inline in the Outlook mail
    FILE = "file"  # offered as a download link


@dataclass(frozen=True)
class StoredMedia:
    """A photo or file of a message: a reference to bytes kept in the media store.
    `size`, `content_type` and `sha256` describe the bytes as stored, after picture
    metadata was stripped, so they can differ from what the sender uploaded."""

    media_id: str
    group_id: str
    tenant_id: str
    content_type: str
    size: int
    name: str
    kind: MediaKind
    sha256: str  # hex

    @property
    def label(self) -> str:
        """How `history` and the Outlook card name it."""
        return "[photo]" if self.kind is MediaKind.PHOTO else f"[{self.name}]"

    def to_json(self) -> dict[str, str | int]:
        return {
            "mediaId": self.media_id,
            "groupId": self.group_id,
            "tenantId": self.tenant_id,
            "contentType": self.content_type,
            "size": self.size,
            "name": self.name,
            "kind": self.kind.value,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, object]) -> StoredMedia:
        size = body["size"]
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"media size is not a number: {size!r}")
        return cls(
            media_id=str(body["mediaId"]),
            group_id=str(body["groupId"]),
            tenant_id=str(body["tenantId"]),
            content_type=str(body["contentType"]),
            size=size,
            name=str(body["name"]),
            kind=MediaKind(str(body["kind"])),
            sha256=str(body["sha256"]),
        )


@dataclass(frozen=True)
class Mentioned:
    """Someone @mentioned in a message: `name` is how the text shows them."""

    person_id: str
    name: str


# Teams' reaction types and how a card shows them; any other is shown as Teams names it.
REACTION_EMOJI = {
    "like": "👍",
    "heart": "❤️",
    "laugh": "😆",
    "surprised": "😮",
    "sad": "😢",
    "angry": "😠",
}


@dataclass(frozen=True)
class Quote:
    """What an answer answers: the message, who sent it, and the start of its text."""

    message_id: str
    sender_name: str
    text: str

    @staticmethod
    def of(message: Message, most: int = 80) -> Quote:
        shown = " ".join(message.text.split())  # one line, however it was typed
        if len(shown) > most:
            shown = shown[: most - 1] + "…"
        return Quote(message.message_id, message.sender_name, shown)

    def line(self) -> str:
        return f"↩ {self.sender_name}: {self.text}"


@dataclass(frozen=True)
class Styled:
    """A piece of a message's text with the look it was typed with in Teams (links are
    http or https). A message's pieces, put together, are its text."""

    text: str
    bold: bool = False
    italic: bool = False
    strike: bool = False
    link: str = ""


@dataclass(frozen=True)
class Receipt:
    """The line Send keeps under a message in its sender's chat: what became of it."""

    activity_id: str
    shown: str


@dataclass(frozen=True)
class Message:
    tenant_id: str
    group_id: str
    message_id: str
    sender_id: str
    sender_name: str
    text: str
    sent_at: datetime
    source: Source
    deliveries: tuple[Delivery, ...] = field(default=())
    # Which instance delivers it, and until when; after that another instance may take over.
    claimed_by: str = ""
    claimed_until: datetime | None = None
    # A poll's question is its `text`.
    poll: Poll | None = None
    # Photos and files sent with it (`text` is then their caption, possibly empty).
    media: tuple[StoredMedia, ...] = ()
    # People @mentioned in `text` (which shows each by name), in the order they appear.
    mentions: tuple[Mentioned, ...] = ()
    # When its sender last edited it, and when they deleted it (its text, media and
    # mentions are then gone; only what takes its copies back is left).
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    # Members' reactions on their copies: (person id, Teams reaction type), one per kind.
    reactions: tuple[tuple[str, str], ...] = ()
    # The message this one answers (a quick reply or a one-tap answer on its card).
    reply_to: Quote | None = None
    # Its text with its formatting from Teams (bold, links...); () when it has none.
    styled: tuple[Styled, ...] = ()
    # The receipt under it in the sender's chat (Teams' activity id, and what it shows).
    receipt: Receipt | None = None
    version: str | None = None

    @property
    def pending(self) -> bool:
        return any(d.state is DeliveryState.PENDING for d in self.deliveries)

    def summary(self) -> MessageSummary:
        text = self.text
        if self.poll is not None:
            text = f"Poll: {text} ({' / '.join(self.poll.options)})"
        if self.media:
            text = " ".join((*(m.label for m in self.media), text)).strip()
        if self.reply_to is not None:
            text = f"{text} ({self.reply_to.line()})"
        return MessageSummary(
            message_id=self.message_id,
            sender_id=self.sender_id,
            sender_name=self.sender_name,
            text=text,
            sent_at=self.sent_at,
            source=self.source,
            edited=self.edited_at is not None,
            reactions=reaction_tally(self),
        )


def reaction_tally(message: Message) -> tuple[tuple[str, int], ...]:
    """The reactions on a message, by kind, most first (then in the order first given)."""
    counts: dict[str, int] = {}
    for _, kind in message.reactions:
        shown = REACTION_EMOJI.get(kind, kind)
        counts[shown] = counts.get(shown, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: -item[1]))
