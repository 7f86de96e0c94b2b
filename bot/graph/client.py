"""Microsoft Graph's client: one pooled aiohttp session and one MSAL client (client
credentials) for every call.

429, 503 and 504 are retried a few times, never before Retry-After; at most 4
requests run at once against one mailbox (Exchange's concurrency limit).

A request that is not `idempotent` (a `send`, a `reply`, a POST that makes a draft or
attaches an item) is retried only after a 429, the one answer that says it was not
performed; an upload session's chunk (`upload`) is not retried at all. A `GraphResponse`
says whether a failed request may have been performed anyway (`unsure`): what
`bot.outlook.graph` does then to send a mail at most once is told there.
"""

from __future__ import annotations

import asyncio
import io
import json as json_module
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.http_status import is_passing_failure, retry_after_seconds
from bot.identity import ClientCredentials, CredentialError

log = logging.getLogger("send.graph")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAILBOX_CONCURRENCY = 4


@dataclass(frozen=True)
class GraphResponse:
    status: int  # 0: no answer (connection refused or reset, timed out, unreadable)
    body: dict[str, Any]
    retry_after: float = 0.0
    request_id: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unsure(self) -> bool:
        """Whether a request that changes something may have been performed anyway: no
        answer, or a server-side failure (a gateway's 504 while the mailbox went on)."""
        return self.status == 0 or self.status >= 500


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
        idempotent: bool = True,
    ) -> GraphResponse:
        """One Graph request, retried a few times on a passing failure. Not `idempotent`
        (a send): retried only after a 429, the one answer that says it was not done."""
        response = GraphResponse(0, {})
        for attempt in range(1, self._attempts + 1):
            async with self._mailboxes[mailbox.lower()]:
                response = await self._once(method, path, json, headers)
            if not is_passing_failure(response.status) or attempt == self._attempts:
                break
            if not idempotent and response.status != 429:
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
            sent = {**auth, **(headers or {})}
            body = None
            if json is not None:
                # A file attachment makes a body of megabytes: streamed, not one bytes object.
                body = io.BytesIO(json_module.dumps(json).encode())
                sent["Content-Type"] = "application/json"
            async with self._session.request(
                method, f"{self._endpoint}{path}", data=body, headers=sent
            ) as r:
                return await _answer_of(r)
        except CredentialError as error:
            log.error("graph token refused", extra={"reason": str(error)[:200]})
            return GraphResponse(503, {})
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("graph unreachable", extra={"error": type(error).__name__})
            return GraphResponse(0, {})

    async def upload(
        self, url: str, chunk: bytes, start: int, total: int, *, mailbox: str
    ) -> GraphResponse:
        """One chunk to an upload session's pre-authenticated `uploadUrl`: no token (Graph
        refuses one there), the byte range in Content-Range. Not retried: the session
        expects its bytes in order, so a failed upload is made again from the start."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}",
        }
        try:
            async with (
                self._mailboxes[mailbox.lower()],
                self._session.put(url, data=io.BytesIO(chunk), headers=headers) as r,
            ):
                response = await _answer_of(r)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("graph upload unreachable", extra={"error": type(error).__name__})
            return GraphResponse(0, {})
        if not response.ok:
            log.warning(
                "graph upload failed",
                extra={"status": response.status, "graph_request_id": response.request_id},
            )
        return response


async def _answer_of(r: aiohttp.ClientResponse) -> GraphResponse:
    text = await r.text()
    body: Any = json_module.loads(text) if text.strip() else {}
    return GraphResponse(
        r.status,
        body if isinstance(body, dict) else {},
        retry_after_seconds(r.headers.get("Retry-After")),
        r.headers.get("request-id", ""),
    )
