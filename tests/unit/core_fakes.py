"""Small fakes of the core's ports, a core wired like bot/compose.py, and request helpers.

Everything runs on the event loop over the in-memory store: the fakes answer at once,
record what they were asked, and can be scripted call by call.

The cast: people are known by a short name ("ann", "bob", ...) of tenant "t1"; their
Teams user id is "29:<name>", their e-mail "<name>@x.com", their 1:1 chat "chat-<name>".
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.config import Settings
from bot.core.assembly import Core as AppCore
from bot.core.assembly import CorePorts, Rules
from bot.core.assembly import build_core as assemble
from bot.core.membership.groups import Groups
from bot.core.membership.people import People
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import TeamsAccess
from bot.core.model import Group, Member, Message, Person, TeamsReach
from bot.core.ports import (
    Calendar,
    Clock,
    ConcurrentUpdate,
    Directory,
    NoCalendar,
    NoDirectory,
    NoInstaller,
    OpenedChat,
    RecordResult,
    RelayedMessage,
    RosterEntry,
    SendOutcome,
    SendResult,
    Store,
    StoreError,
    ThreadMail,
)
from bot.core.sending.fair_use import SenderAllowance
from bot.core.sending.relay import DeliveryQueue, Relay
from bot.core.turn.conversation import Conversation
from bot.core.turn.requests import (
    Answer,
    CardAction,
    IncomingMedia,
    MentionedUser,
    TeamsRequest,
    TeamsUser,
)
from tests.contracts.media_contract import png_bytes
from tests.unit.fakes import FakeClock, FakeSleep
from tests.unit.media_fakes import FakeAttachments, FakeLinks, MemoryVault

TENANT = "t1"
SERVICE_URL = "https://smba.example.test/teams/"
CAST = ("ann", "bob", "cy", "dan", "eve")
MAX_CHARS = 500

# who


def email(name: str) -> str:
    return f"{name}@x.com"


def user_id(name: str) -> str:
    return f"29:{name}"


def chat_of(name: str) -> str:
    return f"chat-{name}"


def display(name: str) -> str:
    return name.title()


# answers of the fake Teams connector


def sent() -> SendResult:
    return SendResult(SendOutcome.SENT)


def retry(after: float = 0.0) -> SendResult:
    return SendResult(SendOutcome.RETRY, retry_after=after, detail="throttled")


def gone() -> SendResult:
    return SendResult(SendOutcome.GONE, detail="conversation not found")


def refused(detail: str = "bad request") -> SendResult:
    return SendResult(SendOutcome.REFUSED, detail=detail)


@dataclass(frozen=True)
class Sent:
    """One call of the fake Teams connector: a relayed message to a person's chat."""

    person_id: str
    message_id: str
    text: str
    at: datetime


class FakeTeams:
    """A `TeamsSender`: answers SENT unless a person's next answers were scripted."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._answers: dict[str, list[SendResult]] = {}
        self._down_until: datetime | None = None
        self.sent: list[Sent] = []
        self.notices: list[tuple[str, str]] = []  # (person id, text)
        # Each sender's receipts: (person id, activity id, text), sent then updated.
        self.receipts: list[tuple[str, str, str]] = []
        self.opened: list[str] = []
        # (person id, activity id, what the copy shows now)
        self.updated: list[tuple[str, str, RelayedMessage]] = []
        self.deleted: list[tuple[str, str]] = []  # (person id, activity id)
        # Set to an unset event to hold updates (or new receipts) until it is set (a slow
        # connector).
        self.hold_updates: asyncio.Event | None = None
        self.hold_receipts: asyncio.Event | None = None
        self.hold_deletes: asyncio.Event | None = None  # a copy being taken back, slowly
        self.hold_sends: asyncio.Event | None = None  # copies that take their time

    def answer(self, person_id: str, *results: SendResult) -> None:
        """The next sends to this person answer these, in order; SENT afterwards."""
        self._answers.setdefault(person_id, []).extend(results)

    def down_until(self, moment: datetime) -> None:
        """Every send answers 503 (a passing failure) until the clock reaches `moment`."""
        self._down_until = moment

    def sent_to(self, person_id: str) -> list[Sent]:
        return [s for s in self.sent if s.person_id == person_id]

    async def send_message(self, person: Person, message: RelayedMessage) -> SendResult:
        self.sent.append(
            Sent(person.person_id, message.message_id, message.text, self._clock.now())
        )
        if self.hold_sends is not None:
            await self.hold_sends.wait()
        if self._down_until is not None and self._clock.now() < self._down_until:
            return SendResult(SendOutcome.RETRY, detail="503 service unavailable")
        queued = self._answers.get(person.person_id)
        if queued:
            return queued.pop(0)
        return SendResult(SendOutcome.SENT, activity_id=f"act-{len(self.sent)}")

    async def update_message(
        self, person: Person, activity_id: str, message: RelayedMessage
    ) -> SendResult:
        self.updated.append((person.person_id, activity_id, message))
        if self.hold_updates is not None:
            await self.hold_updates.wait()  # a slow connector
        return sent()

    async def delete_message(self, person: Person, activity_id: str) -> SendResult:
        self.deleted.append((person.person_id, activity_id))
        if self.hold_deletes is not None:
            await self.hold_deletes.wait()
        if self._down_until is not None and self._clock.now() < self._down_until:
            return SendResult(SendOutcome.RETRY, detail="503 service unavailable")
        return sent()

    async def send_notice(self, person: Person, text: str) -> SendResult:
        self.notices.append((person.person_id, text))
        return sent()

    async def send_receipt(self, person: Person, text: str) -> SendResult:
        activity_id = f"receipt-{len(self.receipts) + 1}"
        self.receipts.append((person.person_id, activity_id, text))
        if self.hold_receipts is not None:
            await self.hold_receipts.wait()  # a slow connector
        return SendResult(SendOutcome.SENT, activity_id=activity_id)

    async def update_receipt(self, person: Person, activity_id: str, text: str) -> SendResult:
        self.receipts.append((person.person_id, activity_id, text))
        if self.hold_updates is not None:
            await self.hold_updates.wait()  # a slow connector
        return sent()

    def receipt_of(self, person_id: str) -> str:
        """What the person's latest receipt shows now ("" if none)."""
        return next((t for p, _, t in reversed(self.receipts) if p == person_id), "")

    async def open_chat(self, person: Person, service_url: str, bot_id: str) -> OpenedChat:
        self.opened.append(person.person_id)
        return OpenedChat(SendOutcome.SENT, f"opened-{person.person_id}")


class FakeOutlook:
    """An `OutlookRecorder`: records each thread mail; SENT unless scripted otherwise."""

    def __init__(self) -> None:
        self._answers: list[RecordResult] = []
        self.mails: list[ThreadMail] = []

    def answer(self, *results: RecordResult) -> None:
        self._answers.extend(results)

    async def record(self, mail: ThreadMail) -> RecordResult:
        self.mails.append(mail)
        if self._answers:
            return self._answers.pop(0)
        return RecordResult(
            SendOutcome.SENT,
            thread_id=mail.thread_id or f"thread-{mail.group_id}",
            conversation_id=f"conversation-{mail.group_id}",
        )


def roster_entry(name: str) -> RosterEntry:
    return RosterEntry(user_id(name), display(name), email(name))


class FakeRoster:
    """A `TeamsRoster` from a dict: conversation id -> the people in it."""

    def __init__(self) -> None:
        self.chats: dict[str, list[RosterEntry]] = {}

    def personal_chat(self, name: str) -> None:
        self.chats[chat_of(name)] = [roster_entry(name)]

    async def member(
        self, service_url: str, conversation_id: str, user_id: str
    ) -> RosterEntry | None:
        return next((e for e in self.chats.get(conversation_id, []) if e.user_id == user_id), None)

    async def members(
        self, service_url: str, conversation_id: str, at_most: int
    ) -> list[RosterEntry]:
        # Like the real one: reading stops once it holds more than `at_most` people.
        return self.chats.get(conversation_id, [])[: at_most + 1]


class FakeQueue:
    """A `DeliveryQueue` that only records what it is given (nothing is delivered)."""

    def __init__(
        self, instance: str = "this-instance", lease: timedelta = timedelta(minutes=5)
    ) -> None:
        self.instance = instance
        self.lease = lease
        self.submitted: list[Message] = []

    def claim(self, now: datetime) -> tuple[str, datetime]:
        return self.instance, now + self.lease

    def submit(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        self.submitted.append(message)

    def resume(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        self.submitted.append(message)

    def submit_unfiled(
        self, message: Message, group: Group, people: Sequence[Person]
    ) -> asyncio.Future[Message | None]:
        """Records it; a delivery that never ends: the group keeps holding it."""
        self.submitted.append(message)
        return asyncio.get_running_loop().create_future()


class StoreSpy:
    """A `Store` that counts calls by method and raises StoreError on a chosen call."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.refused = 0  # writes the store refused as made over an older version
        self._failures: dict[str, int] = {}

    def fail(self, method: str, on_call: int = 1) -> None:
        """The `on_call`-th call of `method` from now on raises StoreError (once)."""
        self._failures[method] = self.calls[method] + on_call

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        if self._failures.get(method) == self.calls[method]:
            del self._failures[method]
            raise StoreError(f"{method} failed (scripted)")

    async def ping(self) -> None:
        self._call("ping")
        await self.inner.ping()

    async def announce_instance(self, instance_id: str, until: datetime) -> None:
        self._call("announce_instance")
        await self.inner.announce_instance(instance_id, until)

    async def live_instances(self, now: datetime) -> int:
        self._call("live_instances")
        return await self.inner.live_instances(now)

    async def withdraw_instance(self, instance_id: str) -> None:
        self._call("withdraw_instance")
        await self.inner.withdraw_instance(instance_id)

    async def get_person(self, tenant_id: str, person_id: str) -> Person | None:
        self._call("get_person")
        return await self.inner.get_person(tenant_id, person_id)

    async def get_people(self, tenant_id: str, person_ids: Sequence[str]) -> list[Person]:
        self._call("get_people")
        return await self.inner.get_people(tenant_id, person_ids)

    async def person_for_teams_user(self, tenant_id: str, teams_user_id: str) -> Person | None:
        self._call("person_for_teams_user")
        return await self.inner.person_for_teams_user(tenant_id, teams_user_id)

    async def person_id_for_teams_user(self, tenant_id: str, teams_user_id: str) -> str | None:
        self._call("person_id_for_teams_user")
        return await self.inner.person_id_for_teams_user(tenant_id, teams_user_id)

    async def person_for_object(self, tenant_id: str, aad_object_id: str) -> Person | None:
        self._call("person_for_object")
        return await self.inner.person_for_object(tenant_id, aad_object_id)

    async def person_for_address(self, tenant_id: str, address: str) -> Person | None:
        self._call("person_for_address")
        return await self.inner.person_for_address(tenant_id, address)

    async def get_people_and_group(
        self, tenant_id: str, person_ids: Sequence[str], group_id: str
    ) -> tuple[list[Person], Group | None]:
        self._call("get_people_and_group")
        return await self.inner.get_people_and_group(tenant_id, person_ids, group_id)

    async def save_person(self, person: Person) -> Person:
        self._call("save_person")
        return await self.inner.save_person(person)

    async def get_group(self, tenant_id: str, group_id: str) -> Group | None:
        self._call("get_group")
        return await self.inner.get_group(tenant_id, group_id)

    async def groups_of(self, tenant_id: str, person_id: str) -> list[Group]:
        self._call("groups_of")
        return await self.inner.groups_of(tenant_id, person_id)

    async def save_group(self, group: Group) -> Group:
        self._call("save_group")
        return await self.inner.save_group(group)

    async def delete_group(self, group: Group) -> None:
        self._call("delete_group")
        await self.inner.delete_group(group)

    async def group_for_outlook_conversation(self, conversation_id: str) -> Group | None:
        self._call("group_for_outlook_conversation")
        return await self.inner.group_for_outlook_conversation(conversation_id)

    async def groups_with_meetings(self, until: datetime) -> list[Group]:
        self._call("groups_with_meetings")
        return await self.inner.groups_with_meetings(until)

    async def groups_with_unfiled(self, until: datetime) -> list[Group]:
        self._call("groups_with_unfiled")
        return await self.inner.groups_with_unfiled(until)

    async def add_message(self, message: Message) -> Message | None:
        self._call("add_message")
        return await self.inner.add_message(message)

    async def get_message(self, group_id: str, message_id: str) -> Message | None:
        self._call("get_message")
        return await self.inner.get_message(group_id, message_id)

    async def save_message(self, message: Message) -> Message:
        self._call("save_message")
        try:
            return await self.inner.save_message(message)
        except ConcurrentUpdate:
            self.refused += 1
            raise

    async def pending_messages(self) -> list[Message]:
        self._call("pending_messages")
        return await self.inner.pending_messages()

    async def forget(self, key: str) -> None:
        self._call("forget")
        await self.inner.forget(key)

    async def remember_once(self, key: str, now: datetime, keep: timedelta) -> bool:
        self._call("remember_once")
        return await self.inner.remember_once(key, now, keep)


# requests, as the Teams adapter hands them over

_keys = itertools.count(1)


def _key(key: str) -> str:
    return key or f"activity-{next(_keys)}"


def teams_user(name: str, tenant: str = TENANT, personal: bool = True) -> TeamsUser:
    """A person as their activity describes them (Teams gives no e-mail address there)."""
    return TeamsUser(
        tenant_id=tenant,
        user_id=user_id(name),
        display_name=display(name),
        service_url=SERVICE_URL,
        bot_id="28:send",
        conversation_id=chat_of(name) if personal else "",
    )


def personal(
    text: str = "",
    *,
    who: str = "ann",
    tenant: str = TENANT,
    key: str = "",
    action: CardAction | None = None,
    mentions: tuple[MentionedUser, ...] = (),
) -> TeamsRequest:
    """Something typed (or a card clicked) in a person's 1:1 chat with the bot."""
    return TeamsRequest(
        sender=teams_user(who, tenant),
        conversation_id=chat_of(who),
        personal=True,
        activity_key=_key(key),
        text=text,
        mentions=mentions,
        action=action,
    )


def in_group_chat(
    text: str, *, who: str = "ann", chat: str = "chat-team", mentions_bot: bool = True
) -> TeamsRequest:
    """Something typed in a Teams group chat the bot was added to."""
    return TeamsRequest(
        sender=teams_user(who, personal=False),
        conversation_id=chat,
        personal=False,
        activity_key=_key(""),
        text=text,
        mentions_bot=mentions_bot,
    )


# the core, wired as bot/compose.py wires it


@dataclass
class Core:
    """The core as production builds it (bot.core.assembly.build_core), over fakes."""

    store: Store
    clock: FakeClock
    teams: FakeTeamsApp
    outlook: FakeOutlook
    vault: MemoryVault
    attachments: FakeAttachments
    built: AppCore

    @property
    def roster(self) -> FakeTeamsApp:
        return self.teams

    @property
    def people(self) -> People:
        return self.built.people

    @property
    def groups(self) -> Groups:
        return self.built.groups

    @property
    def relay(self) -> Relay:
        return self.built.relay

    @property
    def conversation(self) -> Conversation:
        return self.built.conversation

    async def say(self, text: str, who: str = "ann", key: str = "") -> Answer:
        """`who` types `text` in their 1:1 chat; the core's answer."""
        return await self.conversation.handle(personal(text, who=who, key=key))

    def photo(self, name: str) -> IncomingMedia:
        """A PNG pasted in a 1:1 chat: what the activity names, and the bytes behind it."""
        url = f"https://smba.example.test/v3/attachments/{name}/views/original"
        self.attachments.files[url] = png_bytes()
        return IncomingMedia(url, "", "image/png", needs_bot_token=True)

    async def say_with_photo(self, text: str, key: str, who: str = "ann") -> Answer:
        """`who` pastes a picture with `text` as its caption."""
        request = replace(personal(text, who=who, key=key), media=(self.photo(key),))
        return await self.conversation.handle(request)

    async def person(self, name: str) -> Person:
        person = await self.store.get_person(TENANT, email(name))
        assert person is not None, f"{name} is not stored"
        return person

    async def group(self, owner: str, name: str) -> Group:
        """A group named `name` among `owner`'s groups (as stored now)."""
        found = [g for g in await self.store.groups_of(TENANT, email(owner)) if g.name == name]
        assert len(found) == 1, f"{owner} has {len(found)} groups named {name}"
        return found[0]

    async def relayed(self) -> list[Sent]:
        """Every relayed copy sent to Teams, once no delivery is pending any more (and
        the worker has finished with what it delivered: receipts asked for, claims let go)."""
        for _ in range(TURNS):
            if not await self.store.pending_messages() and not self.built.worker.busy:
                return list(self.teams.sent)
            await asyncio.sleep(0)
        raise AssertionError(f"deliveries still pending after {TURNS} event-loop turns")

    async def relayed_messages(self) -> list[str]:
        """The ids of the messages relayed to Teams, in the order they were first sent."""
        return list(dict.fromkeys(s.message_id for s in await self.relayed()))


class FakeTeamsApp(FakeRoster, FakeTeams):
    """Teams as the core sees it: the fake connector's sends and its rosters."""

    def __init__(self, clock: FakeClock) -> None:
        FakeRoster.__init__(self)
        FakeTeams.__init__(self, clock)


def build_core(
    store: Store,
    clock: FakeClock,
    *,
    allowed_tenants: frozenset[str] = frozenset(),
    max_chars: int = MAX_CHARS,
    mail_tenant: str | None = None,
    directory: Directory | None = None,
    max_groups: int | None = None,
    per_minute: int | None = None,
    calendar: Calendar | None = None,
) -> Core:
    """The core production runs, over `store` and fakes of every other port; the cast's
    1:1 chats are in the roster. Nothing waits: pacing and retries sleep on `clock`."""
    teams = FakeTeamsApp(clock)
    for name in CAST:
        teams.personal_chat(name)
    outlook, vault, attachments = FakeOutlook(), MemoryVault(), FakeAttachments()
    ports = CorePorts(
        store=store,
        teams=teams,
        outlook=outlook,
        media_vault=vault,
        media_links=FakeLinks(),
        media_fetcher=attachments,
        directory=directory or NoDirectory(),
        installer=NoInstaller(),
        calendar=calendar or NoCalendar(),
    )
    defaults = Settings()  # production's numbers
    rules = Rules(
        max_message_chars=max_chars,
        messages_per_minute_per_sender=per_minute or defaults.messages_per_minute_per_sender,
        teams_sends_per_second=defaults.teams_sends_per_second,
        max_media_bytes=defaults.max_media_bytes,
        max_groups_per_person=max_groups or defaults.max_groups_per_person,
        media_seal_key=b"unit-test-seal-key",
        allowed_tenants=allowed_tenants,
        mail_tenant=mail_tenant,
        instance_id="this-instance",
    )
    built = assemble(ports, clock, rules, sleep=FakeSleep(clock), monotonic=clock.monotonic)
    core = Core(store, clock, teams, outlook, vault, attachments, built)
    BUILT.append(core)
    return core


# The cores built during the current test: tests/unit/conftest.py stops what they started
# (deliveries, installs, poll cards) when the test ends, as the app does when it stops.
BUILT: list[Core] = []


async def stop_cores() -> None:
    while BUILT:
        built = BUILT.pop().built
        await built.poll_cards.drain(0)
        await built.receipts.drain(0)
        await built.worker.drain(0)


def relay_over(
    store: Store,
    clock: Clock,
    queue: DeliveryQueue,
    max_message_chars: int = MAX_CHARS,
    *,
    allowance: SenderAllowance | None = None,
    access: TeamsAccess | None = None,
) -> Relay:
    """A Relay as build_core makes one (production's allowance, mail to everyone), handing
    its messages to `queue`: for tests of the relay, or of a worker, alone."""
    per_minute = Settings().messages_per_minute_per_sender
    return Relay(
        store,
        clock,
        queue,
        max_message_chars,
        mail=MailPolicy(),
        allowance=allowance or SenderAllowance(per_minute),
        access=access or TeamsAccess(),
    )


# people and groups written straight to the store (for tests below the conversation)


async def add_person(
    store: Store,
    name: str,
    *,
    with_email: bool = True,
    teams: bool = True,
    reachable: bool = True,
    outlook_on: bool = True,
) -> Person:
    """A person as Send keeps them after their first message in their 1:1 chat."""
    reach = None
    if teams:
        reach = TeamsReach(
            user_id=user_id(name),
            service_url=SERVICE_URL,
            bot_id="28:send",
            conversation_id=chat_of(name),
            reachable=reachable,
        )
    return await store.save_person(
        Person(
            tenant_id=TENANT,
            person_id=email(name) if with_email else f"teams:{user_id(name)}",
            display_name=display(name),
            email=email(name) if with_email else "",
            teams=reach,
            outlook_on=outlook_on,
        )
    )


async def add_group(
    store: Store,
    clock: FakeClock,
    name: str,
    owner: Person,
    *others: Person,
    muted: Sequence[Person] = (),
) -> Group:
    """A stored group of `owner` and `others`, all joined now; id "group-<name>"."""
    now = clock.now()
    muted_ids = {p.person_id for p in muted}
    members = tuple(
        Member(p.person_id, p.display_name, now, muted=p.person_id in muted_ids)
        for p in (owner, *others)
    )
    return await store.save_group(
        Group(
            tenant_id=owner.tenant_id,
            group_id=f"group-{name}",
            name=name,
            owner_id=owner.person_id,
            members=members,
            created_at=now,
        )
    )


# waiting for the delivery worker's tasks, in event-loop turns (never wall-clock time)

TURNS = 2000


async def eventually(check: Callable[[], bool], turns: int = TURNS) -> None:
    for _ in range(turns):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"still not so after {turns} event-loop turns")


async def filed(store: Store, group_id: str, message_id: str, turns: int = TURNS) -> Message:
    """The stored message once it is filed on its own (a plain message is held by its
    group until its first round's write)."""
    for _ in range(turns):
        message = await store.get_message(group_id, message_id)
        if message is not None:
            return message
        await asyncio.sleep(0)
    raise AssertionError(f"message {message_id} not filed after {turns} event-loop turns")


async def delivered(store: Store, group_id: str, message_id: str, turns: int = TURNS) -> Message:
    """The stored message once none of its deliveries is pending any more."""
    for _ in range(turns):
        message = await store.get_message(group_id, message_id)
        if message is not None and not message.pending:
            return message
        await asyncio.sleep(0)
    raise AssertionError(f"message {message_id} still pending after {turns} event-loop turns")
