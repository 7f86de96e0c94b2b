"""The aiohttp application: built from Settings, resources opened in `cleanup_ctx`.

`create_app(settings)` is the only way to build the server, for `app.py` and for
tests alike; nothing lives in module globals. The objects themselves are built
by `bot.compose.build_services` once the store and the HTTP session are open, and
everything opened or started is unwound by one `AsyncExitStack`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from bot.compose import build_services, outlook_setting_problems
from bot.config import Settings
from bot.core.features.lifecycle import Retention
from bot.core.ports import Clock, SystemClock
from bot.store.open import open_documents
from bot.tuning import Tuning
from bot.web.keys import MEDIA_TRANSFERS, MEDIA_WRITE_TIMEOUT, SERVICES
from bot.web.routes import BODY_TIMEOUT, BODY_TIMEOUT_SECONDS, MIDDLEWARES, ROUTES
from bot.web.transfers import AT_ONCE, MEDIA_WRITE_TIMEOUT_SECONDS, Transfers

log = logging.getLogger("send.app")

MAX_REQUEST_BYTES = 256 * 1024
SHUTDOWN_GRACE_SECONDS = 10.0
# aiohttp closes a connection that has no complete request for this long: an idle
# keep-alive connection, and also one whose headers arrive too slowly (its timer starts
# when the connection opens). Bodies have their own limit, BODY_TIMEOUT_SECONDS.
KEEPALIVE_TIMEOUT_SECONDS = 30.0


def create_app(
    settings: Settings,
    *,
    clock: Clock = SystemClock(),
    tuning: Tuning = Tuning(),
    body_timeout: float = BODY_TIMEOUT_SECONDS,
    media_write_timeout: float = MEDIA_WRITE_TIMEOUT_SECONDS,
    media_transfers: int = AT_ONCE,
) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=MIDDLEWARES)
    app[BODY_TIMEOUT] = body_timeout
    app[MEDIA_WRITE_TIMEOUT] = media_write_timeout
    app[MEDIA_TRANSFERS] = Transfers(at_once=media_transfers)
    app.add_routes(ROUTES)
    app.cleanup_ctx.append(partial(_running, settings, clock, tuning))
    return app


async def _running(
    settings: Settings, clock: Clock, tuning: Tuning, app: web.Application
) -> AsyncIterator[None]:
    """Everything the app opens and starts, in order; each is registered on one exit stack
    as it is opened, so a start that fails half-way, and a stop, close what was opened (and
    cancel what was started) in the reverse order."""
    async with AsyncExitStack() as resources:
        documents = await open_documents(settings)
        resources.push_async_callback(documents.close)
        # The default context is made now, so SSL_CERT_FILE set by the environment applies.
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(), limit=200),
        )
        resources.push_async_callback(session.close)
        services = app[SERVICES] = await build_services(
            settings, documents, session, clock, tuning, resources
        )
        await services.store.purge_expired_markers(clock.now())
        await services.instances.beat()  # its share of the Teams pace, before any send
        resources.push_async_callback(services.instances.leave)
        # Unwound before `leave`: what is being delivered finishes, or is released, first.
        resources.push_async_callback(services.worker.drain, SHUTDOWN_GRACE_SECONDS)
        resources.push_async_callback(services.poll_cards.drain, SHUTDOWN_GRACE_SECONDS)
        resources.push_async_callback(services.receipts.drain, SHUTDOWN_GRACE_SECONDS)
        _in_background(resources, services.instances.keep_beating())
        resumed = await services.worker.recover()
        _in_background(resources, services.worker.keep_recovering(tuning.recovery_interval))
        # Meetings' groups kept in step with Outlook, and their reminders (with Graph).
        _in_background(
            resources, services.meeting_watch.keep_watching(tuning.meeting_watch_interval)
        )
        # Messages past MESSAGE_RETENTION_DAYS, with their photos and files: a pass now (in
        # the background, so a long history never delays the start), then daily.
        retention = Retention(
            services.store, clock, settings.message_retention_days, services.media_store
        )
        _in_background(resources, retention.keep_purging())
        inbox = services.outlook_inbox
        if inbox is not None:
            await inbox.start()
            resources.push_async_callback(inbox.stop)
        for problem in outlook_setting_problems(settings):
            log.warning(problem)
        if settings.local_mode_on_network:
            log.warning(
                "local mode on a network address: requests to /api/messages are not "
                "authenticated (ALLOW_LOCAL_MODE_ON_NETWORK is true)",
                extra={"host": settings.host},
            )
        log.info(
            "send is ready",
            extra={"store": "cosmos" if settings.uses_cosmos else "sqlite", "resumed": resumed},
        )
        yield


def _in_background(resources: AsyncExitStack, work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` as a task that `resources` cancels, and waits for, when it unwinds."""
    task = asyncio.create_task(work)

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    resources.push_async_callback(stop)
