"""Card tokens: an opaque, server-signed value in each card that names its group and expires.

HMAC-SHA256 over a small JSON payload. The key lives in the store (created on
first start), so every instance and every restart signs and checks alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

CARD_TOKEN_LIFETIME = timedelta(days=30)


class CardTokenError(Exception):
    """The card token is malformed, tampered with, or expired (the text says which)."""


@dataclass(frozen=True)
class CardClaim:
    tenant_id: str
    group_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CardTokens:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("card token key must have at least 32 bytes")
        self._key = key

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def sign(self, tenant_id: str, group_id: str, now: datetime) -> str:
        expires = int((now + CARD_TOKEN_LIFETIME).timestamp())
        body = json.dumps(
            {"v": 1, "t": tenant_id, "g": group_id, "exp": expires}, separators=(",", ":")
        )
        payload = _b64(body.encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: datetime) -> CardClaim:
        payload, dot, mac = token.partition(".")
        # compare_digest takes ASCII strings only (TypeError otherwise); a token Send
        # signed is all ASCII, so anything else is simply not one of ours.
        if not dot or not token.isascii() or not hmac.compare_digest(mac, self._mac(payload)):
            raise CardTokenError("the card token is not one this service signed")
        try:
            body = json.loads(_unb64(payload))
            claim = CardClaim(
                str(body["t"]), str(body["g"]), datetime.fromtimestamp(int(body["exp"]), now.tzinfo)
            )
        except (ValueError, KeyError, TypeError):
            raise CardTokenError("the card token is malformed") from None
        if claim.expires_at <= now:
            raise CardTokenError("the card has expired; answer from a newer message")
        return claim
