"""/readyz tells the delivery backlog, and fails when a message has waited too long."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.tuning import Tuning
from bot.web.app import create_app
from bot.web.routes import BACKLOG_LIMIT_SECONDS
from tests.conftest import FAST_RETRY, serve
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import MovableClock
from tests.teams_world import TeamsWorld
from tests.waiting import wait_until


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as r:
        body: dict[str, Any] = await r.json()
        return r.status, body


async def test_readiness_reports_the_backlog_and_fails_past_its_limit(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
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
        await wait_until(lambda: fake.held == 1, what="the copy to reach the connector")
        clock.advance(timedelta(seconds=BACKLOG_LIMIT_SECONDS + 60))

        async def backlogged() -> bool:  # once the next recovery pass (0.1 s) has looked
            return (await readiness(url))[0] == 503

        await wait_until(backlogged, what="readiness to fail on the backlog")
        status, body = await readiness(url)
        assert status == 503
        assert body["oldest_pending_seconds"] >= BACKLOG_LIMIT_SECONDS
        assert body["error"].startswith("delivery backlog")

        fake.hold.set()
        await world.wait_relayed(bob, 1)

        async def caught_up() -> bool:
            return (await readiness(url)) == (200, {"status": "ready", "oldest_pending_seconds": 0})

        await wait_until(caught_up, what="readiness to recover once the copy went")
