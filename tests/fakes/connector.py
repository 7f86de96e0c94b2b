"""A fake Bot Connector service (the Teams side of the Bot Framework REST API).

It speaks the real wire protocol the bot uses: activities posted to
conversations, replies, member lookups (single and paged), and creating 1:1
conversations. Everything it receives is recorded per conversation, and a test
can make it answer sends with errors (429 with Retry-After, 403, 404, 500), answer
slowly (`latency`), or hang until the test lets go (`hold`).

It is as strict as Teams about who the bot may reach:
- `people` are the tenant's Teams users the connector knows; `installed` holds the Teams
  user ids (29:...) of those who have the Send personal app. `add_person` makes someone
  known AND installed, with a 1:1 chat; `install(user_id)` installs the app for a known
  person (their 1:1 chat `chat_of(user_id)` exists from then on) and `uninstall` removes it.
- `POST /v3/conversations` opens a 1:1 chat with one member named by Teams user id or by
  Entra object id (aadObjectId), as Teams accepts both, only for someone who has the app
  or is in the roster of a group conversation (any roster but a personal chat: a bot may
  open a 1:1 with members of a chat or team it is in); anyone else gets 403
  BotNotInConversationRoster.
- Sends and replies into a personal chat are refused the same way (403
  BotNotInConversationRoster) once its person may not be reached: the app uninstalled and
  no group roster shared.
- Graph names a personal chat "19:<aadObjectId>_<bot app id>@unq.gbl.spaces"
  (`graph_chat_id`, from `users/{id}/teamwork/installedApps/{id}/chat`); the connector
  takes that id as another name of `chat_of(user_id)` and records what is sent to it
  under the canonical id, so `to`, `texts_to` and `cards_to` of `chat_of` show it.
- Pictures pasted in a 1:1 chat are served as Teams serves them to bots:
  `GET /v3/attachments/{id}/views/original`, which needs a bearer token when
  `requires_token` is set (401 without one) and is 404 for an unknown id. Files sent to
  the bot come with a OneDrive `downloadUrl` (`/onedrive/{id}`), pre-authorised: it takes
  no token, and one sent anyway is refused (401, a token for another audience), as
  SharePoint refuses it. `moved_file` makes a link that answers 302 to another address,
  as a download link can; every request to a file link is counted in `downloads`.
- The bot may update (PUT) or delete (DELETE) only activities it sent into that same
  conversation; a deleted one is gone from what the conversation shows (`to`), and
  deleting it again is a 404.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.waiting import DEFAULT_TIMEOUT

Json = dict[str, Any]


def shown(activity: Json) -> str:
    """A text activity as Teams shows it: markdown escapes read, paragraphs one line each;
    xml (HTML) with its line breaks as lines and its entities read."""
    text = str(activity.get("text", ""))
    if activity.get("textFormat") == "xml":
        return html.unescape(re.sub(r"<br\s*/?>", "\n", text))
    if activity.get("textFormat") != "markdown":
        return text
    return re.sub(r"\\(.)", r"\1", text.replace("\n\n", "\n"))


def receipt_text(activity: Json) -> str | None:
    """What a receipt (the card under a sender's message, its block's `id` "receipt") shows;
    None for any other activity."""
    for item in activity.get("attachments") or []:
        body = (item.get("content") or {}).get("body") or [{}]
        if isinstance(body[0], dict) and body[0].get("id") == "receipt":
            return "".join(str(run.get("text", "")) for run in body[0].get("inlines") or [])
    return None


def is_receipt(activity: Json) -> bool:
    return receipt_text(activity) is not None


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
    id: str = ""  # the id the connector gave the activity (what a bot updates it by)


# Decides the answer to one proactive send: None = accept, else (status, headers).
FaultPlan = Callable[[str, Json], tuple[int, dict[str, str]] | None]
_PERSONAL_PREFIX = "a:chat-"
# Graph's id of a user's 1:1 chat with a bot: 19:<user object id>_<bot app id>@unq.gbl.spaces
_GRAPH_CHAT = re.compile(r"^19:(?P<oid>[^_@]+)_(?P<app>[^@]+)@unq\.gbl\.spaces$", re.IGNORECASE)
NOT_IN_ROSTER = {
    "error": {
        "code": "BotNotInConversationRoster",
        "message": "The bot is not part of the conversation roster.",
    }
}


@dataclass
class FakeConnector:
    tenant_id: str
    people: dict[str, TeamsPerson] = field(default_factory=dict)
    # Teams user ids (29:...) of the people who have the Send personal app
    installed: set[str] = field(default_factory=set)
    # conversation id -> user ids in it (1:1 chats and group chats)
    rosters: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    created_chats: list[str] = field(default_factory=list)
    faults: FaultPlan | None = None
    refused: list[Received] = field(default_factory=list)
    # Activities the bot deleted (DELETE .../activities/{id}), as their conversation and id.
    deleted: list[Received] = field(default_factory=list)
    updates: list[Received] = field(
        default_factory=list
    )  # update-activity calls, in order  # sends a fault plan refused
    # sends and replies refused with 403 BotNotInConversationRoster (canonical chat ids)
    not_in_roster: list[Received] = field(default_factory=list)
    bot_app_id: str = "send-bot"  # the bot's Microsoft App id, part of Graph's chat ids
    page_size: int = 2
    latency: float = 0.0  # seconds before each answer, like a real connector far away
    # A connector that hangs: a send or reply arriving while this is an Event waits until
    # that Event is set. Setting `hold` to None later does not free those already waiting.
    hold: asyncio.Event | None = None
    held: int = 0  # sends and replies waiting on `hold` right now
    held_deletes: int = 0  # of which deletes
    _abandoned: set[asyncio.Event] = field(default_factory=set)
    # Pasted pictures and OneDrive files: id -> (bytes, content type)
    attachments: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # File links that answer 302 to another address: id -> Location
    moved: dict[str, str] = field(default_factory=dict)
    requires_token: bool = False
    # The Authorization header of each attachment or file download, in order ("" for none).
    downloads: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""  # set by whoever serves the app: where contentUrls point
    _new: asyncio.Condition = field(default_factory=asyncio.Condition)

    def add_person(self, person: TeamsPerson) -> str:
        """Adds a person who has the app, with a 1:1 chat with the bot; returns its id."""
        self.people[person.user_id] = person
        self.installed.add(person.user_id)
        chat = self.chat_of(person.user_id)
        self.rosters[chat] = [person.user_id]
        return chat

    def install(self, user_id: str) -> str:
        """Installs the app for a known person (Teams does so when Graph installs it);
        returns their 1:1 chat with the bot, which exists from then on."""
        if user_id not in self.people:
            raise KeyError(f"{user_id} is not a Teams user of this tenant")
        self.installed.add(user_id)
        chat = self.chat_of(user_id)
        self.rosters.setdefault(chat, [user_id])
        return chat

    def uninstall(self, user_id: str) -> None:
        """The person removes the app: their chat stays, the bot may no longer post to it
        (unless they share a group roster with it)."""
        self.installed.discard(user_id)

    def chat_of(self, user_id: str) -> str:
        return f"{_PERSONAL_PREFIX}{user_id}"

    def graph_chat_id(self, user_id: str) -> str:
        """Graph's id of the person's 1:1 chat with the bot (another name of `chat_of`)."""
        return f"19:{self.people[user_id].aad_object_id}_{self.bot_app_id}@unq.gbl.spaces"

    def may_reach(self, user_id: str) -> bool:
        """Whether Teams lets the bot open or post to a 1:1 chat with this person."""
        return user_id in self.installed or any(
            user_id in members
            for cid, members in self.rosters.items()
            if not cid.startswith(_PERSONAL_PREFIX)
        )

    def _person_by_id(self, member_id: str) -> TeamsPerson | None:
        """The person a Teams user id (29:...) or an Entra object id names."""
        if member_id in self.people:
            return self.people[member_id]
        wanted = member_id.lower()
        for person in self.people.values():
            if person.aad_object_id and person.aad_object_id.lower() == wanted:
                return person
        return None

    def _canonical(self, cid: str) -> str:
        """The conversation id under which `cid` is kept: Graph's id of a personal chat
        becomes `chat_of` its person; any other id stays as it is."""
        match = _GRAPH_CHAT.match(cid)
        if match is None or match["app"].lower() != self.bot_app_id.lower():
            return cid
        person = self._person_by_id(match["oid"])
        return cid if person is None else self.chat_of(person.user_id)

    def _unreachable(self, cid: str) -> bool:
        """A personal chat whose person the bot may not reach any more."""
        if not cid.startswith(_PERSONAL_PREFIX):
            return False
        return not self.may_reach(cid.removeprefix(_PERSONAL_PREFIX))

    def to(self, conversation_id: str) -> list[Json]:
        """What the conversation shows: what the bot sent there, less what it deleted."""
        gone = {r.id for r in self.deleted if r.conversation_id == conversation_id}
        return [
            r.activity
            for r in self.received
            if r.conversation_id == conversation_id and r.id not in gone
        ]

    def texts_to(self, conversation_id: str) -> list[str]:
        """Text the conversation showed: messages and hero cards (prompts with buttons); not
        receipts (`receipts_to`)."""
        texts = []
        for activity in self.to(conversation_id):
            if is_receipt(activity):
                continue
            if activity.get("text"):
                texts.append(shown(activity))
            for attachment in activity.get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.hero":
                    texts.append(str(attachment["content"].get("text", "")))
        return texts

    def receipts_to(self, conversation_id: str) -> list[str]:
        """The receipts under the sender's messages there, each as it shows now (after its
        last update)."""
        latest = {u.reply_to: u.activity for u in self.updates_to(conversation_id)}
        gone = {r.id for r in self.deleted if r.conversation_id == conversation_id}
        return [
            str(receipt_text(latest.get(r.id, r.activity)))
            for r in self.received
            if r.conversation_id == conversation_id and r.id not in gone and is_receipt(r.activity)
        ]

    def cards_to(self, conversation_id: str, receipts: bool = False) -> list[Json]:
        """The Adaptive Cards shown there; receipts (`receipts_to`) only if asked for."""
        return [
            att["content"]
            for a in self.to(conversation_id)
            if receipts or not is_receipt(a)
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

    async def _record(self, item: Received) -> str:
        async with self._new:
            item.id = f"act-{len(self.received) + 1}"
            self.received.append(item)
            self._new.notify_all()
        return item.id

    def updates_to(self, conversation_id: str) -> list[Received]:
        """Activities the bot replaced there (`reply_to` is the replaced activity's id)."""
        return [u for u in self.updates if u.conversation_id == conversation_id]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        app.router.add_get("/v3/conversations/{cid}/members/{uid}", self._member)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/attachments/{aid}/views/{view}", self._attachment)
        app.router.add_get("/onedrive/{fid}", self._onedrive)
        return app

    def paste(self, data: bytes, content_type: str = "image/png") -> str:
        """A picture pasted in Teams: the contentUrl Teams would give the bot for it."""
        aid = f"0-eus-d{len(self.attachments) + 1}-{uuid.uuid4().hex}"
        self.attachments[aid] = (data, content_type)
        return f"{self.base_url}/v3/attachments/{aid}/views/original"

    def upload_file(self, data: bytes, content_type: str = "application/pdf") -> str:
        """A file in the sender's OneDrive: its pre-authorised download URL."""
        fid = uuid.uuid4().hex
        self.files[fid] = (data, content_type)
        return f"{self.base_url}/onedrive/{fid}?tempauth=v1.{fid[:8]}"

    async def _attachment(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.downloads.append(("attachment", auth))
        if self.requires_token and not auth.startswith("Bearer "):
            return web.json_response(
                {"error": {"code": "Unauthorized", "message": "Authorization has been denied"}},
                status=401,
            )
        found = self.attachments.get(request.match_info["aid"])
        if found is None or request.match_info["view"] != "original":
            return self._not_found("NotFound", "Attachment not found.")
        return web.Response(body=found[0], content_type=found[1])

    def moved_file(self, location: str) -> str:
        """A file link that answers 302 with `location`."""
        fid = uuid.uuid4().hex
        self.moved[fid] = location
        return f"{self.base_url}/onedrive/{fid}?tempauth=v1.{fid[:8]}"

    async def _onedrive(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.downloads.append(("file", auth))
        location = self.moved.get(request.match_info["fid"])
        if location is not None:
            raise web.HTTPFound(location)
        if auth:
            return web.json_response(
                {"error": {"code": "InvalidAudience", "message": "Invalid audience."}},
                status=401,
            )
        found = self.files.get(request.match_info["fid"])
        if found is None or not request.query.get("tempauth"):
            return web.json_response(
                {"error": {"code": "itemNotFound", "message": "Item not found"}}, status=404
            )
        return web.Response(body=found[0], content_type=found[1])

    async def _answer_slowly(self, deleting: bool = False) -> None:
        """`latency`, then `hold` as it was when the request arrived."""
        hold = self.hold
        if self.latency:
            await asyncio.sleep(self.latency)
        if hold is not None:
            self.held += 1
            self.held_deletes += deleting
            try:
                await hold.wait()
            finally:
                self.held -= 1
                self.held_deletes -= deleting
            if hold in self._abandoned:
                # Its caller is gone (killed): what it asked for never happened.
                raise web.HTTPServiceUnavailable()

    def abandon(self) -> None:
        """Lets go of what `hold` holds without doing any of it (their caller was killed:
        a real connector would have seen the connection drop), and holds nothing more."""
        if self.hold is not None:
            self._abandoned.add(self.hold)
            self.hold.set()
        self.hold = None

    def _not_found(self, code: str, message: str) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=404)

    def _not_in_roster(self) -> web.Response:
        return web.json_response(NOT_IN_ROSTER, status=403)

    async def _send(self, request: web.Request) -> web.Response:
        await self._answer_slowly()
        cid = self._canonical(request.match_info["cid"])
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        activity: Json = await request.json()
        item = Received(cid, activity, time.monotonic())
        if self._unreachable(cid):
            self.not_in_roster.append(item)
            return self._not_in_roster()
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
        return web.json_response({"id": await self._record(item)}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        await self._answer_slowly()
        cid = self._canonical(request.match_info["cid"])
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        activity: Json = await request.json()
        item = Received(cid, activity, time.monotonic(), request.match_info["aid"])
        if self._unreachable(cid):
            self.not_in_roster.append(item)
            return self._not_in_roster()
        return web.json_response({"id": await self._record(item)}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        """Update activity: only an activity the bot sent into that same conversation."""
        await self._answer_slowly()
        cid = self._canonical(request.match_info["cid"])
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        aid = request.match_info["aid"]
        if not any(r.id == aid and r.conversation_id == cid for r in self.received):
            return self._not_found("ActivityNotFoundInConversation", "Activity not found.")
        activity: Json = await request.json()
        item = Received(cid, activity, time.monotonic(), aid, aid)
        if self._unreachable(cid):
            self.not_in_roster.append(item)
            return self._not_in_roster()
        async with self._new:
            self.updates.append(item)
            self._new.notify_all()
        return web.json_response({"id": aid}, status=200)

    async def _delete(self, request: web.Request) -> web.Response:
        """Delete activity: only an activity the bot sent into that same conversation, and
        not deleted yet (404 then, as Teams answers)."""
        await self._answer_slowly(deleting=True)
        cid = self._canonical(request.match_info["cid"])
        if cid not in self.rosters:
            return self._not_found("ConversationNotFound", "Conversation not found.")
        aid = request.match_info["aid"]
        sent = any(r.id == aid and r.conversation_id == cid for r in self.received)
        if not sent or any(r.id == aid and r.conversation_id == cid for r in self.deleted):
            return self._not_found("ActivityNotFoundInConversation", "Activity not found.")
        if self._unreachable(cid):
            return self._not_in_roster()
        async with self._new:
            self.deleted.append(Received(cid, {}, time.monotonic(), aid, aid))
            self._new.notify_all()
        return web.Response(status=200)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body: Json = await request.json()
        members = body.get("members") or []
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        if body.get("isGroup") or len(members) != 1 or tenant != self.tenant_id:
            return web.json_response(
                {"error": {"code": "BadArgument", "message": "one member and the tenant"}},
                status=400,
            )
        member = members[0] if isinstance(members[0], dict) else {}
        person = self._person_by_id(str(member.get("id", "")))
        if person is None or not self.may_reach(person.user_id):
            return self._not_in_roster()
        chat = self.chat_of(person.user_id)
        self.rosters.setdefault(chat, [person.user_id])
        self.created_chats.append(chat)
        return web.json_response({"id": chat}, status=201)

    def _roster(self, cid: str) -> list[Json] | None:
        cid = self._canonical(cid)
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
