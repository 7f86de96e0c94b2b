"""The ports the core talks to. Adapters at the edge implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.core.model import (
    Group,
    Message,
    MessageSummary,
    Person,
    Quote,
    StoredMedia,
    Styled,
)
from bot.core.texts import Language


class StoreError(Exception):
    """The store could not do what was asked (unreachable, throttled, broken)."""


class ConcurrentUpdate(StoreError):
    """Somebody else changed the item since it was read (etag mismatch): read again and retry."""


class PeopleStore(Protocol):
    """People and the names (Teams user ids, object ids, addresses) they are known by."""

    async def get_person(self, tenant_id: str, person_id: str) -> Person | None: ...

    async def get_people(self, tenant_id: str, person_ids: Sequence[str]) -> list[Person]: ...

    async def person_for_teams_user(self, tenant_id: str, teams_user_id: str) -> Person | None: ...

    async def person_id_for_teams_user(self, tenant_id: str, teams_user_id: str) -> str | None:
        """Which person a Teams user is (cheap: the answer never changes once known)."""
        ...

    async def person_for_object(self, tenant_id: str, aad_object_id: str) -> Person | None:
        """The person with this Entra object id."""
        ...

    async def person_for_address(self, tenant_id: str, address: str) -> Person | None:
        """The person known by this address (primary, UPN or proxy), any letter case."""
        ...

    async def save_person(self, person: Person) -> Person:
        """Creates (version None) or replaces if unchanged since read; raises ConcurrentUpdate."""
        ...


class GroupStore(Protocol):
    """Groups, with their members and their last messages."""

    async def get_group(self, tenant_id: str, group_id: str) -> Group | None: ...

    async def groups_of(self, tenant_id: str, person_id: str) -> list[Group]: ...

    async def get_people_and_group(
        self, tenant_id: str, person_ids: Sequence[str], group_id: str
    ) -> tuple[list[Person], Group | None]:
        """People and a group of one tenant, read together in one store request."""
        ...

    async def save_group(self, group: Group) -> Group:
        """Creates (version None) or replaces if unchanged since read; raises ConcurrentUpdate."""
        ...

    async def delete_group(self, group: Group) -> None: ...

    async def group_for_outlook_conversation(self, conversation_id: str) -> Group | None: ...

    async def groups_with_meetings(self, until: datetime) -> list[Group]:
        """Groups linked to a meeting, not cancelled, that starts before `until`."""
        ...

    async def groups_with_unfiled(self, until: datetime) -> list[Group]:
        """Groups (every tenant) holding a message not filed on its own yet whose claim ends
        before `until`: what recovery files when the instance delivering it stopped."""
        ...


class MessageStore(Protocol):
    """Messages with their deliveries."""

    async def add_message(self, message: Message) -> Message | None:
        """Stores a new message with its deliveries; None if that message id is already stored."""
        ...

    async def get_message(self, group_id: str, message_id: str) -> Message | None: ...

    async def save_message(self, message: Message) -> Message: ...

    async def pending_messages(self) -> list[Message]:
        """Messages with deliveries still pending, in every tenant (for recovery at start)."""
        ...


class InstanceStore(Protocol):
    """The app's live instances, which share the Teams pace."""

    async def announce_instance(self, instance_id: str, until: datetime) -> None:
        """Records that this instance of the app is alive until `until`."""
        ...

    async def live_instances(self, now: datetime) -> int:
        """How many instances announced themselves alive at `now`."""
        ...

    async def withdraw_instance(self, instance_id: str) -> None: ...


class MarkerStore(Protocol):
    """Keys remembered for a while: requests already handled (Teams re-sends them)."""

    async def forget(self, key: str) -> None:
        """Drops a `remember_once` key, so the same request counts as new again."""
        ...

    async def remember_once(self, key: str, now: datetime, keep: timedelta) -> bool:
        """True the first time `key` is seen, False when seen again within `keep`."""
        ...


class DirectoryStore(PeopleStore, GroupStore, Protocol):
    """People and their groups (the `directory` container): who is in which group."""


class MessagingStore(DirectoryStore, MessageStore, Protocol):
    """People, groups and the groups' messages: what accepting, delivering and answering
    a message need."""


class Store(MessagingStore, InstanceStore, MarkerStore, Protocol):
    """Every role at once, as the document store implements them. Each class takes the
    roles it uses: InstanceRegistry an InstanceStore, Groups a DirectoryStore, the relay
    a MessagingStore, and so on."""

    async def ping(self) -> None: ...


class LifecycleStore(Store, Protocol):
    """The Store with what retention, `forget` and `export` need (bot/core/features/lifecycle.py)."""

    async def purge_messages_before(self, cutoff: datetime) -> int:
        """Deletes the messages sent before `cutoff` in every tenant, and their summaries
        on the groups; how many messages. Indexed, never a scan of every message."""
        ...

    async def messages_of(self, group_id: str) -> list[Message]:
        """All of a group's messages, oldest first (one partition)."""
        ...

    async def groups_in(self, tenant_id: str) -> list[Group]:
        """Every group of a tenant, oldest first."""
        ...

    async def find_groups(self, id_or_name: str, tenant_id: str | None = None) -> list[Group]:
        """The group of that id, else the groups of that name; in one tenant, or in all."""
        ...

    async def people_with_address(self, address: str) -> list[Person]:
        """The person known by that address in every tenant where it is known."""
        ...

    async def delete_person(self, person: Person) -> None:
        """Deletes a person with their aliases and the state of their chat with the bot."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SendOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # throttled or a passing failure: try again later
    GONE = "gone"  # blocked, uninstalled, conversation not found: fall back to Outlook
    REFUSED = "refused"  # a permanent refusal that retrying cannot fix (bad request, no rights)


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    retry_after: float = 0.0
    detail: str = ""
    activity_id: str = ""  # the id Teams gave what was sent


@dataclass(frozen=True)
class PollChoice:
    text: str
    voters: tuple[str, ...]  # display names, in answer order


@dataclass(frozen=True)
class PollView:
    """A poll as every member's card shows it: the tally and who has not answered."""

    choices: tuple[PollChoice, ...]
    waiting: tuple[str, ...]


@dataclass(frozen=True)
class SharedMedia:
    """A photo or file as one reader gets it: `link` is signed for them (or, in a mail,
    for the thread) and expires; it is the product's own URL, never the sender's."""

    item: StoredMedia
    link: str


@dataclass(frozen=True)
class MailMedia:
    """A photo or file in the thread's mail. `inline`: a picture small enough to be shown
    in the mail itself (an image part or inline attachment), else attached or linked."""

    item: StoredMedia
    link: str
    inline: bool


class MediaReader(Protocol):
    async def read(self, media: StoredMedia) -> bytes:
        """The stored bytes (raises when the group no longer has them)."""
        ...


@dataclass(frozen=True)
class TeamsMention:
    name: str  # as the text shows it
    teams_id: str  # their Teams user id, else their Entra object id


@dataclass(frozen=True)
class RelayedMessage:
    """What a member sees of a message relayed to them."""

    group_id: str
    group_name: str
    sender_name: str
    text: str
    message_id: str
    # Set for a poll: `text` is its question.
    poll: PollView | None = None
    # Photos and files; `text` is then their caption, possibly empty.
    media: tuple[SharedMedia, ...] = ()
    # Members @mentioned in `text`, each as Teams names them: a real mention in the card.
    mentions: tuple[TeamsMention, ...] = ()
    # The reader's language: the card's own words (buttons, labels) are in it.
    language: Language = Language.EN
    # Edited by its sender since it was first sent: the card says so.
    edited: bool = False
    # Members' reactions, as shown: (emoji, how many), most first.
    reactions: tuple[tuple[str, int], ...] = ()
    # What it answers, as a line ("↩ Alex: Friday 12:30, are you in?"), or "".
    quote: str = ""
    # `text` with the formatting it was typed with; () when it has none.
    styled: tuple[Styled, ...] = ()


class TeamsSender(Protocol):
    async def send_message(self, person: Person, message: RelayedMessage) -> SendResult: ...

    async def update_message(
        self, person: Person, activity_id: str, message: RelayedMessage
    ) -> SendResult:
        """Shows a copy sent before (a poll's card) anew, in place."""
        ...

    async def delete_message(self, person: Person, activity_id: str) -> SendResult:
        """Takes back a copy sent before (its message was deleted); SENT once it is gone."""
        ...

    async def send_notice(self, person: Person, text: str) -> SendResult:
        """A one-line notice from the bot itself (not a relayed message)."""
        ...

    async def send_receipt(self, person: Person, text: str) -> SendResult:
        """The receipt line under a message in its sender's chat; its `activity_id` is
        what `update_receipt` changes."""
        ...

    async def update_receipt(self, person: Person, activity_id: str, text: str) -> SendResult:
        """The receipt line sent before, showing `text` now, in place."""
        ...

    async def open_chat(self, person: Person, service_url: str, bot_id: str) -> OpenedChat:
        """Creates the 1:1 chat with a person (by Teams user id, else Entra object id).
        Teams opens one only when Send is installed for them or shares a chat with them."""
        ...


@dataclass(frozen=True)
class OpenedChat:
    outcome: SendOutcome  # SENT: opened; GONE: Teams refused; RETRY: a passing failure
    conversation_id: str = ""
    retry_after: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class MailReaders:
    """Whom one mail is written for: its words in the language most recipients read (a
    tie is English), its times in the zone all recipients with a known zone share, else
    in UTC said as such. `mixed`: some recipients read another language, and the mail
    says in one line which language it uses."""

    language: Language = Language.EN
    time_zone: str = ""
    mixed: bool = False


@dataclass(frozen=True)
class ThreadMail:
    """One e-mail of a group's Outlook conversation, to all its Outlook recipients at once."""

    tenant_id: str
    group_id: str
    group_name: str
    message_id: str
    # The conversation's first mail, or "" when this mail starts the conversation.
    thread_id: str
    addresses: tuple[str, ...]
    # The latest messages (oldest first), ending with the one this mail is for.
    recent: tuple[MessageSummary, ...]
    # The mail of a poll: its card offers the answers and shows the tally.
    poll: PollMail | None = None
    # The photos and files of the message this mail is for.
    media: tuple[MailMedia, ...] = ()
    readers: MailReaders = MailReaders()
    # The formatting of the message this mail is for (its text, in pieces); () for none.
    styled: tuple[Styled, ...] = ()
    # Graph's conversationId of the thread ("" when unknown or not Graph's).
    conversation_id: str = ""
    # The message's own words (without the labels, poll or quote `recent` shows), what it
    # answers, and the group's members by name: the mail shows them.
    text: str = ""
    reply_to: Quote | None = None
    members: tuple[str, ...] = ()
    # The thread's last mail (its group was deleted): no reply box, no answers, no
    # "Reply All" line, since nothing written to the thread is relayed any more.
    closed: bool = False


@dataclass(frozen=True)
class PollMail:
    message_id: str
    question: str
    view: PollView


@dataclass(frozen=True)
class RecordResult:
    outcome: SendOutcome
    thread_id: str = ""
    conversation_id: str = ""
    retry_after: float = 0.0
    detail: str = ""


class OutlookRecorder(Protocol):
    async def record(self, mail: ThreadMail) -> RecordResult: ...


@dataclass(frozen=True)
class DirectoryEntry:
    email: str
    display_name: str
    aad_object_id: str = ""
    # Their other addresses: UPN and proxy addresses, without the "smtp:" prefix.
    addresses: tuple[str, ...] = ()
    # The directory's preferredLanguage ("fr-FR"), "" when not set.
    preferred_language: str = ""


@dataclass(frozen=True)
class RosterEntry:
    """A member of a Teams conversation, as Teams lists them."""

    user_id: str
    display_name: str
    email: str = ""
    aad_object_id: str = ""


class TeamsRoster(Protocol):
    """Who is in a Teams conversation (the Bot Connector's member lists)."""

    async def member(
        self, service_url: str, conversation_id: str, user_id: str
    ) -> RosterEntry | None:
        """One member, or None when Teams does not know them there."""
        ...

    async def members(
        self, service_url: str, conversation_id: str, at_most: int
    ) -> list[RosterEntry]:
        """The roster, read page by page; stops once it holds more than `at_most` people."""
        ...


class Directory(Protocol):
    """Looks people up by address in the organisation (Microsoft Graph), when configured."""

    @property
    def searchable(self) -> bool:
        """False when no directory is configured: addresses are then taken as typed."""
        ...

    def covers(self, tenant_id: str) -> bool:
        """Only the directory's own tenant may be searched: never leak another's people."""
        ...

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None: ...


class InstallOutcome(StrEnum):
    READY = "ready"  # installed (or already was): the chat is known
    RETRY = "retry"  # a passing failure (throttled, outage): try again later
    REFUSED = "refused"  # Teams cannot be used for them now (policy, licence, no such user)


@dataclass(frozen=True)
class InstallResult:
    outcome: InstallOutcome
    conversation_id: str = ""
    detail: str = ""
    retry_after: float | None = None


class TeamsInstaller(Protocol):
    """Installs Send as a personal app for someone who never opened it (Microsoft Graph)."""

    @property
    def installs(self) -> bool:
        """False when nothing can be installed (no Graph, or no Teams app id)."""
        ...

    async def install(self, tenant_id: str, aad_object_id: str) -> InstallResult:
        """Installs it (already installed is fine) and finds the 1:1 chat with the bot."""
        ...


class NoDirectory:
    """The directory when Graph is not configured: nobody is looked up."""

    searchable = False

    def covers(self, tenant_id: str) -> bool:
        return False

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None:
        return None


class NoInstaller:
    """The installer when Send cannot install itself: nobody gets a chat that way."""

    installs = False

    async def install(self, tenant_id: str, aad_object_id: str) -> InstallResult:
        return InstallResult(InstallOutcome.REFUSED, detail="no installer configured")


class MeetingResponse(StrEnum):
    """An attendee's answer to a meeting, as their Outlook calendar holds it."""

    NONE = "none"
    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentativelyAccepted"
    DECLINED = "declined"


@dataclass(frozen=True)
class Attendee:
    address: str
    name: str
    # A room or equipment ("resource"), never a person to invite into a group.
    resource: bool = False
    response: MeetingResponse = MeetingResponse.NONE


@dataclass(frozen=True)
class Meeting:
    """An event of someone's calendar, as Graph shows it (times in UTC)."""

    ical_uid: str
    subject: str
    start: datetime
    end: datetime
    organizer: str  # the organizer's address
    organizer_name: str
    attendees: tuple[Attendee, ...]
    cancelled: bool = False
    # Whether the calendar it was read from is the organizer's (their copy, whatever
    # address of theirs the invitation used).
    is_organizer: bool = False


class CalendarProblem(StrEnum):
    PASSING = "passing"  # throttled, out of service, unreachable: worth trying again later
    DENIED = "denied"  # no permission for that mailbox
    MISSING = "missing"  # no such mailbox, or the meeting is not in that calendar
    CANCELLED = "cancelled"
    REFUSED = "refused"  # anything else the calendar refused


class CalendarRefused(Exception):
    """The calendar cannot do it: what kind of problem, and a few words of detail."""

    def __init__(self, problem: CalendarProblem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail or problem.value


class Calendar(Protocol):
    """People's Outlook calendars (Microsoft Graph, when configured)."""

    @property
    def available(self) -> bool: ...

    async def upcoming(self, mailbox: str, start: datetime, end: datetime) -> list[Meeting]:
        """The meetings in `mailbox`'s calendar between `start` and `end`, earliest first."""
        ...

    async def meeting(
        self, mailbox: str, ical_uid: str, around: datetime | None = None
    ) -> Meeting | None:
        """`mailbox`'s own copy of a meeting (of the occurrence nearest `around`, for a
        recurring one); None when it is not in their calendar."""
        ...

    async def respond(
        self,
        mailbox: str,
        ical_uid: str,
        response: MeetingResponse,
        around: datetime | None = None,
    ) -> None:
        """Sets `mailbox`'s response to the meeting (that occurrence) in their calendar,
        and tells the organizer, as Outlook does; nothing for the organizer's own."""
        ...


class NoCalendar:
    """Without Graph: no calendar to read."""

    available = False

    async def upcoming(self, mailbox: str, start: datetime, end: datetime) -> list[Meeting]:
        return []

    async def meeting(
        self, mailbox: str, ical_uid: str, around: datetime | None = None
    ) -> Meeting | None:
        return None

    async def respond(
        self,
        mailbox: str,
        ical_uid: str,
        response: MeetingResponse,
        around: datetime | None = None,
    ) -> None:
        raise CalendarRefused(CalendarProblem.DENIED, "no calendar")


class DirectoryUnavailable(Exception):
    """The organisation's directory did not answer (throttled, an outage): nothing can be
    said of an address now."""
