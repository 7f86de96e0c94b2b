"""Signed, time-limited download links:
`<PUBLIC_BASE_URL>/media/<media id>?t=…&g=…&m=…&v=…&e=…&s=…`.

A link names where the item is (tenant `t`, group `g`, message `m`), the one person it
was made for (`v`, their person id) and when it stops working (`e`, Unix seconds); `s`
is HMAC-SHA256 over all of them and the media id, with a key the app keeps in its
store. Whoever serves the link still checks that the viewer may see the message now (a
removed member's links stop working): the signature only proves the link is ours,
unchanged and fresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode

from bot.core.model import StoredMedia
from bot.core.ports import Clock
from bot.media.naming import is_media_id

DEFAULT_LIFETIME = timedelta(days=7)
_PURPOSE = b"send-media-link-v2"  # a key reused elsewhere cannot sign one of these
_MAX_VIEWER_CHARS = 512
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes in unpadded base64url


@dataclass(frozen=True)
class LinkGrant:
    tenant_id: str
    group_id: str
    message_id: str
    media_id: str
    viewer_id: str
    expires_at: datetime


class LinkProblem(StrEnum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad signature"
    EXPIRED = "expired"


@dataclass(frozen=True)
class LinkRefusal:
    problem: LinkProblem


class MediaLinks:
    def __init__(
        self,
        public_base_url: str,
        key: bytes,
        clock: Clock,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        if len(key) < 16:
            raise ValueError("a link signing key needs at least 128 bits")
        self._base = public_base_url.rstrip("/")
        self._key = key
        self._clock = clock
        self._lifetime = lifetime

    def link(
        self, item: StoredMedia, message_id: str, viewer_id: str, lifetime: timedelta | None = None
    ) -> str:
        media_id = item.media_id
        if not is_media_id(media_id):
            raise ValueError(f"not a media id: {media_id!r}")
        if not viewer_id or len(viewer_id) > _MAX_VIEWER_CHARS:
            raise ValueError("a link needs a viewer id of at most 512 characters")
        where = (item.tenant_id, item.group_id, message_id)
        if not all(where) or any(len(w) > _MAX_VIEWER_CHARS for w in where):
            raise ValueError("a link needs a tenant, group and message id")
        expires = str(int((self._clock.now() + (lifetime or self._lifetime)).timestamp()))
        signature = _b64(self._sign(*where, media_id, viewer_id, expires))
        query = urlencode(
            {"t": where[0], "g": where[1], "m": where[2], "v": viewer_id, "e": expires}
            | {"s": signature}
        )
        return f"{self._base}/media/{quote(media_id)}?{query}"

    def verify(self, media_id: str, query: Mapping[str, str]) -> LinkGrant | LinkRefusal:
        """`media_id` from the path, `query` its parameters, as the web server parsed them."""
        where = (query.get("t") or "", query.get("g") or "", query.get("m") or "")
        viewer, expires_text = query.get("v"), query.get("e")
        signature_text = query.get("s") or ""
        if (
            not is_media_id(media_id)
            or not all(where)
            or any(len(w) > _MAX_VIEWER_CHARS for w in where)
            or not viewer
            or len(viewer) > _MAX_VIEWER_CHARS
            or not expires_text
            or not (expires_text.isascii() and expires_text.isdigit())
            or len(expires_text) > 11
            or not _SIGNATURE.fullmatch(signature_text)
        ):
            return LinkRefusal(LinkProblem.MALFORMED)
        # Compared as text: a second spelling of the same bytes (base64's spare bits, a
        # leading zero in the expiry) is no valid link.
        expected = _b64(self._sign(*where, media_id, viewer, expires_text))
        if not hmac.compare_digest(expected.encode(), signature_text.encode()):
            return LinkRefusal(LinkProblem.BAD_SIGNATURE)
        expires = int(expires_text)
        # Expiry after the signature: "expired" is said only of links that are really ours.
        if self._clock.now().timestamp() >= expires:
            return LinkRefusal(LinkProblem.EXPIRED)
        return LinkGrant(*where, media_id, viewer, datetime.fromtimestamp(expires, UTC))

    def _sign(self, *fields: str) -> bytes:
        # Each field with its length in front: no two different lists sign alike.
        message = bytearray(_PURPOSE)
        for field in fields:
            raw = field.encode()
            message += struct.pack(">I", len(raw)) + raw
        return hmac.new(self._key, bytes(message), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
