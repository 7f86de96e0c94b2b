"""New activities' POSTs to the Bot Connector, on pyreqwest (Rust's reqwest and hyper).

A relayed message is one POST per member, and every command one reply, so that request is
Send's hottest path: through aiohttp it cost about 0.33 ms of CPU, through pyreqwest about
0.19 ms (measured on the project's machine; the app's CPU per delivered copy fell by a
fifth, and `help` went from about 700 to 880 answers a second). Everything else (card
updates, deletes, rosters, Graph) stays on the app's aiohttp session.

Like that session, the client uses no proxy from the environment, times out after 30 s,
keeps at most 200 requests in flight, and trusts the certificate authorities of
`SSL_CERT_FILE` beside its own (Mozilla's, through rustls); it follows no redirect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import PyreqwestError

TIMEOUT = timedelta(seconds=30)
IN_FLIGHT = 200


class PostFailed(Exception):
    """The request did not get an answer (connection, timeout)."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    body: bytes


class Posts:
    def __init__(self) -> None:
        # No redirect is followed: the Bot Connector answers a copy itself, and a redirect
        # would carry the bot's token elsewhere (a 3xx is a refusal, as any non-2xx).
        builder = (
            ClientBuilder()
            .no_proxy()
            .follow_redirects(False)
            .timeout(TIMEOUT)
            .max_connections(IN_FLIGHT)
        )
        extra = os.environ.get("SSL_CERT_FILE", "")
        if extra and Path(extra).is_file():
            builder = builder.add_root_certificate_pem(Path(extra).read_bytes())
        self._client: Client = builder.build()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            response = await self._client.post(url).headers(headers).body_bytes(body).build().send()
            return Answer(
                response.status,
                response.get_header("Retry-After"),
                bytes(await response.bytes()),
            )
        except PyreqwestError as error:
            raise PostFailed(type(error).__name__) from error

    async def close(self) -> None:
        await self._client.close()
