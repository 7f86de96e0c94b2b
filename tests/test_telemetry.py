"""Logs reach Application Insights when its connection string is set (a fake ingestion
endpoint that speaks the Breeze `/v2.1/track` protocol the exporter uses)."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.conftest import serve
from tests.fakes.connector import FakeConnector
from tests.services import free_port
from tests.teams_world import TeamsWorld
from tests.test_process import start_app, wait_healthy


async def test_log_records_are_exported_with_their_ids(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    received: list[dict[str, Any]] = []

    async def track(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        items = json.loads(raw)
        received.extend(items if isinstance(items, list) else [items])
        return web.json_response(
            {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        )

    ingestion = web.Application()
    ingestion.router.add_post("/{base:/*}v2.1/track", track)
    fake, connector_url = connector
    async with serve(ingestion) as ingestion_url:
        port = free_port()
        connection = f"InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint={ingestion_url}/"
        process = start_app(tmp_path, port, APPLICATIONINSIGHTS_CONNECTION_STRING=connection)
        try:
            await wait_healthy(f"http://127.0.0.1:{port}", process)
            async with TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url) as world:
                ann, bob = world.person("Ann"), world.person("Bob")
                await world.install(ann)
                await world.install(bob)
                await world.say(ann, f"new Lunch: {bob.email}")
                await world.say(ann, "a secret plan")
                await world.wait_relayed(bob, 1)
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0
    messages = {
        item["data"]["baseData"].get("message"): item for item in received if item.get("data")
    }
    assert "send is ready" in messages
    delivered = messages["message delivered"]["data"]["baseData"]["properties"]
    assert delivered["sent"] == "2" and delivered["message_id"]  # Bob's copy and the mail
    assert all("a secret plan" not in json.dumps(item) for item in received)  # no message bodies
