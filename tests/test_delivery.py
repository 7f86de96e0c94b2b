"""The delivery engine under faults: throttling, errors, and Teams' rate limits.

Measured from the fake Bot Connector's own clock (the times it received each send). Only
bounds that a slow, loaded machine does not break are asserted: a retry is never earlier
than Retry-After, and no second holds more sends than the limits allow. Nothing asserts
how soon anything arrives.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector, Json, is_receipt
from tests.pacing import ARRIVAL_JITTER, TRANSIT_SPREAD, busiest_second
from tests.teams_world import TeamsWorld, card_text


@pytest.fixture
async def paced_world(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> AsyncIterator[TeamsWorld]:
    fake, connector_url = connector
    settings = Settings(data_dir=tmp_path, teams_sends_per_second=10)
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world


def text_of(activity: Json) -> str:
    cards = [a["content"] for a in activity.get("attachments") or []]
    return card_text(cards[0]) if cards else str(activity.get("text", ""))


@pytest.fixture
async def busy_world(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> AsyncIterator[TeamsWorld]:
    """Sends as fast as Teams allows, and a sender allowed to flood (on purpose)."""
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path, teams_sends_per_second=50, messages_per_minute_per_sender=1000
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world


@pytest.mark.slow
async def test_throttled_sends_arrive_exactly_once_and_never_early(busy_world: TeamsWorld) -> None:
    """A 429 storm on 30% of sends, 25 messages to 9 members: every copy delivered exactly
    once, none before its Retry-After, none given up."""
    world = busy_world
    owner = world.person("Owner")
    others = world.people(9)
    for person in (owner, *others):
        await world.install(person)
    await world.say(owner, "new Storm: " + ", ".join(p.email for p in others))
    seeded = random.Random(2026)
    world.connector.faults = lambda cid, activity: (
        (429, {"Retry-After": "0.3"})
        if activity.get("attachments") and seeded.random() < 0.3
        else None
    )
    for n in range(25):
        await world.say(owner, f"storm {n}")
    for person in others:
        await world.wait_relayed(person, 25, timeout=120)
    copies = Counter(
        (r.conversation_id, text_of(r.activity))
        for r in world.connector.received
        if r.activity.get("attachments") and not is_receipt(r.activity)
    )
    assert len(copies) == 225 and set(copies.values()) == {1}  # each copy exactly once
    refused = world.connector.refused
    assert len(refused) >= 50  # the seed makes about 30% of tries fail
    for refusal in refused:
        if is_receipt(refusal.activity):
            continue  # a receipt is not sent again: the next change shows the news
        key = (refusal.conversation_id, text_of(refusal.activity))
        later = [
            r.at
            for r in [*world.connector.received, *refused]
            if (r.conversation_id, text_of(r.activity)) == key and r.at > refusal.at
        ]
        assert later, f"{key} was never tried again"
        assert min(later) - refusal.at >= 0.3 - ARRIVAL_JITTER  # never before Retry-After


@pytest.mark.slow
async def test_a_connector_down_for_seconds_loses_nothing(busy_world: TeamsWorld) -> None:
    """Every send answered 503 for 4 s, then the connector recovers: everything accepted
    meanwhile is delivered after, once. (A forty-minute outage with production's retry
    policy, on a fake clock: tests/unit/test_delivery.py.)"""
    world = busy_world
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Outage: {bob.email}, {cy.email}")
    down_until = time.monotonic() + 4.0  # the fake's clock
    world.connector.faults = lambda cid, activity: (
        (503, {}) if activity.get("attachments") and time.monotonic() < down_until else None
    )
    for n in range(5):
        await world.say(ann, f"during the outage {n}")
    for person in (bob, cy):
        await world.wait_relayed(person, 5, timeout=120)
    copies = Counter(
        (r.conversation_id, text_of(r.activity))
        for r in world.connector.received
        if r.activity.get("attachments") and not is_receipt(r.activity)
    )
    assert len(copies) == 10 and set(copies.values()) == {1}
    assert len(world.connector.refused) > 20  # it was tried again and again meanwhile
    delivered = [r.at for r in world.connector.received if r.activity.get("attachments")]
    assert min(delivered) >= down_until  # all of it after the outage, none lost in it


async def test_server_errors_are_retried_and_bad_requests_are_not(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}, {cy.email}")
    failures = {"bob": 2}

    def plan(cid: str, activity: Json) -> tuple[int, dict[str, str]] | None:
        if not activity.get("attachments"):
            return None
        if cid == world.connector.chat_of(bob.user_id) and failures["bob"] > 0:
            failures["bob"] -= 1
            return (503, {})
        if cid == world.connector.chat_of(cy.user_id):
            return (400, {})
        return None

    world.connector.faults = plan
    await world.say(ann, "after a hiccup")
    await world.wait_relayed(bob, 1)
    refused_to_cy = [r for r in world.connector.refused if r.conversation_id.endswith(cy.user_id)]
    assert len(refused_to_cy) == 1  # a 400 is final: no retry
    assert world.relayed(cy) == []
    await world.say(ann, "members")
    assert "- Cy <cy@contoso.com>: Teams and Outlook" in world.last_reply(ann)  # not marked gone


@pytest.mark.slow
async def test_teams_rate_limits_hold_under_a_burst(paced_world: TeamsWorld) -> None:
    world = paced_world
    owner = world.person("Owner")
    others = world.people(19)
    for person in (owner, *others):
        await world.install(person)
    await world.say(owner, "new Everyone: " + ", ".join(p.email for p in others))
    for n in range(2):
        await world.say(owner, f"burst {n}")
    second = others[0]
    await world.say(owner, f"new Pair: {second.email}")
    for n in range(9):
        await world.say(owner, f"pair {n}")
    for person in others[1:]:
        await world.wait_relayed(person, 2, timeout=30)
    await world.wait_relayed(second, 11, timeout=30)
    # The senders' receipts are paced with the copies: counted in the pace, not the copies.
    sends = [r for r in world.connector.received if r.activity.get("attachments")]
    assert len([r for r in sends if not is_receipt(r.activity)]) == 2 * 19 + 9
    assert busiest_second([r.at for r in sends]) <= 10  # TEAMS_SENDS_PER_SECOND
    into_one_chat = [
        r.at for r in sends if r.conversation_id == world.connector.chat_of(second.user_id)
    ]
    assert busiest_second(into_one_chat) <= 7  # Teams' limit per conversation
    span = max(r.at for r in sends) - min(r.at for r in sends)
    assert span >= (len(sends) - 10) / 10 - TRANSIT_SPREAD  # queued, not dropped


def test_busiest_second_counts_windows() -> None:
    assert busiest_second([0.0, 0.1, 0.2, 1.5]) == 3
    assert busiest_second([0.0, 1.0, 2.0]) == 1
    assert busiest_second([]) == 0


@pytest.mark.slow
async def test_a_flood_in_one_group_does_not_hold_back_another_group(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """One person floods a 10-member group; another group's message is delivered among the
    flood's copies, not after all of them (ordering only: nothing about how soon)."""
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path, teams_sends_per_second=10, messages_per_minute_per_sender=1000
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        flooder, quiet = world.person("Flooder"), world.person("Quiet")
        crowd, friend = world.people(9), world.person("Friend")
        for person in (flooder, quiet, friend, *crowd):
            await world.install(person)
        await world.say(flooder, "new Flood: " + ", ".join(p.email for p in crowd))
        await world.say(quiet, f"new Calm: {friend.email}")
        for n in range(10):  # 90 copies: about 9 seconds of the tenant's allowance
            await world.say(flooder, f"flood {n}")
        await world.say(quiet, "are you in for Friday?")
        await world.wait_relayed(friend, 1, timeout=60)
        for person in crowd:
            await world.wait_relayed(person, 10, timeout=120)
    arrivals = [r for r in fake.received if r.activity.get("attachments")]
    calm = next(i for i, r in enumerate(arrivals) if "Friday" in text_of(r.activity))
    flood = [i for i, r in enumerate(arrivals) if "flood" in text_of(r.activity)]
    assert len(flood) == 90
    # Served in turn with the flood, so well ahead of its last 30 copies (3 seconds of
    # allowance); first come, first served would put it after all 90.
    assert calm < flood[-30], (calm, len(arrivals))
