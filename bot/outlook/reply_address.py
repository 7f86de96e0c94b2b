"""Reply addresses: the service mailbox plus a signed tag naming a group (and a poll).

A mail's answer links (`mailto:`) open a reply to `send+<tag>@contoso.com`. Exchange
Online delivers plus-addressed mail to the mailbox itself, and the tag says which group
the mail is for without trusting its subject: the group's id (and the first five bytes
of a poll's id) with an HMAC-SHA256 tag of five bytes, in lower-case base32 because
mail clients and servers may change the case of an address. Five bytes of MAC are
enough: the tag only names a group, and a mail still counts only when Exchange vouches
for its sender and that sender is a member of the group.

An address's local part holds at most 64 characters (RFC 5321 4.5.3.1.1); a mailbox
whose name leaves no room for a tag gets no answer links (the card still answers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

_LOCAL_PART_MOST = 64
_MAC_BYTES = 5
_GROUP_BYTES = 16
_POLL_BYTES = 5
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_TAG = re.compile(r"[a-z2-7]{1,60}")


@dataclass(frozen=True)
class ReplyTarget:
    """What a reply address names: a group, and a poll of it by the start of its id."""

    group_id: str
    poll_prefix: str = ""  # hex; "" when the address names no poll

    def is_poll(self, message_id: str) -> bool:
        return bool(self.poll_prefix) and message_id.startswith(self.poll_prefix)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


class ReplyAddresses:
    def __init__(self, mailbox: str, key: bytes) -> None:
        local, at, domain = mailbox.strip().rpartition("@")
        self._local = local if at else ""
        self._domain = domain if at else ""
        self._mailbox = mailbox.strip().lower()
        self._key = hmac.new(key, b"send reply address", hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def address(self, group_id: str, poll_id: str = "") -> str:
        """The reply address of a group (of a poll of it when `poll_id`), or "" when none
        can be made (ids Send did not make, or a mailbox name too long for a tag)."""
        if not self._local or not _HEX_ID.fullmatch(group_id):
            return ""
        payload = bytes.fromhex(group_id)
        if poll_id:
            if not _HEX_ID.fullmatch(poll_id):
                return ""
            payload += bytes.fromhex(poll_id)[:_POLL_BYTES]
        local = f"{self._local}+{_b32(payload + self._mac(payload))}"
        if len(local) > _LOCAL_PART_MOST:
            return ""
        return f"{local}@{self._domain}"

    def read(self, address: str) -> ReplyTarget | None:
        """The group (and poll) an address names; None for any address that is not one of
        this mailbox's reply addresses with a tag it signed."""
        local, at, domain = address.strip().lower().rpartition("@")
        base, plus, tag = local.partition("+")
        mine = f"{base}@{domain}" == self._mailbox
        if not at or not plus or not mine or not _TAG.fullmatch(tag):
            return None
        try:
            data = _unb32(tag)
        except (binascii.Error, ValueError):
            return None
        payload, mac = data[:-_MAC_BYTES], data[-_MAC_BYTES:]
        if len(payload) not in (_GROUP_BYTES, _GROUP_BYTES + _POLL_BYTES):
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        return ReplyTarget(payload[:_GROUP_BYTES].hex(), payload[_GROUP_BYTES:].hex())


def mailto(address: str, subject: str, body: str) -> str:
    """A `mailto:` link (RFC 6068) that opens a reply with this subject and body."""
    return f"mailto:{quote(address, safe='@+')}?subject={quote(subject)}&body={quote(body)}"
