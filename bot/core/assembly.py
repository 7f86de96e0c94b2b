"""Building the core: every product object from its ports, a clock and the rules, once.

`build_core` is the one way the core is put together. Production calls it from
`bot/compose.py` with the real adapters; the unit tests call it from
`tests/unit/core_fakes.py` with in-memory fakes of the same ports, so they run the core
production runs: delivery, polls, photos and files, the Outlook thread and newcomers
included. It is pure: it opens nothing, reads nothing and starts no task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from bot.core.features.media import Media, MediaFetcher, MediaLinker, MediaVault
from bot.core.features.meeting_watch import MeetingWatch
from bot.core.features.meetings import Meetings
from bot.core.features.message_life import MessageLife
from bot.core.features.polls import PollCards, Polls
from bot.core.features.reactions import Reactions
from bot.core.features.receipts import RECEIPT_PAUSE, Receipts
from bot.core.membership.groups import Groups
from bot.core.membership.people import People
from bot.core.membership.policy import MailPolicy, TenantGate
from bot.core.membership.reach import TeamsChats
from bot.core.ports import (
    Calendar,
    Clock,
    Directory,
    OutlookRecorder,
    Store,
    TeamsInstaller,
    TeamsRoster,
    TeamsSender,
)
from bot.core.sending.attempts import RetryPolicy
from bot.core.sending.delivery import DEFAULT_LEASE, DeliveryWorker
from bot.core.sending.fair_use import SenderAllowance
from bot.core.sending.instances import HEARTBEAT_SECONDS, InstanceRegistry
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import Relay
from bot.core.turn.conversation import Conversation

Sleep = Callable[[float], Awaitable[None]]


class TeamsPort(TeamsSender, TeamsRoster, Protocol):
    """Teams as the core sees it: sending to people's chats, and reading rosters."""


@dataclass(frozen=True)
class CorePorts:
    """What the core talks to; the edges implement these."""

    store: Store
    teams: TeamsPort
    outlook: OutlookRecorder
    # Photos and files: where they are kept, how members' links are made, how Teams'
    # attachments are downloaded.
    media_vault: MediaVault
    media_links: MediaLinker
    media_fetcher: MediaFetcher
    # The organisation's directory and the Teams app installer (NoDirectory and NoInstaller
    # when Graph is not configured).
    directory: Directory
    installer: TeamsInstaller
    # People's Outlook calendars (`meeting`); NoCalendar when Graph is not configured.
    calendar: Calendar


@dataclass(frozen=True)
class Rules:
    """The product's numbers and lists, as the settings give them."""

    max_message_chars: int
    messages_per_minute_per_sender: int
    teams_sends_per_second: int
    max_media_bytes: int
    # How many groups one person may be in (MAX_GROUPS_PER_PERSON).
    max_groups_per_person: int
    # The key that seals held photos and files in the group picker's card.
    media_seal_key: bytes
    # Which organisations may use Send (empty: any work or school organisation).
    allowed_tenants: frozenset[str] = frozenset()
    # The Graph tenant whose people get Outlook mail; None: mail is written as local files.
    mail_tenant: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = DEFAULT_LEASE
    # Who this instance is among those sharing the store (host and port).
    instance_id: str = ""
    heartbeat_interval: float = HEARTBEAT_SECONDS
    # Seconds between two updates of one sender's receipt.
    receipt_pause: float = RECEIPT_PAUSE
    # One automatic reminder the day before a meeting (MEETING_REMINDERS).
    meeting_reminders: bool = True


@dataclass(frozen=True)
class Core:
    conversation: Conversation
    people: People
    groups: Groups
    relay: Relay
    polls: Polls
    meetings: Meetings
    meeting_watch: MeetingWatch
    poll_cards: PollCards
    receipts: Receipts
    media: Media
    worker: DeliveryWorker
    chats: TeamsChats
    limiter: RateLimiter
    instances: InstanceRegistry


def build_core(
    ports: CorePorts,
    clock: Clock,
    rules: Rules,
    *,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Core:
    """Every object of the core, each once, with its collaborators passed in. `sleep` and
    `monotonic` are what pacing, heartbeats and retries wait and measure with (tests pass
    a fake clock's)."""
    store, teams = ports.store, ports.teams
    media = Media(
        store,
        ports.media_vault,
        ports.media_links,
        ports.media_fetcher,
        rules.media_seal_key,
        rules.max_media_bytes,
    )
    chats = TeamsChats(store, teams, clock, ports.installer)
    limiter = RateLimiter(rules.teams_sends_per_second, clock=monotonic, sleep=sleep)
    poll_cards = PollCards(store, teams, limiter, clock, media)
    receipts = Receipts(store, teams, limiter, clock, pause=rules.receipt_pause, sleep=sleep)
    worker = DeliveryWorker(
        store,
        teams,
        ports.outlook,
        limiter,
        rules.retry,
        instance_id=rules.instance_id,
        lease=rules.lease,
        clock=clock,
        sleep=sleep,
        monotonic=monotonic,
        chats=chats,
        media=media,
        cards=poll_cards,
        receipts=receipts,
    )
    people = People(store, ports.directory, teams)
    mail = MailPolicy(rules.mail_tenant)
    relay = Relay(
        store,
        clock,
        worker,
        rules.max_message_chars,
        mail=mail,
        allowance=SenderAllowance(rules.messages_per_minute_per_sender),
        access=chats.access,
    )
    groups = Groups(
        store,
        people,
        clock,
        mail=mail,
        access=chats.access,
        newcomers=chats,
        media=media,
        relay=relay,
        thread=worker.thread,
        max_groups=rules.max_groups_per_person,
    )
    meetings = Meetings(ports.calendar, ports.directory, store, people, groups, relay, clock)
    polls = Polls(store, relay, poll_cards, meetings)
    watch = MeetingWatch(
        ports.calendar,
        meetings.recent_taps,
        store,
        relay,
        poll_cards,
        chats,
        clock,
        reminders=rules.meeting_reminders,
    )
    life = MessageLife(store, relay, poll_cards, receipts, media, clock)
    conversation = Conversation(
        store,
        people,
        groups,
        relay,
        teams,
        clock,
        TenantGate(rules.allowed_tenants),
        polls,
        media,
        life,
        Reactions(store, poll_cards, receipts),
        meetings,
        watch,
    )
    instances = InstanceRegistry(
        store, rules.instance_id, clock, limiter, every=rules.heartbeat_interval, sleep=sleep
    )
    return Core(
        conversation=conversation,
        people=people,
        groups=groups,
        relay=relay,
        polls=polls,
        meetings=meetings,
        meeting_watch=watch,
        poll_cards=poll_cards,
        receipts=receipts,
        media=media,
        worker=worker,
        chats=chats,
        limiter=limiter,
        instances=instances,
    )
