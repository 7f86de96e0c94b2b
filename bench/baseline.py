"""The stock baseline: a Bot Framework bot written the way Microsoft's samples write it.

CloudAdapter + ConfigurationBotFrameworkAuthentication, no app id (local mode).
- "help" (or anything else): echoes the text back (the stock echo bot);
- "relay <text>": sends a card to every member in MEMBERS_FILE, one
  `continue_conversation` after another (the proactive-messages sample's loop).

Run as a process by bench/run.py: `python bench/baseline.py <port> <members.json>`.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, Attachment, ConversationReference


class BaselineBot(ActivityHandler):  # type: ignore[misc]
    def __init__(self, adapter: CloudAdapter, members: list[dict[str, Any]]) -> None:
        super().__init__()
        self._adapter = adapter
        self._references = [ConversationReference().deserialize(m) for m in members]

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = turn_context.activity.text or ""
        if not text.startswith("relay "):
            await turn_context.send_activity(f"Echo: {text}")
            return
        card = {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": text[6:], "wrap": True}],
        }
        sender = turn_context.activity.from_property.id
        for reference in self._references:
            if reference.user.id == sender:
                continue

            async def send(context: TurnContext) -> None:
                await context.send_activity(
                    Activity(
                        type="message",
                        attachments=[
                            Attachment(
                                content_type="application/vnd.microsoft.card.adaptive",
                                content=card,
                            )
                        ],
                    )
                )

            await self._adapter.continue_conversation(reference, send, "")


def main() -> None:
    port, members_file = int(sys.argv[1]), sys.argv[2]
    with open(members_file) as f:
        members = json.load(f)
    config = SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = BaselineBot(adapter, members)

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
