"""Driving the Microsoft 365 Agents Playground as its signed-in user would in the browser.

See docs/agents-playground.md for the endpoints used here and how they behave.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp

from tests.fakes.connector import is_receipt, receipt_text, shown
from tests.waiting import DEFAULT_TIMEOUT, wait_until

Json = dict[str, Any]


class Playground:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.config: Json = {}
        self.chat_messages: list[Json] = []  # what the bot showed in the user's chats
        self.bot_requests: list[Json] = []  # every request the bot made to the connector
        # The id the Playground gave what each of those requests sent ("" if none).
        self.bot_request_ids: list[str] = []
        self.updated_messages: list[Json] = []  # activities the bot replaced in place
        self._session: aiohttp.ClientSession | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> Playground:
        self._session = aiohttp.ClientSession()
        try:
            # testConfig answers at once (config waits for the bot endpoint). Its routes
            # are mounted just after it starts listening, so a first 404 is retried.
            await wait_until(
                self._read_config, interval=0.1, what="the Playground to serve its configuration"
            )
            chat = await self._session.ws_connect(
                f"{self.base}/_ws_conversation/v1/conversations/stream"
            )
            log = await self._session.ws_connect(f"{self.base}/_ws/log/stream")
        except BaseException:
            await self._session.close()
            raise
        self._readers = [
            asyncio.create_task(self._read(chat, self._on_chat)),
            asyncio.create_task(self._read(log, self._on_log)),
        ]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _read_config(self) -> bool:
        assert self._session is not None
        async with self._session.get(f"{self.base}/_internal/v1/testConfig") as response:
            if response.status != 200:
                return False
            self.config = (await response.json())["config"]
            return True

    @property
    def personal_chat(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def group_chat(self) -> str:
        return str(self.config["groupChats"][0]["id"])

    @property
    def bot(self) -> Json:
        return dict(self.config["bot"])

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, handle: Any) -> None:
        async with ws:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    async with self._changed:
                        handle(json.loads(frame.data))
                        self._changed.notify_all()

    def _on_chat(self, event: Json) -> None:
        if event.get("action") == "createMessage":
            self.chat_messages.append(
                {"conversation": event["actionConversationId"], **event["message"]}
            )
        elif event.get("action") == "updateMessage":
            self.updated_messages.append(
                {"conversation": event["actionConversationId"], **event["message"]}
            )

    def _on_log(self, event: Json) -> None:
        log = event.get("log") or {}
        if log.get("from") == "User Application":
            body = (log.get("request") or {}).get("body")
            if isinstance(body, dict):
                self.bot_requests.append(body)
                answer = (log.get("response") or {}).get("body")
                given = answer.get("id") if isinstance(answer, dict) else None
                self.bot_request_ids.append(str(given or log.get("messageId") or ""))

    async def wait(
        self, condition: Any, timeout: float = DEFAULT_TIMEOUT, what: str = "the bot"
    ) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"timed out waiting for {what}; saw {self.chat_messages[-3:]} {self.bot_requests[-3:]}"
                ) from None

    def texts(self, conversation_id: str) -> list[str]:
        """The bot's answers there, as shown."""
        return [
            shown(m)
            for m in self.chat_messages
            if m["conversation"] == conversation_id and m.get("text")
        ]

    def receipts(self, conversation_id: str) -> list[str]:
        """The receipts under the user's messages there (plain text), each as updated last."""
        latest = {
            m.get("id"): m for m in self.updated_messages if m["conversation"] == conversation_id
        }
        return [
            str(receipt_text(latest.get(m.get("id"), m)))
            for m in self.chat_messages
            if m["conversation"] == conversation_id and is_receipt(m)
        ]

    async def _post(self, path: str, body: Json) -> None:
        assert self._session is not None
        async with self._session.post(f"{self.base}{path}", json=body) as response:
            assert response.status == 200, await response.text()

    async def members(self, conversation_id: str) -> list[Json]:
        """A conversation's roster, as the Playground's connector gives it to the bot."""
        assert self._session is not None
        async with self._session.get(
            f"{self.base}/_connector/v3/conversations/{conversation_id}/members"
        ) as response:
            assert response.status == 200, await response.text()
            members: list[Json] = await response.json()
            return members

    async def submit(self, conversation_id: str, card_id: str, value: Json) -> None:
        """The current user presses an Action.Submit button on a card the bot sent."""
        await self._post(
            "/_conversation/v1/submit",
            {
                "conversation": {"id": conversation_id},
                "from": {"id": self.config["currentUser"]["id"]},
                "replyToId": card_id,
                "value": value,
            },
        )

    async def mock(self, conversation_id: str, sender: Json | None = None, **fields: Any) -> None:
        """An activity made with the Playground's "Mock an Activity": its template for that
        conversation with `fields` (the only way to send attachments: the chat box has no
        upload), from `sender` (another member, in their own 1:1 chat) or the current user."""
        assert self._session is not None
        async with self._session.get(
            f"{self.base}/_internal/v1/customActivities/template",
            params={"conversationId": conversation_id},
        ) as response:
            assert response.status == 200, await response.text()
            activity: Json = await response.json()
        extra = fields.pop("channelData", {})
        activity.update({"type": "message", **fields})  # `fields` may name another type
        activity["channelData"] = {**(activity.get("channelData") or {}), **extra}
        if sender is not None:
            activity["from"] = sender
        await self._post("/_internal/v1/customActivities", activity)

    async def install(self) -> None:
        await self._post(f"/_debug/conversation/{self.personal_chat}/installation", {})

    async def say(self, conversation_id: str, text: str, mention_bot: bool = False) -> None:
        body: Json = {
            "text": text,
            "textFormat": "plain",
            "from": {"id": self.config["currentUser"]["id"]},
        }
        if mention_bot:
            tag = f"<at>{self.bot['name']}</at>"
            body["text"] = f"{tag} {text}"
            body["mentions"] = [
                {"mentioned": {"id": self.bot["id"], "name": self.bot["name"]}, "text": tag}
            ]
        await self._post(f"/_conversation/v1/conversations/{conversation_id}/messages", body)

    async def ask(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Says something in the personal chat and returns the bot's next text reply."""
        before = len(self.texts(self.personal_chat))
        await self.say(self.personal_chat, text)
        await self.wait(
            lambda: len(self.texts(self.personal_chat)) > before, timeout, f"a reply to {text!r}"
        )
        return self.texts(self.personal_chat)[before]
