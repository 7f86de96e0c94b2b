"""The aiohttp application: built from Settings, resources opened in `cleanup_ctx`.

`create_app(settings)` is the only way to build the server, for `app.py` and for
tests alike; nothing lives in module globals.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import aiohttp
from aiohttp import web
from botbuilder.core import ConversationState, TurnContext
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication

from bot.config import Settings
from bot.core.chat import ChatHandler
from bot.core.delivery import DEFAULT_LEASE, DeliveryWorker, RetryPolicy
from bot.core.groups import Groups
from bot.core.people import People
from bot.core.ports import Clock, Directory, OutlookRecorder, StoreError, SystemClock
from bot.core.ratelimit import RateLimiter
from bot.core.relay import Relay
from bot.identity import ClientCredentials
from bot.outlook.action_auth import ActionTokenValidator
from bot.outlook.actions import OutlookActions
from bot.outlook.card import OutlookCards
from bot.outlook.eml import EmlRecorder
from bot.outlook.graph import GRAPH_SCOPE, GraphClient, GraphDirectory, GraphMail
from bot.outlook.inbound import OutlookInbox
from bot.outlook.tokens import CardTokens
from bot.store.bot_state import DocumentBotStorage
from bot.store.documents import Documents
from bot.store.open import open_documents
from bot.store.repository import DocumentStore
from bot.teams.activity import reply_text
from bot.teams.adapter import SendAdapter
from bot.teams.bot import SendBot
from bot.teams.connector import BotTokens, TeamsConnector
from bot.web.routes import routes

log = logging.getLogger("send.app")

MAX_REQUEST_BYTES = 256 * 1024
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass
class Services:
    """Everything a request handler needs, built once per app."""

    settings: Settings
    documents: Documents
    store: DocumentStore
    adapter: SendAdapter
    bot: SendBot
    worker: DeliveryWorker
    outlook_actions: OutlookActions
    outlook_inbox: OutlookInbox | None


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)


@dataclass(frozen=True)
class Tuning:
    """Timings tests shorten; production uses the defaults."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = DEFAULT_LEASE
    recovery_interval: float = 30.0


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    tuning: Tuning | None = None,
) -> web.Application:
    tuning = tuning or Tuning(retry=retry or RetryPolicy())
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app.add_routes(routes(SERVICES))

    async def open_resources(app: web.Application) -> AsyncIterator[None]:
        documents = await open_documents(settings)
        # The default context is made now, so SSL_CERT_FILE set by the environment applies.
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(), limit=200),
        )
        credentials: list[ClientCredentials] = []
        try:
            keys = DocumentStore(documents)
            services = app[SERVICES] = build_services(
                settings,
                documents,
                session,
                clock,
                tuning,
                CardTokens(await keys.signing_key("card-token")),
                (await keys.signing_key("graph-client-state")).hex(),
                credentials,
            )
            await services.store.purge_expired_markers(datetime.now(UTC))
            resumed = await services.worker.recover()
            recovery = asyncio.create_task(
                services.worker.keep_recovering(tuning.recovery_interval)
            )
            inbox = services.outlook_inbox
            if inbox is not None:
                await inbox.start()
            for problem in outlook_setting_problems(settings):
                log.warning(problem)
            log.info(
                "send is ready",
                extra={"store": "cosmos" if settings.uses_cosmos else "sqlite", "resumed": resumed},
            )
            yield
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)
            if inbox is not None:
                await inbox.stop()
            await services.worker.drain(SHUTDOWN_GRACE_SECONDS)
        finally:
            for credential in credentials:
                credential.close()
            await session.close()
            await documents.close()
            await asyncio.sleep(0.1)  # let TLS connections finish closing

    app.cleanup_ctx.append(open_resources)
    return app


def build_services(
    settings: Settings,
    documents: Documents,
    session: aiohttp.ClientSession,
    clock: Clock | None,
    tuning: Tuning,
    card_tokens: CardTokens,
    client_state: str,
    credentials: list[ClientCredentials],
) -> Services:
    clock = clock or SystemClock()
    store = DocumentStore(documents)
    bot_tokens = BotTokens(settings)
    credentials.extend(bot_tokens.credentials)
    teams = TeamsConnector(session, bot_tokens, settings.max_message_chars)
    cards = OutlookCards(
        settings.am_originator, settings.public_base_url, card_tokens, settings.max_message_chars
    )
    outlook: OutlookRecorder
    directory: Directory | None = None
    graph: GraphClient | None = None
    if settings.uses_graph:
        graph_credentials = ClientCredentials(
            settings.graph_client_id,
            settings.graph_client_secret,
            settings.aad_authority_host,
            settings.graph_tenant_id,
            GRAPH_SCOPE,
        )
        credentials.append(graph_credentials)
        graph = GraphClient(session, graph_credentials, settings.graph_endpoint)
        outlook = GraphMail(graph, settings.outlook_sender, cards, clock)
        directory = GraphDirectory(graph, settings.outlook_sender, settings.graph_tenant_id)
    else:
        outlook = EmlRecorder(settings.data_dir, settings.outlook_sender, cards, clock)
    worker = DeliveryWorker(
        store,
        teams,
        outlook,
        RateLimiter(settings.teams_sends_per_second),
        tuning.retry,
        # Stable across restarts on one host and port: a restarted process resumes its own
        # pending deliveries at once instead of waiting for their claims to expire.
        instance_id=f"{socket.gethostname()}:{settings.port}",
        lease=tuning.lease,
        clock=clock,
    )
    people = People(store, directory)
    groups = Groups(store, people, clock)
    relay = Relay(store, clock, worker, settings.max_message_chars)
    bot = SendBot(
        store=store,
        people=people,
        groups=groups,
        chat=ChatHandler(groups, relay),
        conversation_state=ConversationState(DocumentBotStorage(documents)),
        clock=clock,
        allowed_tenants=settings.allowed_tenants,
        connector=teams,
    )
    adapter = SendAdapter(
        ConfigurationBotFrameworkAuthentication(_bot_framework_config(settings)), teams
    )
    adapter.on_turn_error = on_turn_error
    validator = ActionTokenValidator(
        session, settings.aad_authority_host, settings.am_audience, settings.allowed_tenants
    )
    actions = OutlookActions(validator, card_tokens, store, relay, cards, clock)
    inbox = None
    if graph is not None:
        inbox = OutlookInbox(
            graph,
            store,
            relay,
            settings.outlook_sender,
            f"{settings.public_base_url}/api/outlook/notifications",
            client_state,
            clock,
            teams,
        )
    return Services(settings, documents, store, adapter, bot, worker, actions, inbox)


def outlook_setting_problems(settings: Settings) -> list[str]:
    """Settings that let Send start but stop Outlook's one-click replies from working."""
    problems = []
    if settings.uses_graph and not settings.am_audience:
        problems.append("AM_AUDIENCE is empty: every Outlook card action will be refused")
    if settings.uses_graph and not settings.am_originator:
        problems.append("AM_ORIGINATOR is empty: Outlook will not show the cards")
    if settings.uses_graph and not settings.public_base_url.startswith("https://"):
        problems.append("PUBLIC_BASE_URL is not https: Outlook and Graph will not call it")
    return problems


def _bot_framework_config(settings: Settings) -> SimpleNamespace:
    return SimpleNamespace(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
    )


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    if isinstance(error, StoreError):
        # Not acknowledged: the HTTP layer answers 503 so Teams sends the activity again.
        raise error
    activity = turn_context.activity
    log.error(
        "turn failed",
        exc_info=error,
        extra={"activity_id": activity.id, "activity_type": activity.type},
    )
    try:
        await reply_text(turn_context, "Sorry, something went wrong on my side; please try again.")
    except Exception:  # noqa: BLE001 - the person cannot be told; the failure is logged above
        log.warning("could not tell the person about the failure")
