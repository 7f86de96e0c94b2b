"""Several app instances sharing one Cosmos DB (cosmosdb-server): each copy is sent once,
and a dead instance's pending deliveries are taken over once its claims expire."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.tuning import Tuning
from bot.web.app import create_app
from bot.web.keys import SERVICES
from tests.conftest import FAST_RETRY, serve
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import MovableClock
from tests.pacing import busiest_second
from tests.services import COSMOS_KEY, ROOT, free_port
from tests.teams_world import TeamsWorld, card_text
from tests.test_process import app_env, wait_healthy
from tests.waiting import wait_until

QUICK = Tuning(retry=FAST_RETRY, recovery_interval=0.2)


def cosmos_settings(endpoint: str, tmp_path: Path, database: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        cosmos_endpoint=endpoint,
        cosmos_key=COSMOS_KEY,
        cosmos_database=database,
        cosmos_verify_tls=False,
        teams_sends_per_second=50,
    )


def copies_of(fake: FakeConnector, prefix: str) -> Counter[tuple[str, str]]:
    return Counter(
        (
            r.conversation_id,
            card_text(r.activity["attachments"][0]["content"]).split(" in Team ")[-1],
        )
        for r in fake.received
        if r.activity.get("attachments") and prefix in str(r.activity["attachments"])
    )


@pytest.mark.slow
async def test_two_instances_send_each_copy_once(
    cosmos_endpoint: str, tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    fake, connector_url = connector
    settings = cosmos_settings(cosmos_endpoint, tmp_path, f"two-{uuid.uuid4().hex[:8]}")
    # Two processes on one host differ by port, which is part of the instance id.
    settings_a, settings_b = (
        replace(settings, port=free_port()),
        replace(settings, port=free_port()),
    )
    async with (
        serve(create_app(settings_a, tuning=QUICK), settings_a.port) as url_a,
        serve(create_app(settings_b, tuning=QUICK), settings_b.port) as url_b,
        TeamsWorld(url_a, fake, connector_url) as a,
        TeamsWorld(url_b, fake, connector_url) as b,
    ):
        people = [a.person(name) for name in ("Ann", "Bob", "Cy", "Dee")]
        for person in people:
            await a.install(person)
        await a.say(people[0], "new Team: " + ", ".join(p.email for p in people[1:]))
        for person in people[1:]:
            await b.say(person, "use team")
        await asyncio.gather(
            *((a if n % 2 else b).say(people[n % 4], f"both-{n}") for n in range(40))
        )
        expected = {
            (fake.chat_of(p.user_id), f"both-{n}")
            for n in range(40)
            for p in people
            if p is not people[n % 4]
        }
        await fake.wait_for(lambda: expected <= set(copies_of(fake, "both-")), what="copies")
        # Checking that nothing more arrives: a settle wait, not a condition. Several of each
        # instance's recovery passes (every 0.2 s) run meanwhile; none may send a copy again.
        await asyncio.sleep(1.0)
    copies = copies_of(fake, "both-")
    assert set(copies) == expected
    assert set(copies.values()) == {1}, [k for k, n in copies.items() if n > 1]


@pytest.mark.slow
async def test_a_dead_instances_work_is_taken_over(
    cosmos_endpoint: str, tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """Instance A accepts messages and is killed (-9) while its copies are on their way;
    instance B takes the pending deliveries over once A's claims have expired."""
    fake, connector_url = connector
    hang = asyncio.Event()  # A's sends hang at the connector until this is set
    database = f"dead-{uuid.uuid4().hex[:8]}"
    settings = cosmos_settings(cosmos_endpoint, tmp_path, database)
    port = free_port()
    env = app_env(
        tmp_path,
        port,
        COSMOS_ENDPOINT=cosmos_endpoint,
        COSMOS_KEY=COSMOS_KEY,
        COSMOS_DATABASE=database,
        COSMOS_VERIFY_TLS="false",
    )
    with (tmp_path / "a.log").open("ab") as log:
        instance_a = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, stderr=log
        )
    try:
        try:
            await wait_healthy(f"http://127.0.0.1:{port}", instance_a)
            async with TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url) as a:
                people = [a.person(name) for name in ("Ann", "Bob", "Cy")]
                for person in people:
                    await a.install(person)
                await a.say(people[0], "new Team: " + ", ".join(p.email for p in people[1:]))
                fake.hold = hang  # none of A's copies arrives, however long anything takes
                for n in range(5):
                    assert await a.say(people[0], f"dead-{n}") == 200  # claimed by A
                await wait_until(lambda: fake.held >= 1, what="A's copies to reach the connector")
        finally:
            instance_a.kill()
            instance_a.wait(timeout=10)
        fake.hold = None  # B's sends are answered; A's stay stuck until the test ends
        clock = MovableClock()
        instance_b = create_app(settings, clock=clock, tuning=QUICK)
        async with serve(instance_b):
            # B's first recovery pass ran before it served. Checking that B takes nothing
            # over yet is a settle wait, not a condition: its passes run every 0.2 s. Read
            # in the store, not at the connector: a send A wrote to its socket just before
            # it was killed may still reach the connector (as it may reach Teams).
            await asyncio.sleep(1.0)
            store = instance_b[SERVICES].store
            # Filed and pending, or still held by the group (A stopped within a second).
            claims = {m.message_id: m.claimed_by for m in await store.pending_messages()}
            for group in await store.groups_with_unfiled(clock.now() + timedelta(days=1)):
                for held in group.unfiled:
                    claims.setdefault(held.message_id, held.claimed_by)
            assert len(claims) == 5  # A's claims have not expired yet: all still A's
            assert set(claims.values()) == {f"{socket.gethostname()}:{port}"}
            clock.advance(timedelta(minutes=6))  # past A's five-minute lease
            expected = {
                (fake.chat_of(p.user_id), f"dead-{n}") for n in range(5) for p in people[1:]
            }
            await fake.wait_for(
                lambda: expected <= set(copies_of(fake, "dead-")), what="the takeover"
            )
        assert set(copies_of(fake, "dead-")) == expected
    finally:
        hang.set()  # the connector's requests from A may finish now


@pytest.mark.slow
async def test_two_instances_share_one_tenant_pace(
    cosmos_endpoint: str, tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """TEAMS_SENDS_PER_SECOND is the deployment's, not each process's: with two instances
    each takes half, so the busiest second across both holds at most the setting."""
    fake, connector_url = connector
    settings = replace(
        cosmos_settings(cosmos_endpoint, tmp_path, f"pace-{uuid.uuid4().hex[:8]}"),
        teams_sends_per_second=10,
        messages_per_minute_per_sender=1000,
    )
    settings_a, settings_b = (
        replace(settings, port=free_port()),
        replace(settings, port=free_port()),
    )
    tuning = replace(QUICK, heartbeat_interval=0.2)
    app_a, app_b = create_app(settings_a, tuning=tuning), create_app(settings_b, tuning=tuning)
    async with (
        serve(app_a, settings_a.port) as url_a,
        serve(app_b, settings_b.port) as url_b,
        TeamsWorld(url_a, fake, connector_url) as a,
        TeamsWorld(url_b, fake, connector_url) as b,
    ):
        sender, others = a.person("Sender"), a.people(9)
        for person in (sender, *others):
            await a.install(person)
        await a.say(sender, "new Pace: " + ", ".join(p.email for p in others))
        await wait_until(
            lambda: app_a[SERVICES].instances.live == 2 and app_b[SERVICES].instances.live == 2,
            what="both instances to see each other",
        )
        for n in range(10):  # 90 copies, half accepted by each instance
            await (a if n % 2 else b).say(sender, f"paced-{n}")
        for person in others:
            await a.wait_relayed(person, 10, timeout=60)
    times = [r.at for r in fake.received if "paced-" in str(r.activity.get("attachments"))]
    assert len(times) == 90
    assert busiest_second(times) <= 10
