"""The HTTP surface: health, readiness, and clear 4xx answers to bad requests."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from botbuilder.schema import AdaptiveCardInvokeResponse

from bot.config import Settings
from bot.core.ports import StoreError
from bot.core.sending.delivery import DeliveryWorker
from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from bot.web.app import create_app
from bot.web.routes import _invoke_body
from tests.conftest import FAST_TUNING, running_app
from tests.fakes.connector import FakeConnector
from tests.services import COSMOS_KEY, cosmos_server
from tests.teams_world import TeamsWorld


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers) as response,
    ):
        return response.status, await response.text()


JSON = {"Content-Type": "application/json"}


@pytest.mark.both_stores
async def test_health_and_readiness(settings: Settings) -> None:
    async with running_app(settings) as url:
        assert (await get(f"{url}/healthz"))[0] == 200
        status, body = await get(f"{url}/readyz")
        assert status == 200 and "ready" in body


@pytest.mark.parametrize(
    ("data", "headers", "status", "reason"),
    [
        (b"{not json", JSON, 400, "not valid JSON"),
        (b"[1, 2]", JSON, 400, "not a Bot Framework activity"),
        (b'{"text": "no type"}', JSON, 400, "not a Bot Framework activity"),
        (b'{"type": "message", "text": "hi"}', JSON, 400, "needs a conversation with an id"),
        (b'{"type": "message", "text": "\\ud800"}', JSON, 400, "lone surrogate"),
        (b'{"type": "message", "\\udc00": 1}', JSON, 400, "lone surrogate"),
        (b'{"type": "message"}', {"Content-Type": "text/plain"}, 415, "application/json"),
        (b"\xff\xfe{}", JSON, 400, "not valid JSON"),
    ],
)
async def test_bad_requests_get_4xx_with_a_reason(
    tmp_path: Path, data: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    async with running_app(Settings(data_dir=tmp_path)) as url:
        got, body = await post(f"{url}/api/messages", data, headers)
        assert got == status
        assert reason in body


async def test_oversized_request_is_413(tmp_path: Path) -> None:
    async with running_app(Settings(data_dir=tmp_path)) as url:
        big = b'{"type": "message", "text": "' + b"x" * 300_000 + b'"}'
        status, body = await post(f"{url}/api/messages", big, JSON)
        assert (status, json.loads(body)) == (413, {"error": "the body is larger than 256 KB"})


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer not-a-jwt", "Basic abc", "Bearer a.b.c"]
)
async def test_unauthenticated_requests_get_401_when_credentials_are_set(
    tmp_path: Path, connector: tuple[FakeConnector, str], authorization: str
) -> None:
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path, app_id="11111111-2222-3333-4444-555555555555", app_password="p"
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        alice = world.person("Alice")
        activity = world.activity(alice, world.personal(alice), text="help")
        headers = {"Authorization": authorization} if authorization else {}
        assert await world.post(activity, headers) == 401
        assert world.replies(alice) == []


@pytest.mark.slow
async def test_store_outage_gives_503_and_readiness_follows(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """With Cosmos DB down nothing is acknowledged: Teams gets a 503 and sends again."""
    fake, connector_url = connector
    with cosmos_server(tmp_path) as server:
        settings = Settings(
            data_dir=tmp_path,
            cosmos_endpoint=server.endpoint,
            cosmos_key=COSMOS_KEY,
            cosmos_database="outage",
            cosmos_verify_tls=False,
        )
        async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
            alice = world.person("Alice")
            assert await world.say(alice, "help") == 200
            assert (await get(f"{url}/readyz"))[0] == 200
            server.stop()  # the database goes away under the running app
            assert (await get(f"{url}/readyz"))[0] == 503
            assert await world.say(alice, "groups") == 503
            assert (await get(f"{url}/healthz"))[0] == 200


def test_an_invoke_response_body_is_serialized_for_json() -> None:
    """botbuilder puts models (AdaptiveCardInvokeResponse, ...) in an invoke's body."""
    model = AdaptiveCardInvokeResponse(status_code=400, type="x", value={"a": 1})
    assert _invoke_body(model) == {"statusCode": 400, "type": "x", "value": {"a": 1}}
    for plain in (None, {"error": "no"}, [1, "two"]):
        assert _invoke_body(plain) == plain
    assert _invoke_body(object()) is None


async def test_a_start_that_fails_half_way_stops_and_closes_what_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails during recovery, after the heartbeat has started: the start fails,
    the heartbeat is cancelled, the instance withdrawn and the store closed."""

    async def recovery_fails(self: DeliveryWorker) -> int:
        raise StoreError("the store stopped answering")

    monkeypatch.setattr(DeliveryWorker, "recover", recovery_fails)
    before = asyncio.all_tasks()
    runner = web.AppRunner(create_app(Settings(data_dir=tmp_path), tuning=FAST_TUNING))
    with pytest.raises(StoreError):
        await runner.setup()
    await runner.cleanup()
    assert asyncio.all_tasks() == before  # nothing started is left running
    documents = SqliteDocuments(tmp_path / "send.sqlite3")
    await documents.open()
    try:
        assert await DocumentStore(documents).live_instances(datetime.now(UTC)) == 0
    finally:
        await documents.close()
