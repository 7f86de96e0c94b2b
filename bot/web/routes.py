"""HTTP endpoints: Bot Framework messages, Outlook actions and notifications, media, health.

Module-level handlers in `ROUTES`; the middlewares give every request a request id in the
log and turn a store outage into a 503 with the reason. Every body is read within the
app's `BODY_TIMEOUT` seconds (408 after that, so a client that
sends slowly cannot hold a connection; 413 with the reason beyond `client_max_size`) and
parsed by `parse_json` (400 with the reason for bad UTF-8, deep nesting, huge numbers,
duplicate keys and lone surrogates). An activity is checked by `activity_problem` before
its turn (400 with the reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.core.features.media import Denial, Opened
from bot.core.ports import StoreError
from bot.logs import log_context
from bot.media.links import LinkProblem, LinkRefusal
from bot.media.naming import disposition
from bot.media.ports import MediaStoreError
from bot.teams.activity import activity_problem
from bot.teams.adapter import ChannelAuthError, SigningKeysUnavailable
from bot.teams.wire import activity_from_json
from bot.web.json_body import JsonBodyError, NotJson, parse_json
from bot.web.keys import MEDIA_TRANSFERS, MEDIA_WRITE_TIMEOUT, SERVICES
from bot.web.transfers import Busy

log = logging.getLogger("send.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Readiness fails while a message accepted this long ago still waits for a delivery.

BODY_TIMEOUT_SECONDS = 10.0
# Graph's validation tokens are short opaque strings; anything longer is not Graph.
MAX_VALIDATION_TOKEN_CHARS = 1024


class _BodyTimeout(Exception):
    """The client did not send its whole body in time."""


class _BodyTooLarge(Exception):
    """The body is beyond the app's `client_max_size`: a 413 with the reason."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.reason = f"the body is larger than {limit // 1024} KB"


def _invoke_body(body: Any) -> Any:
    """An invoke response's body as JSON can take it: botbuilder hands models, too."""
    if body is None or isinstance(body, dict | list | str | int | float | bool):
        return body
    serialize = getattr(body, "serialize", None)
    if callable(serialize):
        return serialize()
    log.warning("invoke response body dropped", extra={"body_type": type(body).__name__})
    return None


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _refuse_text(status: int, reason: str, *, retry: int = 0) -> web.Response:
    """A refusal a person reads in their browser (media links are opened by people)."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if retry:
        headers["Retry-After"] = str(retry)
    return web.Response(status=status, text=reason, content_type="text/plain", headers=headers)


LINK_REFUSALS = {
    LinkProblem.MALFORMED: (400, "This is not a whole Send link: copy all of it."),
    LinkProblem.BAD_SIGNATURE: (403, "This link was not made by Send, or it was changed."),
    LinkProblem.EXPIRED: (
        410,
        "This link has expired: open the message in Teams or Outlook again for a new one.",
    ),
}


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every log line of a request, and of the work it starts, carries its request id."""
    with log_context(request_id=uuid.uuid4().hex):
        return await handler(request)


@web.middleware
async def store_outages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A store that does not answer is a 503 with the reason, in the form the caller reads
    (Bot Framework: JSON; Outlook: a header it shows; a person's browser: a line)."""
    try:
        return await handler(request)
    except StoreError:
        log.exception("request not accepted: store unavailable")
        route = request.match_info.route.name
        if route == "outlook_action":
            return web.Response(
                status=503, headers={"CARD-ACTION-STATUS": "Send is busy; try again in a minute"}
            )
        if route == "media":
            return _refuse_text(503, "Send is busy; open the link again in a minute.")
        return _refuse(503, "the store is unavailable; send again later")


@web.middleware
async def body_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body that does not arrive in time (408), is too large (413) or is not acceptable
    JSON (400): refused with the reason, in the form the route's caller reads."""
    try:
        return await handler(request)
    except _BodyTimeout:
        return too_slow(request)
    except (_BodyTooLarge, JsonBodyError) as error:
        status = 413 if isinstance(error, _BodyTooLarge) else 400
        log.info("request refused", extra={"status": status, "reason": error.reason})
        if request.match_info.route.name == "outlook_action":
            # Outlook shows this header to the person who clicked.
            return web.Response(status=status, headers={"CARD-ACTION-STATUS": error.reason})
        return _refuse(status, error.reason)


MIDDLEWARES = (request_ids, store_outages, body_refusals)
BODY_TIMEOUT = web.AppKey("body_timeout", float)


async def read_body(request: web.Request) -> bytes:
    try:
        async with asyncio.timeout(request.app[BODY_TIMEOUT]):
            return await request.read()
    except TimeoutError:
        raise _BodyTimeout from None
    except web.HTTPRequestEntityTooLarge:
        # aiohttp's own 413 would say nothing Outlook shows: each handler answers.
        raise _BodyTooLarge(request.client_max_size) from None


def too_slow(request: web.Request) -> web.Response:
    log.info("request refused: body not received in time")
    response = _refuse(408, f"the body did not arrive within {request.app[BODY_TIMEOUT]:g} seconds")
    response.force_close()  # the rest of the body may never come: do not wait for it
    return response


async def messages(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    if request.content_type != "application/json":
        return _refuse(415, "Content-Type must be application/json")
    body: Any = parse_json(await read_body(request))
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return _refuse(400, "the body is not a Bot Framework activity (no type)")
    try:
        activity = activity_from_json(body)
    except Exception:  # noqa: BLE001 - msrest raises many kinds on malformed fields
        return _refuse(400, "the activity has malformed fields")
    problem = activity_problem(activity)
    if problem is not None:
        return _refuse(400, problem)
    with log_context(activity_id=activity.id or ""):
        try:
            response = await services.adapter.process_activity(
                request.headers.get("Authorization", ""), activity, services.bot.on_turn
            )
        except ChannelAuthError as error:
            log.info("activity refused: not authenticated", extra={"reason": error.reason})
            return _refuse(401, f"the request is not authenticated for this bot: {error.reason}")
        except SigningKeysUnavailable:
            return _refuse(503, "the Bot Framework signing keys are unavailable; send again")
    if response is not None:
        return web.json_response(_invoke_body(response.body), status=response.status)
    return web.Response(status=200)


async def outlook_action(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    authorization = (
        request.headers.get("Action-Authorization") or request.headers.get("Authorization") or ""
    )
    raw = await read_body(request)
    # Outlook's bodies break JSON when the reply has a quote: handle() reads those.
    with contextlib.suppress(NotJson):
        parse_json(raw)
    outcome = await services.outlook_actions.handle(authorization, raw)
    log.info("outlook action", extra={"status": outcome.status, "reason": outcome.reason})
    headers = {"CARD-ACTION-STATUS": outcome.reason}
    if outcome.card is None:
        return web.Response(status=outcome.status, headers=headers)
    headers["CARD-UPDATE-IN-BODY"] = "true"
    return web.json_response(outcome.card, status=outcome.status, headers=headers)


async def outlook_notifications(request: web.Request) -> web.Response:
    # Graph checks a new subscription's endpoint by sending a token to echo back.
    # Echoed as plain text that browsers must not sniff into HTML: the token is the caller's.
    token = request.query.get("validationToken")
    if token is not None:
        if len(token) > MAX_VALIDATION_TOKEN_CHARS:
            return _refuse(400, "validationToken is too long")
        return web.Response(
            text=token, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"}
        )
    inbox = request.app[SERVICES].outlook_inbox
    if inbox is None:
        return _refuse(404, "Outlook replies are not configured (no Graph settings)")
    body: Any = parse_json(await read_body(request))
    try:
        items = body["value"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise TypeError
    except (KeyError, TypeError):
        return _refuse(400, "not a Graph change notification")
    # Change and lifecycle notifications alike: our clientState and subscription id.
    if not await inbox.receive(items):  # counted and logged (at INFO) by the inbox
        return _refuse(403, "clientState or subscriptionId is not this service's")
    return web.Response(status=202)


async def media(request: web.Request) -> web.StreamResponse:
    """A photo or file behind one of Send's signed links, for a current member only."""
    services = request.app[SERVICES]
    grant = services.media_links.verify(request.match_info["media_id"], request.query)
    if isinstance(grant, LinkRefusal):
        status, reason = LINK_REFUSALS[grant.problem]
        log.info("media link refused", extra={"status": status, "reason": reason})
        return _refuse_text(status, reason)
    opened = await services.media.open(
        grant.tenant_id,
        grant.group_id,
        grant.message_id,
        grant.media_id,
        grant.viewer_id,
    )
    if isinstance(opened, Denial):
        status = 404 if opened is Denial.GONE else 403
        log.info(
            "media link refused",
            extra={"status": status, "group_id": grant.group_id, "reason": opened.value},
        )
        return _refuse_text(status, opened.value[0].upper() + opened.value[1:] + ".")
    item = opened.item
    response = web.StreamResponse(
        headers={
            "Content-Type": item.content_type,
            "Content-Disposition": disposition(item.kind, item.name),
            # What was checked by content is served as that type and nothing else.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            # Only the viewer's own browser may keep it, and not for long: a member who
            # is removed should not keep seeing new copies from a shared cache.
            "Cache-Control": "private, max-age=3600",
            "Referrer-Policy": "no-referrer",
        },
    )
    response.content_length = item.size
    # One link, one signature: what counts the downloads of the same link.
    with request.app[MEDIA_TRANSFERS].slot(request.query.get("s", "")) as busy:
        if busy is not None:
            await opened.rest.aclose()
            log.info("media download refused", extra={"reason": busy.name})
            status = 503 if busy is Busy.INSTANCE else 429
            return _refuse_text(status, busy.value[0].upper() + busy.value[1:] + ".", retry=60)
        await _send(request, response, opened)
    return response


async def _send(request: web.Request, response: web.StreamResponse, opened: Opened) -> None:
    """The item, a chunk at a time; a reader that does not take a chunk within the write
    timeout is dropped, so nothing waits on it and it holds no more than a chunk."""
    timeout = request.app[MEDIA_WRITE_TIMEOUT]
    try:
        await response.prepare(request)
        chunk = opened.first
        while chunk:
            await asyncio.wait_for(response.write(chunk), timeout)
            chunk = await anext(opened.rest, b"")
        await asyncio.wait_for(response.write_eof(), timeout)
    except TimeoutError:
        log.info("media reader too slow: dropped", extra={"media_id": opened.item.media_id})
        if request.transport is not None:
            request.transport.abort()
    except MediaStoreError as error:
        log.warning("media read failed mid-way", extra={"error": str(error)[:200]})
        if request.transport is not None:
            request.transport.abort()
    finally:
        await opened.rest.aclose()


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app.get(SERVICES)
    if services is None:
        return _refuse(503, "starting")
    try:
        await services.documents.ping()
    except StoreError as error:
        log.warning("not ready", extra={"reason": str(error)[:200]})
        return _refuse(503, "the store does not answer")
    worker = services.worker
    if worker.stalled():
        log.warning(
            "not ready: the delivery loop has stalled", extra={"last_pass": str(worker.last_pass)}
        )
        return _refuse(503, "this instance's delivery loop has stalled")
    # The deployment's backlog is reported (and alerted on by the delivery worker), never a
    # reason to take this instance out: it may be Teams' or Exchange's doing, and every
    # instance would be taken out at once.
    oldest = worker.oldest_pending
    waiting = 0.0 if oldest is None else (services.clock.now() - oldest).total_seconds()
    return web.json_response({"status": "ready", "oldest_pending_seconds": round(waiting)})


ROUTES = [
    web.post("/api/messages", messages, name="messages"),
    web.post("/api/outlook/actions", outlook_action, name="outlook_action"),
    web.post("/api/outlook/notifications", outlook_notifications, name="outlook_notifications"),
    # GET only: a HEAD would be answered with the streamed body.
    web.get("/media/{media_id}", media, name="media", allow_head=False),
    web.get("/healthz", healthz, name="healthz"),
    web.get("/readyz", readyz, name="readyz"),
]
