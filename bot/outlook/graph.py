"""Microsoft Graph: the group's Outlook thread sent from the service mailbox, and user lookups.

One pooled aiohttp session and one MSAL client (client credentials) for every call.
429, 503 and 504 are retried a few times, never before Retry-After; at most 4
requests run at once against one mailbox (Exchange's concurrency limit).

The thread: the first mail is a draft created and sent from OUTLOOK_SENDER
(immutable ids, so its id survives the move to Sent Items); every later mail is a
`reply` to that first mail with this message's recipients and body, so Outlook
files all of them in one conversation in every recipient's mailbox.
"""

from __future__ import annotations

import asyncio
import json as json_module
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.core.ports import (
    Clock,
    DirectoryEntry,
    RecordResult,
    SendOutcome,
    ThreadMail,
)
from bot.http_answers import is_passing_failure, retry_after_seconds
from bot.identity import ClientCredentials, CredentialError
from bot.outlook.card import OutlookCards
from bot.outlook.eml import subject_of

log = logging.getLogger("send.graph")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAILBOX_CONCURRENCY = 4


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: dict[str, Any]
    retry_after: float = 0.0
    request_id: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class GraphClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: ClientCredentials,
        endpoint: str,
        attempts: int = 3,
    ) -> None:
        self._session = session
        self._credentials = credentials
        self._endpoint = endpoint.rstrip("/")
        self._attempts = attempts
        self._mailboxes: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(MAILBOX_CONCURRENCY)
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        mailbox: str,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> GraphResponse:
        response = GraphResponse(0, {})
        for attempt in range(1, self._attempts + 1):
            async with self._mailboxes[mailbox.lower()]:
                response = await self._once(method, path, json, headers)
            if not is_passing_failure(response.status) or attempt == self._attempts:
                break
            await asyncio.sleep(max(response.retry_after, 0.5 * 2 ** (attempt - 1)))
        if not response.ok and response.status != 404:
            log.warning(
                "graph request failed",
                extra={
                    "status": response.status,
                    "graph_request_id": response.request_id,
                    "path": path.split("?")[0],
                },
            )
        return response

    async def _once(
        self, method: str, path: str, json: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> GraphResponse:
        try:
            auth = await self._credentials.header()
            async with self._session.request(
                method, f"{self._endpoint}{path}", json=json, headers={**auth, **(headers or {})}
            ) as r:
                text = await r.text()
                body: Any = json_module.loads(text) if text.strip() else {}
                return GraphResponse(
                    r.status,
                    body if isinstance(body, dict) else {},
                    retry_after_seconds(r.headers.get("Retry-After")),
                    r.headers.get("request-id", ""),
                )
        except CredentialError as error:
            log.error("graph token refused", extra={"reason": str(error)[:200]})
            return GraphResponse(503, {})
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("graph unreachable", extra={"error": type(error).__name__})
            return GraphResponse(503, {})


def _recipients(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": a}} for a in addresses]


class GraphMail:
    """The OutlookRecorder for production: the thread in the service mailbox, through Graph."""

    def __init__(self, graph: GraphClient, sender: str, cards: OutlookCards, clock: Clock) -> None:
        self._graph = graph
        self._sender = sender
        self._user = f"/users/{quote(sender)}"
        self._cards = cards
        self._clock = clock
        # message id -> draft made but not sent yet; draft id -> its conversationId
        self._unsent_drafts: dict[str, str] = {}
        self._conversations: dict[str, str] = {}

    async def record(self, mail: ThreadMail) -> RecordResult:
        card = self._cards.card(
            mail.tenant_id, mail.group_id, mail.group_name, mail.recent, self._clock.now()
        )
        body = {
            "contentType": "html",
            "content": self._cards.html(mail.group_name, mail.recent, card),
        }
        if mail.thread_id:
            reply = await self._graph.call(
                "POST",
                f"{self._user}/messages/{quote(mail.thread_id, safe='')}/reply",
                mailbox=self._sender,
                json={
                    "message": {
                        "subject": f"RE: {subject_of(mail.group_name)}",  # follows a rename
                        "toRecipients": _recipients(mail.addresses),
                        "body": body,
                    }
                },
            )
            if reply.status != 404:
                return _result(reply, mail.thread_id)
            # The first mail is gone (deleted from Sent Items): start the conversation again.
        return await self._start(mail, body)

    async def _start(self, mail: ThreadMail, body: dict[str, Any]) -> RecordResult:
        # A draft made by an earlier attempt whose send failed is sent now, not made again.
        unsent = self._unsent_drafts.pop(mail.message_id, "")
        if unsent:
            sent = await self._send_draft(unsent)
            if sent.status != 404:
                if not sent.ok:
                    self._unsent_drafts[mail.message_id] = unsent
                return _result(sent, unsent, self._conversations.pop(unsent, ""))
        draft = await self._graph.call(
            "POST",
            f"{self._user}/messages",
            mailbox=self._sender,
            headers={"Prefer": 'IdType="ImmutableId"'},
            json={
                "subject": subject_of(mail.group_name),
                "body": body,
                "toRecipients": _recipients(mail.addresses),
            },
        )
        if not draft.ok or not draft.body.get("id"):
            return _result(draft, "")
        thread_id = str(draft.body["id"])
        conversation_id = str(draft.body.get("conversationId", ""))
        sent = await self._send_draft(thread_id)
        if not sent.ok:
            self._unsent_drafts[mail.message_id] = thread_id
            self._conversations[thread_id] = conversation_id
        return _result(sent, thread_id, conversation_id)

    async def _send_draft(self, draft_id: str) -> GraphResponse:
        return await self._graph.call(
            "POST", f"{self._user}/messages/{quote(draft_id, safe='')}/send", mailbox=self._sender
        )


def _result(response: GraphResponse, thread_id: str, conversation_id: str = "") -> RecordResult:
    if response.ok:
        return RecordResult(SendOutcome.SENT, thread_id=thread_id, conversation_id=conversation_id)
    detail = f"graph {response.status} {response.request_id}".strip()
    if not is_passing_failure(response.status):
        # Not going to get better by itself: misconfiguration or a refused mail.
        return RecordResult(SendOutcome.REFUSED, detail=detail)
    return RecordResult(SendOutcome.RETRY, retry_after=response.retry_after, detail=detail)


class GraphDirectory:
    """Member lookup by address in the organisation's directory."""

    def __init__(self, graph: GraphClient, mailbox: str, tenant_id: str) -> None:
        self._graph = graph
        self._mailbox = mailbox
        self._tenant_id = tenant_id.lower()

    def covers(self, tenant_id: str) -> bool:
        return tenant_id.lower() == self._tenant_id

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None:
        response = await self._graph.call(
            "GET",
            f"/users/{quote(email)}?$select=id,displayName,mail,userPrincipalName",
            mailbox=self._mailbox,
        )
        if not response.ok:
            return None
        b = response.body
        address = str(b.get("mail") or b.get("userPrincipalName") or email)
        return DirectoryEntry(address, str(b.get("displayName") or address), str(b.get("id", "")))

    async def is_user(self, address: str) -> bool | None:
        """Whether `address` names a user of this directory (`GET /users/{address}`);
        None when Graph did not answer, so the caller can ask again later."""
        response = await self._graph.call(
            "GET", f"/users/{quote(address)}?$select=id", mailbox=self._mailbox
        )
        if is_passing_failure(response.status):
            return None
        return response.ok
