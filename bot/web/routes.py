"""HTTP endpoints: Bot Framework messages, Outlook actions and notifications, health."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import jwt
from aiohttp import web
from botbuilder.schema import Activity

from bot.core.ports import StoreError
from bot.logs import log_context
from bot.web.keys import SERVICES

log = logging.getLogger("send.http")


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def routes() -> list[web.RouteDef]:
    async def messages(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        if request.content_type != "application/json":
            return _refuse(415, "Content-Type must be application/json")
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _refuse(400, "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return _refuse(400, "the body is not a Bot Framework activity (no type)")
        try:
            activity = Activity().deserialize(body)
        except Exception:  # noqa: BLE001 - msrest raises many kinds on malformed fields
            return _refuse(400, "the activity has malformed fields")
        if activity.type == "message" and (
            activity.conversation is None or activity.from_property is None
        ):
            return _refuse(400, "a message activity needs conversation and from")
        with log_context(request_id=uuid.uuid4().hex, activity_id=activity.id or ""):
            try:
                response = await services.adapter.process_activity(
                    request.headers.get("Authorization", ""), activity, services.bot.on_turn
                )
            except (PermissionError, jwt.PyJWTError) as error:
                log.info(
                    "activity refused: not authenticated", extra={"reason": type(error).__name__}
                )
                return _refuse(401, "the request is not authenticated for this bot")
            except StoreError:
                log.exception("activity not accepted: store unavailable")
                return _refuse(503, "the store is unavailable; send again later")
        if response is not None:
            return web.json_response(response.body, status=response.status)
        return web.Response(status=200)

    async def outlook_action(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        authorization = (
            request.headers.get("Action-Authorization")
            or request.headers.get("Authorization")
            or ""
        )
        with log_context(request_id=uuid.uuid4().hex):
            try:
                outcome = await services.outlook_actions.handle(authorization, await request.read())
            except StoreError:
                log.exception("outlook action not accepted: store unavailable")
                return web.Response(
                    status=503,
                    headers={"CARD-ACTION-STATUS": "Send is busy; try again in a minute"},
                )
            log.info("outlook action", extra={"status": outcome.status, "reason": outcome.reason})
        headers = {"CARD-ACTION-STATUS": outcome.reason}
        if outcome.card is None:
            return web.Response(status=outcome.status, headers=headers)
        headers["CARD-UPDATE-IN-BODY"] = "true"
        return web.json_response(outcome.card, status=outcome.status, headers=headers)

    async def outlook_notifications(request: web.Request) -> web.Response:
        # Graph checks a new subscription's endpoint by sending a token to echo back.
        token = request.query.get("validationToken")
        if token is not None:
            return web.Response(text=token, content_type="text/plain")
        inbox = request.app[SERVICES].outlook_inbox
        if inbox is None:
            return _refuse(404, "Outlook replies are not configured (no Graph settings)")
        try:
            body: Any = await request.json()
            items = body["value"]
            states = [str(item.get("clientState", "")) for item in items]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            return _refuse(400, "not a Graph change notification")
        if not any(inbox.accepts(state) for state in states):
            log.warning("graph notification with a wrong clientState")
            return _refuse(403, "clientState does not match this service's subscription")
        inbox.notified()
        return web.Response(status=202)

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
        return web.json_response({"status": "ready"})

    return [
        web.post("/api/messages", messages),
        web.post("/api/outlook/actions", outlook_action),
        web.post("/api/outlook/notifications", outlook_notifications),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
    ]
