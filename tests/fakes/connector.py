"""A fake Bot Connector service (the Teams side of the Bot Framework REST API).

It speaks the real wire protocol the bot uses: activities posted to
conversations, replies, member lookups (single and paged), and creating 1:1
conversations. Everything it receives is recorded per conversation, and a test
can make it answer sends with errors (429 with Retry-After, 403, 404, 500), answer
slowly (`latency`), or hang until the test lets go (`hold`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.waiting import DEFAULT_TIMEOUT

Json = dict[str, Any]


@dataclass(frozen=True)
class TeamsPerson:
    user_id: str
    name: str
    email: str
    aad_object_id: str

    def account(self, tenant_id: str) -> Json:
        return {
            "id": self.user_id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "objectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": self.email,
            "tenantId": tenant_id,
            "userRole": "user",
        }


@dataclass
class Received:
    conversation_id: str
    activity: Json
    at: float
    reply_to: str = ""


# Decides the answer to one proactive send: None = accept, else (status, headers).
FaultPlan = Callable[[str, Json], tuple[int, dict[str, str]] | None]


@dataclass
class FakeConnector:
    tenant_id: str
    people: dict[str, TeamsPerson] = field(default_factory=dict)
    # conversation id -> user ids in it (1:1 chats and group chats)
    rosters: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    created_chats: list[str] = field(default_factory=list)
    faults: FaultPlan | None = None
    refused: list[Received] = field(default_factory=list)
    page_size: int = 2
    latency: float = 0.0  # seconds before each answer, like a real connector far away
    # A connector that hangs: a send or reply arriving while this is an Event waits until
    # that Event is set. Setting `hold` to None later does not free those already waiting.
    hold: asyncio.Event | None = None
    held: int = 0  # sends and replies waiting on `hold` right now
    _new: asyncio.Condition = field(default_factory=asyncio.Condition)

    def add_person(self, person: TeamsPerson) -> str:
        """Adds a person with a 1:1 chat with the bot; returns that chat's id."""
        self.people[person.user_id] = person
        chat = f"a:chat-{person.user_id}"
        self.rosters[chat] = [person.user_id]
        return chat

    def chat_of(self, user_id: str) -> str:
        return f"a:chat-{user_id}"

    def to(self, conversation_id: str) -> list[Json]:
        return [r.activity for r in self.received if r.conversation_id == conversation_id]

    def texts_to(self, conversation_id: str) -> list[str]:
        """Text the conversation showed: plain messages and hero cards (prompts with buttons)."""
        texts = []
        for activity in self.to(conversation_id):
            if activity.get("text"):
                texts.append(str(activity["text"]))
            for attachment in activity.get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.hero":
                    texts.append(str(attachment["content"].get("text", "")))
        return texts

    def cards_to(self, conversation_id: str) -> list[Json]:
        return [
            att["content"]
            for a in self.to(conversation_id)
            for att in a.get("attachments") or []
            if att.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    async def wait_for(
        self,
        condition: Callable[[], bool],
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "activities",
    ) -> None:
        async with self._new:
            try:
                await asyncio.wait_for(self._new.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None

    async def _record(self, item: Received) -> None:
        async with self._new:
            self.received.append(item)
            self._new.notify_all()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        app.router.add_get("/v3/conversations/{cid}/members/{uid}", self._member)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        return app

    async def _answer_slowly(self) -> None:
        """`latency`, then `hold` as it was when the request arrived."""
        hold = self.hold
        if self.latency:
            await asyncio.sleep(self.latency)
        if hold is not None:
            self.held += 1
            try:
                await hold.wait()
            finally:
                self.held -= 1

    def _not_found(self, code: str, message: str) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=404)

    async def _send(self, request: web.Request) -> web.Response:
        await self._answer_slowly()
        cid = request.match_info["cid"]
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        activity: Json = await request.json()
        item = Received(cid, activity, time.monotonic())
        if self.faults is not None:
            fault = self.faults(cid, activity)
            if fault is not None:
                status, headers = fault
                self.refused.append(item)
                return web.json_response(
                    {
                        "error": {
                            "code": "Throttled" if status == 429 else "Error",
                            "message": "fault",
                        }
                    },
                    status=status,
                    headers=headers,
                )
        await self._record(item)
        return web.json_response({"id": f"act-{len(self.received)}"}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        await self._answer_slowly()
        cid = request.match_info["cid"]
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        activity: Json = await request.json()
        await self._record(Received(cid, activity, time.monotonic(), request.match_info["aid"]))
        return web.json_response({"id": f"act-{len(self.received)}"}, status=201)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body: Json = await request.json()
        members = body.get("members") or []
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        if body.get("isGroup") or len(members) != 1 or tenant != self.tenant_id:
            return web.json_response(
                {"error": {"code": "BadArgument", "message": "one member and the tenant"}},
                status=400,
            )
        user_id = str(members[0].get("id", ""))
        if user_id not in self.people:
            return web.json_response(
                {"error": {"code": "BotNotInConversationRoster", "message": "not installed"}},
                status=403,
            )
        chat = self.chat_of(user_id)
        self.rosters.setdefault(chat, [user_id])
        self.created_chats.append(chat)
        return web.json_response({"id": chat}, status=201)

    def _roster(self, cid: str) -> list[Json] | None:
        if cid not in self.rosters:
            return None
        return [
            self.people[u].account(self.tenant_id) for u in self.rosters[cid] if u in self.people
        ]

    async def _members(self, request: web.Request) -> web.Response:
        roster = self._roster(request.match_info["cid"])
        if roster is None:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        return web.json_response(roster)

    async def _member(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        roster = self._roster(request.match_info["cid"]) or []
        for account in roster:
            if account["id"] == uid:
                return web.json_response(account)
        return self._not_found("MemberNotFoundInConversation", "The member was not found.")

    async def _paged_members(self, request: web.Request) -> web.Response:
        roster = self._roster(request.match_info["cid"])
        if roster is None:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        size = min(int(request.query.get("pageSize", self.page_size)), self.page_size)
        start = int(request.query.get("continuationToken", "0") or 0)
        page: Json = {"members": roster[start : start + size]}
        if start + size < len(roster):
            page["continuationToken"] = str(start + size)
        return web.json_response(page)
