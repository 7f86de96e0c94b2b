"""The fake Graph's attachments are as strict as Graph's: sizes, upload sessions, uploadUrl."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import OUTLOOK_SENDER, graph_credentials
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import CHUNK_UNIT, FakeGraph

SENDER = OUTLOOK_SENDER
MB = 1024 * 1024


@pytest.fixture
async def auth(entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[dict[str, str]]:
    graph.add_user(SENDER)
    graph.add_user("bob@contoso.com")
    async with graph_credentials(entra) as credentials:
        yield await credentials.header()


async def post(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str], body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    data = io.BytesIO(json.dumps(body).encode())  # megabytes: streamed, as the product does
    headers = {**auth, "Content-Type": "application/json"}
    async with http.post(url, data=data, headers=headers) as r:
        return r.status, (await r.json() if r.content_length else {})


async def draft(http: aiohttp.ClientSession, graph: FakeGraph, auth: dict[str, str]) -> str:
    body = {"subject": "s", "toRecipients": [{"emailAddress": {"address": "bob@contoso.com"}}]}
    status, made = await post(http, f"{graph.base_url}/users/{SENDER}/messages", auth, body)
    assert status == 201
    return str(made["id"])


def file_attachment(data: bytes) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "a.bin",
        "contentType": "application/octet-stream",
        "contentBytes": base64.b64encode(data).decode(),
    }


async def test_a_file_over_3_mb_is_refused_in_one_request(
    graph: FakeGraph, auth: dict[str, str]
) -> None:
    async with aiohttp.ClientSession() as http:
        message = await draft(http, graph, auth)
        url = f"{graph.base_url}/users/{SENDER}/messages/{message}/attachments"
        status, answer = await post(http, url, auth, file_attachment(bytes(3_000_001)))
        assert status == 413 and answer["error"]["code"] == "ErrorRequestEntityTooLarge"
        status, _ = await post(http, url, auth, file_attachment(bytes(3_000_000)))
        assert status == 201
    (kept,) = graph.attachments(graph.drafts(SENDER)[0])
    assert kept.data == bytes(3_000_000)


async def test_upload_sessions_are_checked_as_graph_checks_them(
    graph: FakeGraph, auth: dict[str, str]
) -> None:
    data = bytes(range(256)) * (5 * MB // 256)
    async with aiohttp.ClientSession() as http:
        message = await draft(http, graph, auth)
        base = f"{graph.base_url}/users/{SENDER}/messages/{message}"
        small = {"AttachmentItem": {"attachmentType": "file", "name": "a", "size": 2 * MB}}
        status, answer = await post(http, f"{base}/attachments/createUploadSession", auth, small)
        code = answer["error"]["code"]
        assert (status, code) == (400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize")
        item = {"AttachmentItem": {"attachmentType": "file", "name": "a.pdf", "size": len(data)}}
        status, session = await post(http, f"{base}/attachments/createUploadSession", auth, item)
        assert status == 201 and session["nextExpectedRanges"] == ["0-"]
        url = session["uploadUrl"]

        def span(first: int, last: int) -> dict[str, str]:
            return {"Content-Range": f"bytes {first}-{last}/{len(data)}"}

        async with http.put(
            url, data=data[:CHUNK_UNIT], headers={**auth, **span(0, CHUNK_UNIT - 1)}
        ) as r:
            assert r.status == 401  # pre-authenticated: a bearer token is refused
        async with http.put(url, data=data[:1000], headers=span(0, 999)) as r:
            assert r.status == 400  # not a multiple of 320 KiB, and not the last chunk
        async with http.put(
            url,
            data=data[CHUNK_UNIT : 2 * CHUNK_UNIT],
            headers=span(CHUNK_UNIT, 2 * CHUNK_UNIT - 1),
        ) as r:
            assert r.status == 416  # not the next bytes
        async with http.put(url, data=data[:CHUNK_UNIT], headers=span(0, CHUNK_UNIT - 1)) as r:
            assert r.status == 200 and (await r.json())["nextExpectedRanges"] == [str(CHUNK_UNIT)]
        # Sent before the upload finished: the mail goes without the file.
        async with http.post(f"{base}/send", headers=auth) as r:
            assert r.status == 202
        (sent,) = graph.sent(SENDER)
        assert graph.attachments(sent) == [] and sent["hasAttachments"] is False
        # An upload session on a message that is no draft is refused.
        status, _ = await post(http, f"{base}/attachments/createUploadSession", auth, item)
        assert status == 400
