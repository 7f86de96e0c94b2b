"""The HTTP surface under attack: channel authentication, hostile bodies, slow clients.

With Bot Framework credentials set, every request to /api/messages that is not a
Teams activity signed by the Bot Framework for this bot is a 401 with the reason,
logged without an ERROR or a traceback. The signing keys come from a local fake of
login.botframework.com (`BOT_OPENID_METADATA_URL`); the Teams side is the fake connector
on 127.0.0.1 (`BOT_SERVICE_URL_HOSTS`), and the bot's own token from the fake Entra ID.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from botbuilder.schema import Activity

from bot.config import Settings
from bot.logs import MalformedRequestFilter, quiet_malformed_requests
from bot.teams.adapter import (
    ChannelAuthError,
    ChannelTokenValidator,
    SigningKeysUnavailable,
    service_url_allowed,
)
from bot.web.app import create_app
from tests.conftest import FAST_TUNING, OUTLOOK_SENDER, graph_settings, running_app, serve
from tests.contracts.media_contract import png_bytes
from tests.fakes.botframework import FakeBotFramework
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra, SigningKey
from tests.fakes.graph import FakeGraph
from tests.fakes.tls import TlsFiles
from tests.outlook_helpers import eventually
from tests.services import ROOT, free_port
from tests.teams_world import TeamsWorld
from tests.waiting import wait_until

APP_ID = "11111111-2222-3333-4444-555555555555"
APP_PASSWORD = "bot-s3cret"
JSON = {"Content-Type": "application/json"}
Json = dict[str, Any]


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage() for r in bad]
    assert "Traceback" not in caplog.text


@dataclass
class Reply:
    status: int
    text: str
    headers: dict[str, str]


async def post(url: str, data: bytes, headers: dict[str, str] | None = None) -> Reply:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers or {}) as response,
    ):
        return Reply(response.status, await response.text(), dict(response.headers))


# -- channel authentication ----------------------------------------------------------------


@pytest.fixture
async def botframework(tls: TlsFiles) -> AsyncIterator[FakeBotFramework]:
    async with FakeBotFramework(tls) as fake:
        yield fake


def credential_settings(tmp_path: Path, entra: FakeEntra, metadata_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        app_id=APP_ID,
        app_password=APP_PASSWORD,
        aad_authority_host=entra.base_url,
        bot_openid_metadata_url=metadata_url,
        bot_service_url_hosts=("127.0.0.1",),
    )


@dataclass
class Channel:
    """The app with credentials, the Bot Framework's keys and Teams, as fakes."""

    url: str
    world: TeamsWorld
    botframework: FakeBotFramework

    def claims(self, **changes: Any) -> Json:
        claims = self.botframework.claims(APP_ID, self.world.service_url)
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def help(self, **fields: Any) -> Json:
        alice = self.world.person("Alice")
        return self.world.activity(alice, self.world.personal(alice), text="help", **fields)

    async def send(self, activity: Json, token: str) -> Reply:
        headers = {**JSON, "Authorization": f"Bearer {token}"} if token else JSON
        return await post(f"{self.url}/api/messages", json.dumps(activity).encode(), headers)


@pytest.fixture
async def channel(
    tmp_path: Path,
    entra: FakeEntra,
    botframework: FakeBotFramework,
    connector: tuple[FakeConnector, str],
) -> AsyncIterator[Channel]:
    entra.register_client("botframework.com", APP_ID, APP_PASSWORD)
    fake, connector_url = connector
    settings = credential_settings(tmp_path, entra, botframework.metadata_url)
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield Channel(url, world, botframework)


async def test_a_token_from_the_bot_framework_is_accepted(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """The check below refuses things; this shows it still lets Teams in."""
    reply = await channel.send(channel.help(), channel.botframework.token(channel.claims()))
    assert reply.status == 200
    alice = channel.world.person("Alice")
    await channel.world.connector.wait_for(lambda: bool(channel.world.replies(alice)))
    assert "help" in channel.world.last_reply(alice).lower()
    assert_no_error_logged(caplog)


EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
# Each: a token made from the fake and the channel's valid claims, and the reason it fails.
BAD_TOKENS: dict[str, tuple[Callable[[FakeBotFramework, Channel], str], str]] = {
    "alg none": (lambda bf, c: bf.forged(c.claims(), "none"), "RS256"),
    "HS256 with the public key": (lambda bf, c: bf.forged(c.claims(), "HS256"), "RS256"),
    "no kid": (lambda bf, c: bf.token(c.claims(), kid=False), "(kid)"),
    "unknown kid": (
        lambda bf, c: bf.token(c.claims(), key=SigningKey.generate()),
        "unknown key",
    ),
    "another key under the published kid": (
        lambda bf, c: bf.token(c.claims(), key=SigningKey.generate(bf.key.kid)),
        "signature",
    ),
    "no iss": (lambda bf, c: bf.token(c.claims(iss=None)), "no iss claim"),
    "an Emulator token": (
        lambda bf, c: bf.token(c.claims(iss=EMULATOR_ISSUER, appid=APP_ID, ver="1.0")),
        "not issued by the Bot Framework",
    ),
    "for another bot": (lambda bf, c: bf.token(c.claims(aud="another-bot")), "another bot"),
    "no aud": (lambda bf, c: bf.token(c.claims(aud=None)), "no aud claim"),
    "expired": (
        lambda bf, c: bf.token(c.claims(exp=int(time.time()) - 600)),
        "expired",
    ),
    "not valid yet": (
        lambda bf, c: bf.token(c.claims(nbf=int(time.time()) + 600)),
        "not valid yet",
    ),
    "no exp": (lambda bf, c: bf.token(c.claims(exp=None)), "no exp claim"),
    "for another serviceUrl": (
        lambda bf, c: bf.token(c.claims(serviceurl="https://smba.trafficmanager.net/emea/")),
        "another serviceUrl",
    ),
    "no serviceurl": (
        lambda bf, c: bf.token(c.claims(serviceurl=None)),
        "another serviceUrl",
    ),
    "a key not endorsed for Teams": (
        lambda bf, c: bf.token(c.claims(), key=bf.add_key(("webchat",))),
        "not endorsed for Microsoft Teams",
    ),
    "not a JWT": (lambda bf, c: "not-a-jwt", "not a JWT"),
    "three dots": (lambda bf, c: "a.b.c", "not a JWT"),
    "none": (lambda bf, c: "", "no bearer token"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_every_bad_token_is_a_401_with_the_reason(
    channel: Channel, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    make, reason = BAD_TOKENS[case]
    reply = await channel.send(channel.help(), make(channel.botframework, channel))
    assert reply.status == 401, reply.text
    assert reason in reply.text
    assert channel.world.replies(channel.world.person("Alice")) == []
    assert_no_error_logged(caplog)


@pytest.mark.parametrize(
    "authorization", ["Basic abc", "Bearer", "Bearer  ", "bearer-token abc", "Token abc"]
)
async def test_other_authorization_schemes_are_a_401(
    channel: Channel, caplog: pytest.LogCaptureFixture, authorization: str
) -> None:
    reply = await post(
        f"{channel.url}/api/messages",
        json.dumps(channel.help()).encode(),
        {**JSON, "Authorization": authorization},
    )
    assert reply.status == 401 and "no bearer token" in reply.text
    assert_no_error_logged(caplog)


async def test_only_teams_activities_are_accepted(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    token = channel.botframework.token(channel.claims())
    for channel_id in ("webchat", "emulator", None):
        reply = await channel.send(channel.help(channelId=channel_id), token)
        assert reply.status == 401 and "channelId" in reply.text
    assert_no_error_logged(caplog)


async def test_a_signed_token_cannot_point_the_bot_at_another_server(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """Even with a token whose serviceurl names it, a host off the list is refused."""
    for service_url in ("https://attacker.example/", "http://10.1.2.3:8080/", "ftp://127.0.0.1/"):
        token = channel.botframework.token(channel.claims(serviceurl=service_url))
        reply = await channel.send(channel.help(serviceUrl=service_url), token)
        assert reply.status == 401 and "serviceUrl is not a Bot Framework address" in reply.text
    assert_no_error_logged(caplog)


TEAMS = ("smba.trafficmanager.net",)


@pytest.mark.parametrize(
    ("service_url", "allowed"),
    [
        ("https://smba.trafficmanager.net/emea/", True),
        ("https://smba.trafficmanager.net/amer/", True),
        ("https://smba.trafficmanager.net/teams/", True),
        ("https://SMBA.trafficmanager.net./apac/", True),
        ("https://emea.smba.trafficmanager.net/", True),
        ("http://smba.trafficmanager.net/emea/", False),  # the bot's token in clear text
        ("https://evilsmba.trafficmanager.net/", False),
        ("https://smba.trafficmanager.net.attacker.example/", False),
        ("https://attacker.example/smba.trafficmanager.net/", False),
        ("https://smba.trafficmanager.net@attacker.example/", False),
        ("https://attacker.example/?h=smba.trafficmanager.net", False),
        ("https://[::1/", False),
        ("smba.trafficmanager.net", False),
        ("", False),
    ],
)
def test_the_service_url_allow_list(service_url: str, allowed: bool) -> None:
    assert service_url_allowed(service_url, TEAMS) is allowed


def test_plain_http_only_to_a_listed_loopback_host() -> None:
    assert service_url_allowed("http://127.0.0.1:5000/", ("127.0.0.1",))
    assert not service_url_allowed("http://127.0.0.1:5000/", TEAMS)
    assert not service_url_allowed("http://192.168.1.5/", ("192.168.1.5",))


async def test_a_rotated_key_is_fetched_once_and_made_up_kids_fetch_nothing(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    bf = channel.botframework
    assert (await channel.send(channel.help(), bf.token(channel.claims()))).status == 200
    assert bf.jwks_fetches == 1
    rotated = bf.add_key(("msteams",))
    assert (
        await channel.send(channel.help(), bf.token(channel.claims(), key=rotated))
    ).status == 200
    assert bf.jwks_fetches == 2
    for _ in range(3):
        made_up = bf.token(channel.claims(), key=SigningKey.generate())
        assert (await channel.send(channel.help(), made_up)).status == 401
    assert bf.jwks_fetches == 2
    assert_no_error_logged(caplog)


async def test_waiting_for_the_keys_does_not_block_the_server(channel: Channel) -> None:
    """botbuilder fetches the keys with synchronous requests; here /healthz answers while
    the key server hangs, and the activity is handled once the keys arrive."""
    bf = channel.botframework
    bf.hold = asyncio.Event()
    sent = asyncio.create_task(channel.send(channel.help(), bf.token(channel.claims())))
    try:
        await wait_until(lambda: bf.waiting >= 1, what="the app to ask for the keys")
        async with aiohttp.ClientSession() as session, session.get(f"{channel.url}/healthz") as r:
            assert r.status == 200
        assert not sent.done()
    finally:
        bf.hold.set()
    assert (await sent).status == 200


async def test_a_hanging_key_server_times_out_and_is_not_asked_again_at_once(
    botframework: FakeBotFramework, tls: TlsFiles
) -> None:
    botframework.hold = asyncio.Event()
    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            validator = ChannelTokenValidator(
                session, APP_ID, botframework.metadata_url, ("127.0.0.1",), fetch_timeout=0.2
            )
            activity = Activity(channel_id="msteams", service_url="http://127.0.0.1:1/")
            claims = botframework.claims(APP_ID, "http://127.0.0.1:1/")
            token = f"Bearer {botframework.token(claims)}"
            with pytest.raises(SigningKeysUnavailable):
                await validator.validate(token, activity)
            with pytest.raises(SigningKeysUnavailable):
                await validator.validate(token, activity)
            assert botframework.metadata_fetches == 1
    finally:
        botframework.hold.set()


async def test_unreachable_keys_are_a_503_not_a_500(
    tmp_path: Path,
    entra: FakeEntra,
    connector: tuple[FakeConnector, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing says the request is bad: Teams is told to send it again later."""
    fake, connector_url = connector
    nowhere = f"https://127.0.0.1:{free_port()}/v1/.well-known/openidconfiguration"
    settings = credential_settings(tmp_path, entra, nowhere)
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        alice = world.person("Alice")
        body = json.dumps(world.activity(alice, world.personal(alice), text="help")).encode()
        key = SigningKey.generate()
        token = jwt.encode(
            {"aud": APP_ID}, key.private, algorithm="RS256", headers={"kid": key.kid}
        )
        reply = await post(f"{url}/api/messages", body, {**JSON, "Authorization": "Bearer x"})
        assert reply.status == 401  # not even a JWT: refused before any key is needed
        reply = await post(
            f"{url}/api/messages", body, {**JSON, "Authorization": f"Bearer {token}"}
        )
        assert reply.status == 503 and "signing keys" in reply.text
    assert_no_error_logged(caplog)
    assert "could not fetch the Bot Framework signing keys" in caplog.text


# -- hostile bodies ----------------------------------------------------------------------------

HOSTILE_BODIES = {
    "nested 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    "objects nested 10,000 deep": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply"),
    "a 5,000-digit number": (b'{"type": "message", "n": ' + b"7" * 5_000 + b"}", "too many digits"),
    "invalid UTF-8": (b'{"type": "message", "text": "\xff\xfe"}', "not UTF-8"),
    "duplicate keys": (b'{"type": "message", "type": "invoke"}', "duplicate key"),
    "NaN": (b'{"type": "message", "n": NaN}', "NaN or infinite"),
    "a number beyond float": (b'{"type": "message", "n": 1e999}', "NaN or infinite"),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
async def test_hostile_json_is_a_400_on_messages_and_outlook_actions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, reason = HOSTILE_BODIES[case]
    async with running_app(Settings(data_dir=tmp_path)) as url:
        messages = await post(f"{url}/api/messages", body, JSON)
        assert messages.status == 400 and reason in json.loads(messages.text)["error"]
        actions = await post(f"{url}/api/outlook/actions", body, {"Authorization": "Bearer x"})
        assert actions.status == 400 and reason in actions.headers["CARD-ACTION-STATUS"]
    assert_no_error_logged(caplog)


@pytest.fixture
async def graph_app(tmp_path: Path, entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[str]:
    """The app in Graph mode (where notifications are read), subscribed to the fake Graph."""
    graph.add_user(OUTLOOK_SENDER, "Send")
    port = free_port()
    settings = replace(
        graph_settings(tmp_path, entra, graph, port), public_base_url=f"http://127.0.0.1:{port}"
    )
    async with serve(create_app(settings, tuning=FAST_TUNING), port) as url:
        await eventually(lambda: len(graph.subscriptions) == 1, "the Graph subscription")
        yield url


async def test_hostile_json_is_a_400_on_graph_notifications(
    graph_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    for body, reason in HOSTILE_BODIES.values():
        reply = await post(f"{graph_app}/api/outlook/notifications", body, JSON)
        assert reply.status == 400 and reason in json.loads(reply.text)["error"], reason
    reply = await post(f"{graph_app}/api/outlook/notifications", b'{"value": "x"}', JSON)
    assert reply.status == 400 and "not a Graph change notification" in reply.text
    assert_no_error_logged(caplog)


async def test_an_outlook_body_that_breaks_json_still_reaches_its_reader(tmp_path: Path) -> None:
    """Outlook sends the typed reply unescaped: a quote makes the body not JSON, and the
    endpoint's own reader (by the body's fixed shape) still gets it, here to refuse the token."""
    body = b'{"token": "abc", "reply": "she said "hi""}'
    async with running_app(Settings(data_dir=tmp_path)) as url:
        reply = await post(f"{url}/api/outlook/actions", body, {"Authorization": "Bearer x"})
    assert reply.status == 401  # the action token is checked: the body was not refused


async def test_the_validation_token_is_echoed_as_plain_text_only(tmp_path: Path) -> None:
    async with running_app(Settings(data_dir=tmp_path)) as url, aiohttp.ClientSession() as session:
        echo = "<script>alert(1)</script> Validation: Testing client application reachability"
        async with session.post(
            f"{url}/api/outlook/notifications", params={"validationToken": echo}
        ) as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.text() == echo
        async with session.post(
            f"{url}/api/outlook/notifications", params={"validationToken": "x" * 1025}
        ) as response:
            assert response.status == 400
            assert "validationToken is too long" in await response.text()


# -- slow clients ------------------------------------------------------------------------------


async def raw_exchange(url: str, request: bytes) -> bytes:
    """Sends `request` as is and returns all the server answers until it closes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("path", ["/api/messages", "/api/outlook/actions"])
async def test_a_body_that_never_arrives_in_full_is_a_408(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    app = create_app(Settings(data_dir=tmp_path), body_timeout=0.3)
    async with serve(app, lingering_time=0.3) as url:
        answer = await raw_exchange(
            url,
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b'{"type": "mess',
        )
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 0.3 seconds" in answer
    assert_no_error_logged(caplog)


async def test_headers_that_never_end_close_the_connection(tmp_path: Path) -> None:
    """What app.py relies on: aiohttp's keep-alive timer also runs while the first request's
    headers are incomplete (KEEPALIVE_TIMEOUT_SECONDS in production, short here)."""
    runner = web.AppRunner(create_app(Settings(data_dir=tmp_path)), keepalive_timeout=0.3)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        answer = await raw_exchange(f"http://127.0.0.1:{port}", b"POST /api/messages HTTP/1.1\r\n")
    finally:
        await runner.cleanup()
    assert answer == b""  # closed without an answer: no request was ever complete


# -- local mode ----------------------------------------------------------------------------------


def test_local_mode_on_a_network_address_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOST": "0.0.0.0", "PORT": str(free_port())},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith("send: configuration error: HOST is 0.0.0.0")
    assert "ALLOW_LOCAL_MODE_ON_NETWORK=true" in line


async def test_local_mode_on_a_network_address_when_allowed_warns_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", allow_local_mode_on_network=True)
    async with running_app(settings) as url:
        assert (await post(f"{url}/api/messages", b"{}", JSON)).status == 400
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("local mode on a network address" in w for w in warnings), warnings


async def test_local_mode_on_loopback_starts_without_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(Settings(data_dir=tmp_path)) as url:
        assert (await post(f"{url}/api/messages", b"{}", JSON)).status == 400
    assert "local mode on a network address" not in caplog.text


@pytest.mark.parametrize("token", ["\udcff\udcfe", "a.b\u00e9.c", "a.b\x7f.c"])
async def test_a_channel_token_that_is_not_printable_ascii_is_refused_before_pyjwt(
    token: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        validator = ChannelTokenValidator(
            session, APP_ID, "http://127.0.0.1:9/metadata", ("127.0.0.1",)
        )
        activity = Activity(channel_id="msteams", service_url="http://127.0.0.1:1/")
        with pytest.raises(ChannelAuthError, match="not printable ASCII"):
            await validator.validate(f"Bearer {token}", activity)


def _server_record(error: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("127.0.0.1",),
        (type(error), error, None),
    )


def test_a_malformed_request_is_logged_as_one_info_line() -> None:
    record = _server_record(BadHttpMessage("Invalid header value char"))
    assert MalformedRequestFilter().filter(record)
    assert (record.levelno, record.levelname, record.exc_info) == (logging.INFO, "INFO", None)
    assert record.getMessage() == "malformed request refused: Invalid header value char"


def test_a_handler_exception_stays_an_error_with_its_traceback() -> None:
    error = RuntimeError("a bug")
    record = _server_record(error)
    assert MalformedRequestFilter().filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is error


def test_the_filter_is_installed_once_on_aiohttps_server_logger() -> None:
    server = logging.getLogger("aiohttp.server")
    kept = list(server.filters)
    try:
        quiet_malformed_requests()
        quiet_malformed_requests()
        assert sum(isinstance(f, MalformedRequestFilter) for f in server.filters) == 1
    finally:
        server.filters[:] = kept


async def test_a_pasted_picture_is_fetched_with_the_bots_token(channel: Channel) -> None:
    """Teams serves a pasted picture to a bot only with the bot's token (401 without one,
    as the fake connector answers here): Send sends it, and the picture reaches Bob."""
    world, fake = channel.world, channel.world.connector
    fake.requires_token = True
    ann, bob = world.person("Ann"), world.person("Bob")
    token = channel.botframework.token(channel.claims())
    hello = world.activity(bob, world.personal(bob), text="help")  # Send meets Bob in Teams
    assert (await channel.send(hello, token)).status == 200
    made = world.activity(ann, world.personal(ann), text=f"new Lunch: {bob.email}")
    assert (await channel.send(made, token)).status == 200
    url = fake.paste(png_bytes())
    pasted = world.activity(
        ann,
        world.personal(ann),
        text="",
        attachments=[{"contentType": "image/*", "contentUrl": url}],
    )
    assert (await channel.send(pasted, token)).status == 200
    await world.wait_relayed(bob, 1)
    assert [(kind, auth.startswith("Bearer ")) for kind, auth in fake.downloads] == [
        ("attachment", True)
    ]
