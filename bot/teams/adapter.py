"""The Bot Framework adapter: stock CloudAdapter authentication, our own outbound calls.

`CloudAdapter.process_activity` builds a msrest ConnectorClient and a
UserTokenClient for every turn (about 5 ms of CPU each, and an HTTP session that
is never closed). Send needs neither: replies go through `TeamsConnector` on the
app's pooled session, and Send has no sign-in prompts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse
from botframework.connector.auth import BotFrameworkAuthentication

from bot.core.ports import StoreError
from bot.teams.activity import reply_text
from bot.teams.connector import TeamsConnector

log = logging.getLogger("send.bot")


class SendAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(
        self, authentication: BotFrameworkAuthentication, connector: TeamsConnector
    ) -> None:
        super().__init__(authentication)
        self._connector = connector

    async def process_activity(
        self,
        auth_header: str,
        activity: Activity,
        logic: Callable[[TurnContext], Awaitable[None]],
    ) -> Any:
        # Raises PermissionError (or a JWT error) when the request is not from the channel.
        result = await self.bot_framework_authentication.authenticate_request(activity, auth_header)
        activity.caller_id = result.caller_id
        context = TurnContext(self, activity)
        context.turn_state[self.BOT_IDENTITY_KEY] = result.claims_identity
        context.turn_state[self.BOT_CALLBACK_HANDLER_KEY] = logic
        context.turn_state[self.BOT_OAUTH_SCOPE_KEY] = result.audience
        await self.run_pipeline(context, logic)
        return self._process_turn_results(context)

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            activity.id = None
            if activity.type == "delay":
                await asyncio.sleep((activity.value or 1000) / 1000)
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[self._INVOKE_RESPONSE_KEY] = activity
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.trace:
                responses.append(ResourceResponse(id=""))
            else:
                sent_id = await self._connector.post_to_conversation(
                    activity.service_url,
                    activity.conversation.id,
                    activity.serialize(),
                    activity.reply_to_id or "",
                )
                responses.append(ResourceResponse(id=sent_id))
        return responses


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
