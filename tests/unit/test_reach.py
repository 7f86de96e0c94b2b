"""Reaching members in Teams who never opened Send: installation through the installer
port, Outlook only when Teams cannot be used, told once, tried again a day later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.features.polls import PollCards
from bot.core.features.receipts import Receipts
from bot.core.membership.addresses import parse_members
from bot.core.membership.groups import Groups
from bot.core.membership.people import People
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import RETRY_INSTALL_AFTER, TeamsAccess, TeamsChats
from bot.core.model import Channel, DeliveryState, Group, Person, TeamsReach
from bot.core.ports import DirectoryEntry, InstallOutcome, InstallResult
from bot.core.sending.attempts import OUTLOOK_ONLY, QUIET, RetryPolicy
from bot.core.sending.delivery import DeliveryWorker
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import Relay
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    TENANT,
    FakeOutlook,
    FakeRoster,
    FakeTeams,
    add_person,
    delivered,
    eventually,
    gone,
    relay_over,
)
from tests.unit.fakes import FakeClock, FakeSleep
from tests.unit.media_fakes import memory_media


class Colleagues:
    """The organisation's directory: address -> (object id, display name)."""

    searchable = True

    def __init__(self, **people: str) -> None:
        self.people = {f"{n}@x.com": (oid, n.title()) for n, oid in people.items()}

    def covers(self, tenant_id: str) -> bool:
        return tenant_id == TENANT

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None:
        found = self.people.get(email)
        if found is None:
            return None
        return DirectoryEntry(email, found[1], found[0], (f"{email.split('@')[0]}@alias.x.com",))


@dataclass
class FakeInstaller:
    """Installs for anyone, except the object ids scripted otherwise."""

    installs = True

    answers: dict[str, list[InstallResult]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def install(self, tenant_id: str, aad_object_id: str) -> InstallResult:
        self.calls.append(aad_object_id)
        if self.gate is not None:
            await self.gate.wait()
        queued = self.answers.get(aad_object_id)
        if queued:
            return queued.pop(0)
        return InstallResult(InstallOutcome.READY, conversation_id=f"19:{aad_object_id}")


POLICY_REFUSED = InstallResult(InstallOutcome.REFUSED, detail="blocked by policy")


@dataclass
class Rig:
    store: DocumentStore
    clock: FakeClock
    teams: FakeTeams
    installer: FakeInstaller
    chats: TeamsChats
    groups: Groups
    relay: Relay
    worker: DeliveryWorker
    ann: Person


@pytest.fixture
async def rig(store: DocumentStore, clock: FakeClock, sleep: FakeSleep) -> AsyncIterator[Rig]:
    teams = FakeTeams(clock)
    installer = FakeInstaller()
    chats = TeamsChats(store, teams, clock, installer)
    limiter = RateLimiter(per_tenant=50, clock=clock.monotonic, sleep=FakeSleep(clock))
    worker = DeliveryWorker(
        store,
        teams,
        FakeOutlook(),
        limiter,
        RetryPolicy(base_delay=1.0, max_delay=4.0, deadline=timedelta(minutes=1)),
        clock=clock,
        sleep=sleep,
        chats=chats,
        media=memory_media(store),
        cards=PollCards(store, teams, limiter, clock, memory_media(store)),
        receipts=Receipts(store, teams, limiter, clock, pause=0),
    )
    people = People(store, Colleagues(bob="oid-bob", cy="oid-cy"), FakeRoster())
    relay = relay_over(store, clock, worker, 500, access=chats.access)
    groups = Groups(
        store,
        people,
        clock,
        mail=MailPolicy(),
        access=chats.access,
        newcomers=chats,
        media=memory_media(store),
        relay=relay,
        thread=worker.thread,
        max_groups=100,
    )
    ann = await add_person(store, "ann")
    yield Rig(store, clock, teams, installer, chats, groups, relay, worker, ann)
    await worker.drain(grace=0)


async def lunch(rig: Rig, members: str = "bob@x.com, cy@x.com") -> Group:
    created = await rig.groups.create(rig.ann, "lunch", parse_members(members))
    await rig.chats.drain(grace=5)  # the chats being prepared for the new members
    return created.group


async def stored(rig: Rig, person_id: str) -> Person:
    person = await rig.store.get_person(TENANT, person_id)
    assert person is not None
    return person


async def test_people_added_by_address_are_keyed_by_object_id_and_installed_at_once(
    rig: Rig,
) -> None:
    group = await lunch(rig)
    assert set(group.member_ids) == {rig.ann.person_id, "oid-bob", "oid-cy"}
    assert sorted(rig.installer.calls) == ["oid-bob", "oid-cy"]
    bob = await stored(rig, "oid-bob")
    assert bob.teams is not None and bob.teams.conversation_id == "19:oid-bob"
    # Where to reach them came from the one who added them.
    assert bob.teams.service_url == rig.ann.teams.service_url  # type: ignore[union-attr]
    # Known by every address the directory gave.
    found = await rig.store.person_for_address(TENANT, "BOB@alias.x.com")
    assert found is not None and found.person_id == "oid-bob"

    await rig.relay.from_teams(rig.ann, group, "Friday?", "m1")
    message = await delivered(rig.store, group.group_id, "m1")
    teams = {d.recipient_id: d.state for d in message.deliveries if d.channel is Channel.TEAMS}
    assert teams == {"oid-bob": DeliveryState.SENT, "oid-cy": DeliveryState.SENT}
    assert sorted(rig.installer.calls) == ["oid-bob", "oid-cy"]  # nothing installed again


async def test_a_refused_installation_means_outlook_only_told_once_and_tried_a_day_later(
    rig: Rig,
) -> None:
    rig.installer.answers["oid-cy"] = [POLICY_REFUSED, POLICY_REFUSED]
    group = await lunch(rig)
    cy = await stored(rig, "oid-cy")
    assert cy.teams_unavailable == "blocked by policy"
    notices = [text for who, text in rig.teams.notices if who == rig.ann.person_id]
    assert len(notices) == 1 and "Cy gets lunch by Outlook only" in notices[0]
    assert "blocked by policy" in notices[0]
    members = await rig.groups.members_text(rig.ann, "lunch")
    assert "- Cy <cy@x.com>: Outlook only (blocked by policy)" in members

    # Messages meanwhile: no Teams copy is even attempted for Cy, nobody is told again.
    await rig.relay.from_teams(rig.ann, group, "one", "m1")
    message = await delivered(rig.store, group.group_id, "m1")
    assert "oid-cy" not in {d.recipient_id for d in message.deliveries}
    assert rig.installer.calls.count("oid-cy") == 1

    # A day later the installation is tried again; refused again, quietly.
    rig.clock.advance(RETRY_INSTALL_AFTER.total_seconds() + 1)
    await rig.relay.from_teams(rig.ann, group, "two", "m2")
    message = await delivered(rig.store, group.group_id, "m2")
    cy_copy = next(d for d in message.deliveries if d.recipient_id == "oid-cy")
    assert cy_copy.state is DeliveryState.FAILED and cy_copy.last_error == QUIET
    assert rig.installer.calls.count("oid-cy") == 2
    assert len([1 for who, _ in rig.teams.notices if who == rig.ann.person_id]) == 1

    # The third time it works: Cy is back in Teams.
    rig.clock.advance(RETRY_INSTALL_AFTER.total_seconds() + 1)
    await rig.relay.from_teams(rig.ann, group, "three", "m3")
    message = await delivered(rig.store, group.group_id, "m3")
    cy_copy = next(d for d in message.deliveries if d.recipient_id == "oid-cy")
    assert cy_copy.state is DeliveryState.SENT
    cy = await stored(rig, "oid-cy")
    assert cy.teams_chat_ready and not cy.teams_unavailable


async def test_a_refusal_found_by_a_delivery_is_told_to_the_sender(rig: Rig) -> None:
    # Graph was busy while the group was made; at the first message it refuses.
    rig.installer.answers["oid-bob"] = [
        InstallResult(InstallOutcome.RETRY, detail="graph 503"),
        POLICY_REFUSED,
    ]
    group = await lunch(rig, "bob@x.com")
    assert not rig.teams.notices
    await rig.relay.from_teams(rig.ann, group, "tea?", "t1")
    message = await delivered(rig.store, group.group_id, "t1")
    bob_copy = next(d for d in message.deliveries if d.recipient_id == "oid-bob")
    assert bob_copy.last_error == f"{OUTLOOK_ONLY}: blocked by policy"
    await eventually(lambda: bool(rig.teams.notices))
    assert len(rig.teams.notices) == 1
    assert "Bob gets lunch by Outlook only" in rig.teams.notices[0][1]


async def test_concurrent_deliveries_install_once_and_all_arrive(rig: Rig) -> None:
    rig.installer.gate = asyncio.Event()
    group = await rig.groups.create(rig.ann, "lunch", parse_members("bob@x.com"))
    for n in range(3):
        await rig.relay.from_teams(rig.ann, group.group, f"m{n}", f"k{n}")
    await asyncio.sleep(0)
    rig.installer.gate.set()
    for n in range(3):
        message = await delivered(rig.store, group.group.group_id, f"k{n}")
        assert all(d.state is DeliveryState.SENT for d in message.deliveries)
    assert rig.installer.calls == ["oid-bob"]
    assert [s.text for s in rig.teams.sent_to("oid-bob")] == ["m0", "m1", "m2"]


async def test_a_passing_installation_failure_is_retried_by_the_delivery(rig: Rig) -> None:
    rig.installer.answers["oid-bob"] = [
        InstallResult(InstallOutcome.RETRY, detail="graph 503"),
        InstallResult(InstallOutcome.RETRY, detail="graph 503"),
    ]
    group = await lunch(rig, "bob@x.com")
    await rig.relay.from_teams(rig.ann, group, "hi", "m1")
    message = await delivered(rig.store, group.group_id, "m1")
    assert all(d.state is DeliveryState.SENT for d in message.deliveries)
    assert rig.installer.calls == ["oid-bob"] * 3
    assert not rig.teams.notices


def test_who_can_get_teams_copies() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    outlook_only = Person(TENANT, "p", "P", aad_object_id="oid")
    assert TeamsAccess(installs=True).possible(outlook_only, now)
    assert not TeamsAccess(installs=False).possible(outlook_only, now)
    refused = Person(
        TENANT, "p", "P", aad_object_id="oid", teams_unavailable="x", teams_retry_at=now
    )
    assert TeamsAccess(installs=True).possible(refused, now)
    assert not TeamsAccess(installs=True).possible(refused, now - timedelta(seconds=1))
    blocked = Person(
        TENANT, "p", "P", aad_object_id="oid", teams=TeamsReach("29:p", "s", reachable=False)
    )
    assert not TeamsAccess(installs=True).possible(blocked, now)


async def test_status_names_who_has_it_who_is_outlook_only_and_what_failed(rig: Rig) -> None:
    rig.installer.answers["oid-cy"] = [POLICY_REFUSED]
    group = await lunch(rig)
    rig.teams.answer("oid-bob", gone())
    await rig.relay.from_teams(rig.ann, group, "Lunch at 12?", "m1")
    await delivered(rig.store, group.group_id, "m1")
    text = await rig.groups.status_text(rig.ann, "lunch")
    lines = text.splitlines()
    assert lines[0].startswith("Your last message to lunch (") and lines[0].endswith(
        '"Lunch at 12?"'
    )
    assert "- In Teams: nobody yet" in lines
    assert "- By Outlook only: Cy" in lines
    assert "- Not delivered in Teams: Bob (they removed or blocked Send, or left Teams)" in lines
    assert "- Outlook thread: added, for 3 people" in lines


async def test_status_before_any_message(rig: Rig) -> None:
    await lunch(rig)
    assert (await rig.groups.status_text(rig.ann, "lunch")).startswith(
        "You have not written to lunch lately"
    )
