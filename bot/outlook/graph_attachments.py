"""Microsoft Graph: the photos and files of one mail put on its draft in the service mailbox.

Each item of at most `ATTACH_ONE_REQUEST` bytes is added as a fileAttachment in one
request (a picture inline, its `contentId` named by the body's `cid:`); a larger one
through an upload session, its bytes PUT in chunks to the pre-authenticated `uploadUrl`
without our token. Adding an item is not retried except after a 429 (a repeated POST
would attach it twice) and a chunk is not retried at all (the session expects its bytes
in order): the first failure fails the whole draft.

The draft is not sent here: `bot.outlook.graph` sends it, once, only when every item is
on it, and deletes (`discard`) a draft whose items could not all be added, to make it
again on the next attempt. Items beyond `ATTACH_TOTAL_BYTES` in all are only linked.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.graph.client import GraphClient, GraphResponse
from bot.outlook.card import MailItem, Shown

log = logging.getLogger("send.graph")

# Graph: a file of up to 3 MB is attached in one request, larger ones (to 150 MB)
# through an upload session, whose chunks are multiples of 320 KiB of at most 4 MiB.
ATTACH_ONE_REQUEST = 3 * 1024 * 1024
ATTACH_MOST = 150 * 1024 * 1024
# Exchange Online's default message size limit is 35 MB, base64 included.
ATTACH_TOTAL_BYTES = 25 * 1024 * 1024
UPLOAD_CHUNK = 10 * 320 * 1024


@dataclass(frozen=True)
class Carried:
    """The items of one mail and the bytes of those it carries (b"" for a link)."""

    items: tuple[MailItem, ...]
    contents: tuple[bytes, ...]

    @property
    def any(self) -> bool:
        return any(i.shown is not Shown.LINKED for i in self.items)


class DraftAttachments:
    """Puts a mail's carried items on its draft in the service mailbox, or deletes it."""

    def __init__(self, graph: GraphClient, sender: str) -> None:
        self._graph = graph
        self._sender = sender
        self._user = f"/users/{quote(sender)}"

    async def attach_all(self, draft_id: str, carried: Carried) -> GraphResponse:
        """Puts every carried item on the draft; the first failure, else the last success."""
        done = GraphResponse(200, {})
        for item, data in zip(carried.items, carried.contents, strict=True):
            if item.shown is Shown.LINKED:
                continue
            if len(data) <= ATTACH_ONE_REQUEST:
                done = await self._attach_small(draft_id, item, data)
            else:
                done = await self._attach_large(draft_id, item, data)
            if not done.ok:
                return done
        return done

    async def _attach_small(self, draft_id: str, item: MailItem, data: bytes) -> GraphResponse:
        attachment: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": item.media.item.name,
            "contentType": item.media.item.content_type,
            "contentBytes": base64.b64encode(data).decode("ascii"),
        }
        if item.shown is Shown.INLINE:
            attachment |= {"isInline": True, "contentId": item.content_id}
        return await self._graph.call(
            "POST",
            f"{self._user}/messages/{quote(draft_id, safe='')}/attachments",
            mailbox=self._sender,
            idempotent=False,  # a repeated POST would attach it twice
            json=attachment,
        )

    async def _attach_large(self, draft_id: str, item: MailItem, data: bytes) -> GraphResponse:
        attachment: dict[str, Any] = {
            "attachmentType": "file",
            "name": item.media.item.name,
            "size": len(data),
            "contentType": item.media.item.content_type,
        }
        if item.shown is Shown.INLINE:
            attachment |= {"isInline": True, "contentId": item.content_id}
        session = await self._graph.call(
            "POST",
            f"{self._user}/messages/{quote(draft_id, safe='')}/attachments/createUploadSession",
            mailbox=self._sender,
            json={"AttachmentItem": attachment},
        )
        url = str(session.body.get("uploadUrl") or "")
        if not session.ok or not url:
            return session if not session.ok else GraphResponse(502, {})
        put = GraphResponse(0, {})
        for start in range(0, len(data), UPLOAD_CHUNK):
            chunk = data[start : start + UPLOAD_CHUNK]
            put = await self._graph.upload(url, chunk, start, len(data), mailbox=self._sender)
            if not put.ok:
                return put
        if put.status != 201:  # the last chunk makes the attachment: 201 Created
            log.warning("graph upload session did not finish", extra={"status": put.status})
            return GraphResponse(502, {})
        return put

    async def discard(self, draft_id: str) -> None:
        """Deletes a draft that will not be sent (its items are not all on it)."""
        await self._graph.call(
            "DELETE", f"{self._user}/messages/{quote(draft_id, safe='')}", mailbox=self._sender
        )
