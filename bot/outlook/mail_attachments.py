"""A mail's photos and files, read from Graph as uploads for `Media`: its
fileAttachments, an inline one only when the new part of the mail shows it by `cid:`
(so quoted pictures and signatures stay out)."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any
from urllib.parse import quote

from bot.core.features.media import Upload
from bot.core.model import Group
from bot.graph.client import GraphClient
from bot.http_status import is_passing_failure
from bot.outlook.mail_checks import NotNow, relative

log = logging.getLogger("send.outlook.inbound")

_FILE_ATTACHMENT = "#microsoft.graph.fileattachment"


class MailAttachments:
    def __init__(self, graph: GraphClient, mailbox: str) -> None:
        self._graph = graph
        self._mailbox = mailbox.lower()
        self._user = f"/users/{quote(mailbox)}"

    async def uploads(self, mail: dict[str, Any], content: str, group: Group) -> list[Upload]:
        """The mail's files, and its pictures the new part shows (`cid:` in `content`).
        Graph's hasAttachments leaves out inline pictures, so a `cid:` is a reason to look."""
        shows = content.lower()
        if mail.get("hasAttachments") is False and "cid:" not in shows:
            return []
        mail_id = str(mail.get("id", ""))
        path = f"{self._user}/messages/{quote(mail_id, safe='')}/attachments"
        uploads: list[Upload] = []
        while path:
            page = await self._graph.call("GET", path, mailbox=self._mailbox)
            if is_passing_failure(page.status):
                raise NotNow
            if not page.ok:
                return uploads  # gone meanwhile: its text is what there is
            for attachment in page.body.get("value") or []:
                upload = self._upload_of(attachment, shows, group, mail_id)
                if upload is not None:
                    uploads.append(upload)
            next_link = page.body.get("@odata.nextLink")
            path = relative(str(next_link)) if next_link else ""
        return uploads

    @staticmethod
    def _upload_of(attachment: Any, shows: str, group: Group, mail_id: str) -> Upload | None:
        if not isinstance(attachment, dict):
            return None
        kind = str(attachment.get("@odata.type", "")).lower()
        where = {"group_id": group.group_id, "mail_id": mail_id}
        if kind != _FILE_ATTACHMENT:
            # An attached mail or a cloud link: nothing Send can take as a photo or file.
            log.info("outlook attachment skipped", extra={**where, "kind": kind[:60]})
            return None
        if attachment.get("isInline"):
            content_id = str(attachment.get("contentId") or "").strip("<>").lower()
            if not content_id or f"cid:{content_id}" not in shows:
                return None  # a quoted picture or a signature, not part of this answer
        try:
            data = base64.b64decode(str(attachment.get("contentBytes") or ""), validate=True)
        except (binascii.Error, ValueError):
            log.warning("outlook attachment unreadable", extra=where)
            return None
        name = str(attachment.get("name") or "attachment")
        return Upload(name, data)
