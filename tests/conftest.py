"""Shared fixtures: the stores on both backends, the real app on a real port, fake services.

The end-to-end machinery (the app, aiohttp, the fakes, Cosmos DB's SDK) is imported inside
the fixtures that use it, so tests/unit starts without loading any of it.
"""

from __future__ import annotations

import gc
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from bot.config import Settings
from bot.core.sending.attempts import RetryPolicy
from bot.store.documents import Documents
from bot.store.repository import DocumentStore
from bot.tuning import Tuning
from tests.fakes.tls import TlsFiles, make_tls
from tests.services import COSMOS_KEY, cosmos_server, free_port

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web

    from bot.graph.client import GraphClient
    from bot.identity import ClientCredentials
    from tests.fakes.connector import FakeConnector
    from tests.fakes.entra import FakeEntra
    from tests.fakes.graph import FakeGraph
    from tests.playground import Playground
    from tests.teams_world import TeamsWorld

# Hypothesis: no example database and no deadline (a slow shared CPU must not fail a correct
# test), its cache in the temporary folder rather than the working tree. "quick", the
# default, tries a fixed set of examples (the same in every run, so CI cannot fail by
# chance); HYPOTHESIS_PROFILE=full scripts/test.sh tries many more, new ones each run.
hypothesis.settings.register_profile(
    "quick", database=None, deadline=None, max_examples=30, derandomize=True
)
hypothesis.settings.register_profile("full", database=None, deadline=None, max_examples=200)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "send-hypothesis")

BACKENDS = ["sqlite", "cosmos"]
# Retries in tests wait milliseconds, not seconds; Retry-After still applies.
FAST_RETRY = RetryPolicy(base_delay=0.02, max_delay=0.2)
# Receipts: a pause between two updates of one receipt, shortened (production: 3 s).
FAST_TUNING = Tuning(retry=FAST_RETRY, receipt_pause=0.2)


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Objects a test leaks (unclosed sessions, sockets) warn in the test that leaked them.

    Only objects made during the test are collected: what was alive before it is frozen
    meanwhile, since a full collection of a long session's heap takes about 0.1 s.
    """
    gc.freeze()
    try:
        yield
        gc.collect()
    finally:
        gc.unfreeze()


@pytest.fixture(scope="session")
def cosmos_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with cosmos_server(tmp_path_factory.mktemp("cosmos")) as server:
        yield server.endpoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` start first, so that the workers finish at about the same time
    instead of one starting a twenty-second test at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_stores` run once per backend; every other test on SQLite only.

    Product behaviour is the same on every store, which the store's contract suites prove
    on both; a few end-to-end smoke tests also run on Cosmos DB.
    """
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


# The fake connector serves files' links over http on 127.0.0.1: listed, as an operator
# would have to, since no other host name or address is downloaded from.
FAKE_FILE_HOSTS = ("127.0.0.1",)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for a fresh store of the given backend (a new Cosmos database per test)."""
    if backend == "cosmos":
        endpoint = request.getfixturevalue("cosmos_endpoint")
        return Settings(
            data_dir=tmp_path,
            cosmos_endpoint=endpoint,
            cosmos_key=COSMOS_KEY,
            cosmos_database=f"test-{uuid.uuid4().hex[:12]}",
            cosmos_verify_tls=False,
            file_download_hosts=FAKE_FILE_HOSTS,
        )
    return Settings(data_dir=tmp_path, file_download_hosts=FAKE_FILE_HOSTS)


async def open_test_documents(settings: Settings) -> Documents:
    if settings.uses_cosmos:
        from bot.store.cosmos_documents import CosmosDocuments

        cosmos = CosmosDocuments(
            settings.cosmos_endpoint,
            settings.cosmos_key,
            settings.cosmos_database,
            verify_tls=settings.cosmos_verify_tls,
        )
        await cosmos.open()
        return cosmos
    from bot.store.sqlite_documents import SqliteDocuments

    sqlite = SqliteDocuments(settings.data_dir / "send.sqlite3")
    await sqlite.open()
    return sqlite


@pytest.fixture
async def documents(settings: Settings) -> AsyncIterator[Documents]:
    docs = await open_test_documents(settings)
    yield docs
    await docs.close()


@pytest.fixture
async def store(documents: Documents) -> DocumentStore:
    return DocumentStore(documents)


@asynccontextmanager
async def serve(
    app: web.Application, port: int | None = None, lingering_time: float = 10.0
) -> AsyncIterator[str]:
    """`lingering_time`: how long aiohttp goes on reading a body it will not use after
    answering (its default, 10 s; tests of refused bodies shorten it)."""
    from aiohttp import web

    runner = web.AppRunner(app, lingering_time=lingering_time)
    await runner.setup()
    port = port or free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_app(
    settings: Settings, port: int | None = None, **app_options: Any
) -> AsyncIterator[str]:
    """The app on a free port; links in its cards point at that port unless the settings
    name a PUBLIC_BASE_URL (as the app's own default does, from HOST and PORT).
    `app_options` go to `create_app` (its timeouts and limits)."""
    port = port or free_port()
    if not settings.public_base_url:
        settings = replace(settings, public_base_url=f"http://127.0.0.1:{port}")
    from bot.web.app import create_app

    async with serve(create_app(settings, tuning=FAST_TUNING, **app_options), port) as url:
        yield url


@pytest.fixture
async def connector() -> AsyncIterator[tuple[FakeConnector, str]]:
    from tests.fakes.connector import FakeConnector

    fake = FakeConnector(tenant_id="tenant-a")
    port = free_port()
    fake.base_url = f"http://127.0.0.1:{port}"
    async with serve(fake.app(), port) as url:
        yield fake, url


@pytest.fixture
async def world(
    settings: Settings, connector: tuple[FakeConnector, str]
) -> AsyncIterator[TeamsWorld]:
    from tests.teams_world import TeamsWorld

    fake, connector_url = connector
    async with running_app(settings) as app_url, TeamsWorld(app_url, fake, connector_url) as teams:
        yield teams


# Microsoft Entra ID and Graph, as local fakes over their real protocols.

GRAPH_TENANT = "tenant-a"
GRAPH_CLIENT = "0b1c2d3e-1111-4000-8000-000000000001"
GRAPH_SECRET = "graph-s3cret"
AM_AUDIENCE = "https://send.example"
OUTLOOK_SENDER = "send@contoso.com"


def graph_settings(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, port: int = 3978
) -> Settings:
    """The app's settings for Graph mode against the fakes (cards point at send.example)."""
    return Settings(
        port=port,
        data_dir=tmp_path,
        graph_tenant_id=GRAPH_TENANT,
        graph_client_id=GRAPH_CLIENT,
        graph_client_secret=GRAPH_SECRET,
        graph_endpoint=graph.base_url,
        aad_authority_host=entra.base_url,
        outlook_sender=OUTLOOK_SENDER,
        am_originator="originator-id",
        public_base_url="https://send.example",
    )


@asynccontextmanager
async def graph_credentials(entra: FakeEntra) -> AsyncIterator[ClientCredentials]:
    """The app's Graph credentials against the fake Entra ID, closed afterwards."""
    from bot.graph.client import GRAPH_SCOPE
    from bot.identity import ClientCredentials

    credentials = ClientCredentials(
        GRAPH_CLIENT, GRAPH_SECRET, entra.base_url, GRAPH_TENANT, GRAPH_SCOPE
    )
    try:
        yield credentials
    finally:
        credentials.close()


@asynccontextmanager
async def graph_client(entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[GraphClient]:
    """The app's Graph client against the fakes, on a session of its own."""
    import aiohttp

    from bot.graph.client import GraphClient

    async with graph_credentials(entra) as credentials, aiohttp.ClientSession() as session:
        yield GraphClient(session, credentials, graph.base_url)


@pytest.fixture(scope="session", autouse=True)
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFiles]:
    """A self-signed certificate that MSAL (requests) and the app's HTTP client trust, and
    nothing else: made once (an RSA key takes a tenth of a second), and trusted by every
    test, so an app's client context loads one certificate instead of the system's bundle.
    """
    files = make_tls(tmp_path_factory.mktemp("tls"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in files.env().items():
            patch.setenv(name, value)
        yield files


@pytest.fixture
async def entra(tls: TlsFiles) -> AsyncIterator[FakeEntra]:
    from tests.fakes.entra import FakeEntra

    async with FakeEntra(tls) as fake:
        fake.register_client(GRAPH_TENANT, GRAPH_CLIENT, GRAPH_SECRET)
        yield fake


@pytest.fixture
async def graph(entra: FakeEntra) -> AsyncIterator[FakeGraph]:
    from tests.fakes.graph import FakeGraph

    async with FakeGraph(entra) as fake:
        yield fake


@pytest.fixture
async def http(tls: TlsFiles) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client that trusts the fakes' certificate (and nothing else)."""
    import aiohttp

    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


# Reply All in Outlook: the app in Graph mode, with the fake Graph notifying it.


@dataclass
class Inbound:
    world: TeamsWorld
    graph: FakeGraph
    settings: Settings
    url: str


def settings_for(tmp_path: Path, entra: FakeEntra, graph: FakeGraph, port: int) -> Settings:
    """Graph mode, with Graph's notifications coming back to this app's own port."""
    return replace(
        graph_settings(tmp_path, entra, graph, port), public_base_url=f"http://127.0.0.1:{port}"
    )


@pytest.fixture
async def inbound(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Inbound]:
    from bot.web.app import create_app
    from tests.outlook_helpers import eventually
    from tests.teams_world import TeamsWorld

    fake, connector_url = connector
    for name in ("Ann", "Bob", "Cy", "Eve"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(OUTLOOK_SENDER, "Send")
    port = free_port()
    settings = settings_for(tmp_path, entra, graph, port)
    app = create_app(settings, tuning=FAST_TUNING)
    async with serve(app, port) as url, TeamsWorld(url, fake, connector_url) as world:
        await eventually(lambda: len(graph.subscriptions) == 1, "the Graph subscription")
        yield Inbound(world, graph, settings, url)


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[Playground]:
    """The app on the embedded store, with the Agents Playground in front of it, driven as
    its signed-in user (Alex Wilber) would."""
    from tests.playground import Playground
    from tests.services import agents_playground

    port = free_port()
    async with running_app(Settings(data_dir=tmp_path / "data"), port=port):
        with agents_playground(
            tmp_path, f"http://127.0.0.1:{port}/api/messages", conversation_id="alex-personal-chat"
        ) as playground_port:
            async with Playground(playground_port) as pg:
                yield pg
