"""Building Send from its settings: every object, once, with its dependencies passed in.

`build_services` is the one composition function; `bot/web/app.py` calls it when
the server starts (with the store and HTTP session it opened), and tests build the
real app through the same path with test settings.
"""

from __future__ import annotations

import logging
import socket
import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import timedelta
from types import SimpleNamespace

import aiohttp
from aiohttp.resolver import DefaultResolver
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication

from bot.config import Settings
from bot.core.assembly import CorePorts, Rules, build_core
from bot.core.features.media import Media
from bot.core.features.meeting_watch import MeetingWatch
from bot.core.features.polls import PollCards
from bot.core.features.receipts import Receipts
from bot.core.ports import (
    Calendar,
    Clock,
    Directory,
    NoCalendar,
    NoDirectory,
    NoInstaller,
    OutlookRecorder,
    TeamsInstaller,
)
from bot.core.sending.delivery import DeliveryWorker
from bot.core.sending.instances import InstanceRegistry
from bot.graph.client import GRAPH_SCOPE, GraphClient
from bot.identity import ClientCredentials
from bot.media.links import MediaLinks
from bot.media.open import open_media_store
from bot.media.ports import MediaStore
from bot.outlook.action_auth import ActionTokenValidator
from bot.outlook.actions import OutlookActions
from bot.outlook.calendar import GraphCalendar
from bot.outlook.card import OutlookCards
from bot.outlook.directory import GraphDirectory
from bot.outlook.eml import LOCAL_SENDER, EmlRecorder
from bot.outlook.graph import GraphMail
from bot.outlook.inbound import OutlookInbox, ReplyAnswers
from bot.outlook.reply_address import ReplyAddresses
from bot.outlook.tokens import CardTokens
from bot.store.documents import Documents
from bot.store.repository import DocumentStore
from bot.teams.adapter import ChannelTokenValidator, SendAdapter, on_turn_error
from bot.teams.bot import SendBot
from bot.teams.connector import BotTokens, TeamsConnector
from bot.teams.downloads import TeamsDownloads
from bot.teams.file_hosts import FileHosts, PublicResolver
from bot.teams.install import GraphTeamsInstaller
from bot.teams.posts import Posts
from bot.tuning import Tuning

log = logging.getLogger("send.compose")


@dataclass
class Services:
    """Everything a request handler needs, built once per app."""

    documents: Documents
    store: DocumentStore
    adapter: SendAdapter
    bot: SendBot
    worker: DeliveryWorker
    outlook_actions: OutlookActions
    outlook_inbox: OutlookInbox | None
    instances: InstanceRegistry
    clock: Clock
    poll_cards: PollCards
    receipts: Receipts
    meeting_watch: MeetingWatch
    media: Media
    media_store: MediaStore
    media_links: MediaLinks


async def build_services(
    settings: Settings,
    documents: Documents,
    session: aiohttp.ClientSession,
    clock: Clock,
    tuning: Tuning,
    resources: AsyncExitStack,
) -> Services:
    """Every object of the app. What needs closing is closed by `resources` when it unwinds,
    in the reverse order of opening."""
    store = DocumentStore(documents)
    migrated = await store.migrate_aliases()
    if migrated:
        log.info("people aliases written", extra={"people": migrated})
    card_key = await store.signing_key("card-token")
    card_tokens = CardTokens(card_key)
    media_store = open_media_store(settings)
    await media_store.open()
    media_store.warm()
    resources.push_async_callback(media_store.close)
    media_links = MediaLinks(settings.public_base_url, await store.signing_key("media-link"), clock)
    client_state = (await store.signing_key("graph-client-state")).hex()
    bot_tokens = BotTokens(settings)
    for credential in bot_tokens.credentials:
        resources.callback(credential.close)
    posts = Posts()
    resources.push_async_callback(posts.close)
    teams = TeamsConnector(session, posts, bot_tokens, settings.max_message_chars)
    replies = ReplyAddresses(settings.outlook_sender or LOCAL_SENDER, card_key)
    cards = OutlookCards(
        settings.am_originator,
        settings.public_base_url,
        card_tokens,
        settings.max_message_chars,
        replies,
    )
    outlook: OutlookRecorder
    directory: Directory = NoDirectory()
    calendar: Calendar = NoCalendar()
    graph_directory: GraphDirectory | None = None
    graph: GraphClient | None = None
    if settings.uses_graph:
        graph_credentials = ClientCredentials(
            settings.graph_client_id,
            settings.graph_client_secret,
            settings.aad_authority_host,
            settings.graph_tenant_id,
            GRAPH_SCOPE,
        )
        resources.callback(graph_credentials.close)
        graph = GraphClient(session, graph_credentials, settings.graph_endpoint)
        outlook = GraphMail(graph, settings.outlook_sender, cards, clock, media_store)
        directory = graph_directory = GraphDirectory(
            graph, settings.outlook_sender, settings.graph_tenant_id
        )
        calendar = GraphCalendar(graph)
    else:
        outlook = EmlRecorder(
            settings.data_dir, settings.outlook_sender, cards, clock, media=media_store
        )
    installer: TeamsInstaller = NoInstaller()
    if graph is not None and settings.installs_teams_app:
        installer = GraphTeamsInstaller(
            graph, settings.graph_endpoint, settings.teams_app_id, settings.graph_tenant_id
        )
    # Files' links are a person's word, not Microsoft's: their own session, whose resolver
    # connects to public addresses only.
    file_session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            ssl=ssl.create_default_context(), limit=20, resolver=PublicResolver(DefaultResolver())
        )
    )
    resources.push_async_callback(file_session.close)
    downloads = TeamsDownloads(
        session, file_session, bot_tokens, FileHosts(settings.file_download_hosts)
    )
    ports = CorePorts(
        store=store,
        teams=teams,
        outlook=outlook,
        media_vault=media_store,
        media_links=media_links,
        media_fetcher=downloads,
        directory=directory,
        installer=installer,
        calendar=calendar,
    )
    rules = Rules(
        max_message_chars=settings.max_message_chars,
        messages_per_minute_per_sender=settings.messages_per_minute_per_sender,
        max_groups_per_person=settings.max_groups_per_person,
        teams_sends_per_second=settings.teams_sends_per_second,
        max_media_bytes=settings.max_media_bytes,
        media_seal_key=await store.signing_key("held-media"),
        allowed_tenants=settings.allowed_tenants,
        # With Graph, the service mailbox writes only to people of its own organisation.
        mail_tenant=settings.graph_tenant_id if settings.uses_graph else None,
        retry=replace(tuning.retry, deadline=timedelta(hours=settings.delivery_deadline_hours)),
        lease=tuning.lease,
        # Stable across restarts on one host and port: a restarted process resumes its own
        # pending deliveries at once instead of waiting for their claims to expire.
        instance_id=f"{socket.gethostname()}:{settings.port}",
        heartbeat_interval=tuning.heartbeat_interval,
        receipt_pause=tuning.receipt_pause,
        meeting_reminders=settings.meeting_reminders,
    )
    core = build_core(ports, clock, rules)
    bot = SendBot(core.conversation)
    channel_auth = None
    if not settings.local_mode:
        channel_auth = ChannelTokenValidator(
            session,
            settings.app_id,
            settings.bot_openid_metadata_url,
            settings.bot_service_url_hosts,
        )
    adapter = SendAdapter(
        ConfigurationBotFrameworkAuthentication(_bot_framework_config(settings)),
        teams,
        channel_auth,
    )
    adapter.on_turn_error = on_turn_error
    validator = ActionTokenValidator(
        session, settings.aad_authority_host, settings.am_audience, settings.allowed_tenants
    )
    actions = OutlookActions(
        validator, card_tokens, store, core.relay, cards, clock, core.polls, core.groups
    )
    inbox = None
    if graph is not None and graph_directory is not None:
        inbox = OutlookInbox(
            graph,
            store,
            core.relay,
            settings.outlook_sender,
            f"{settings.public_base_url}/api/outlook/notifications",
            client_state,
            clock,
            teams,
            directory=graph_directory,
            media=core.media,
            answers=ReplyAnswers(
                replies, store, core.groups, core.polls, teams, core.worker.thread, clock
            ),
        )
    return Services(
        documents=documents,
        store=store,
        adapter=adapter,
        bot=bot,
        worker=core.worker,
        outlook_actions=actions,
        outlook_inbox=inbox,
        instances=core.instances,
        clock=clock,
        poll_cards=core.poll_cards,
        meeting_watch=core.meeting_watch,
        receipts=core.receipts,
        media=core.media,
        media_store=media_store,
        media_links=media_links,
    )


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
