"""/readyz is about this instance: it reports the deployment's delivery backlog, and fails
only when this instance cannot serve (its store, or its own delivery loop)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.core.sending.delivery import BACKLOG_ALERT
from bot.tuning import Tuning
from bot.web.app import create_app
from tests.conftest import FAST_RETRY, serve
from tests.fakes.connector import FakeConnector
from tests.logged import logged
from tests.outlook_helpers import MovableClock
from tests.teams_world import TeamsWorld
from tests.waiting import wait_until


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as r:
        body: dict[str, Any] = await r.json()
        return r.status, body


async def test_one_stuck_delivery_leaves_readiness_200_with_the_backlog_reported(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """A copy Teams does not take for hours is the deployment's backlog, not this
    instance's fault: readiness stays 200 (a platform would otherwise pull every
    instance at once), says how old the backlog is, and the worker logs an alert."""
    fake, connector_url = connector
    clock = MovableClock()
    app = create_app(
        Settings(data_dir=tmp_path),
        clock=clock,
        tuning=Tuning(retry=FAST_RETRY, recovery_interval=0.1),
    )
    async with serve(app) as url, TeamsWorld(url, fake, connector_url) as world:
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        await world.say(ann, f"new Lunch: {bob.email}")
        assert await readiness(url) == (200, {"status": "ready", "oldest_pending_seconds": 0})

        fake.hold = asyncio.Event()  # Bob's copy hangs at the connector: it stays pending
        await world.say(ann, "stuck")
        # At least: what `new` still had on its way (Bob's notice, on a busy machine) hangs too.
        await wait_until(lambda: fake.held >= 1, what="the copy to reach the connector")
        clock.advance(BACKLOG_ALERT + timedelta(minutes=1))

        with logged("send.delivery") as records:
            # The next recovery pass (0.1 s) sees the message has waited too long.
            await wait_until(
                lambda: any(r.getMessage() == "delivery backlog" for r in records),
                what="the backlog alert",
            )
        status, body = await readiness(url)
        assert status == 200 and body["status"] == "ready"
        assert body["oldest_pending_seconds"] >= BACKLOG_ALERT.total_seconds()

        fake.hold.set()
        await world.wait_relayed(bob, 1)

        async def caught_up() -> bool:
            return (await readiness(url)) == (200, {"status": "ready", "oldest_pending_seconds": 0})

        await wait_until(caught_up, what="readiness to report no backlog once the copy went")
