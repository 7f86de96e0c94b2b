"""The copies' HTTP client (`bot/teams/posts.py`) against a local server: the answer's
status, Retry-After and body as sent, https trusted through `SSL_CERT_FILE` as the
app's aiohttp session trusts it, and a connection that fails as `PostFailed`."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.teams.posts import PostFailed, Posts
from tests.fakes.server import LocalServer
from tests.fakes.tls import TlsFiles
from tests.services import free_port
from tests.waiting import wait_until

# The connection ends with the answer, so the server stops with no connection open (one
# still open at the end of a test is left to the garbage collector, which warns).
ONCE = {"Connection": "close"}


class Echo(LocalServer):
    def __init__(self, tls: TlsFiles | None = None) -> None:
        super().__init__(ssl_context=tls.server if tls else None)
        self.seen: list[tuple[str, bytes, str]] = []

    def app(self) -> web.Application:
        async def activities(request: web.Request) -> web.Response:
            body = await request.read()
            self.seen.append((request.raw_path, body, request.headers.get("Authorization", "")))
            if body == b"go elsewhere":
                raise web.HTTPTemporaryRedirect("/elsewhere")
            if body == b"slow down":
                return web.json_response({}, status=429, headers={"Retry-After": "7"})
            return web.json_response({"id": "1:copy"}, status=201)

        app = web.Application()
        app.router.add_post("/v3/conversations/{chat}/activities", activities)
        app.router.add_post("/elsewhere", activities)
        return app

    async def closed_by_client(self) -> None:
        """Returns once no connection from a client is open: the server then stops with
        nothing half-closed (a TLS connection still open at the end of a test is left
        for the garbage collector, which warns)."""
        assert self._runner is not None and self._runner.server is not None
        server = self._runner.server
        await wait_until(lambda: not server.connections, 5, "the connections closed")


async def test_an_answer_as_the_server_sent_it() -> None:
    async with Echo() as server:
        posts = Posts()
        try:
            url = f"{server.origin}/v3/conversations/a%3A1chat/activities"
            sent = await posts.post(url, b'{"type":"message"}', {"Authorization": "Bearer t"})
            moved = await posts.post(url, b"go elsewhere", {"Authorization": "Bearer t"})
            refused = await posts.post(url, b"slow down", ONCE)
        finally:
            await posts.close()
        await server.closed_by_client()
    assert (sent.status, sent.body, sent.retry_after) == (201, b'{"id": "1:copy"}', None)
    assert (refused.status, refused.retry_after) == (429, "7")
    # A redirect is not followed: the token goes nowhere else, and 307 is the answer.
    assert moved.status == 307
    assert [path for path, _, _ in server.seen].count("/elsewhere") == 0
    # The chat id stays escaped in the path, and the headers arrive.
    assert server.seen[0] == (
        "/v3/conversations/a%3A1chat/activities",
        b'{"type":"message"}',
        "Bearer t",
    )


async def test_https_trusts_what_ssl_cert_file_names(tls: TlsFiles) -> None:
    async with Echo(tls) as server:
        posts = Posts()  # made after the tls fixture set SSL_CERT_FILE, as the app's is
        try:
            answer = await posts.post(f"{server.origin}/v3/conversations/a/activities", b"{}", ONCE)
        finally:
            await posts.close()
        await server.closed_by_client()
    assert answer.status == 201


async def test_no_server_is_a_failed_post() -> None:
    posts = Posts()
    try:
        with pytest.raises(PostFailed):
            await posts.post(
                f"http://127.0.0.1:{free_port()}/v3/conversations/a/activities", b"{}", {}
            )
    finally:
        await posts.close()
