"""Reply addresses: the service mailbox plus a signed tag naming a group and what a
reply to it does.

A mail's answer links (`mailto:`) open a reply to `send+<tag>@contoso.com`. Exchange
Online delivers plus-addressed mail to the mailbox itself, and the tag says which group
the mail is for without trusting its subject or its words: the group's id, then either
nothing (a reply is a message), one byte naming a change (mute, Outlook copies off,
leave), or the first five bytes of a poll's id and an option's number (a reply is that
vote). An HMAC-SHA256 of five bytes follows, all in lower-case base32 because mail
clients and servers may change the case of an address. Five bytes of MAC are enough: a
mail still counts only when Exchange vouches for its sender and that sender is a member
of the group.

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

from bot.core.features.manage import Manage

_LOCAL_PART_MOST = 64
_MAC_BYTES = 5
_GROUP_BYTES = 16
_POLL_BYTES = 5
# The changes a reply address can make, by their byte (never renumber: links are out).
CHANGES = {1: Manage.MUTE, 2: Manage.OUTLOOK_OFF, 3: Manage.LEAVE}
_CHANGE_BYTE = {change: byte for byte, change in CHANGES.items()}
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_TAG = re.compile(r"[a-z2-7]{1,60}")


@dataclass(frozen=True)
class ReplyTarget:
    """What a reply address names: a group, and what a reply to it does there (a change,
    or a vote for `option` of the poll whose id starts with `poll_prefix`)."""

    group_id: str
    change: Manage | None = None
    poll_prefix: str = ""  # hex; "" when the address names no poll
    option: int = 0

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

    def address(self, group_id: str) -> str:
        """The address whose mail is a message to the group ("" when none can be made)."""
        return self._made(group_id, b"")

    def change_address(self, group_id: str, change: Manage) -> str:
        """The address whose mail makes `change` for its sender."""
        return self._made(group_id, bytes([_CHANGE_BYTE[change]]))

    def vote_address(self, group_id: str, poll_id: str, option: int) -> str:
        """The address whose mail is its sender's vote for `option` of that poll."""
        if not _HEX_ID.fullmatch(poll_id) or not 0 <= option < 256:
            return ""
        return self._made(group_id, bytes.fromhex(poll_id)[:_POLL_BYTES] + bytes([option]))

    def _made(self, group_id: str, what: bytes) -> str:
        """ "" for ids Send did not make, or a mailbox name too long for a tag."""
        if not self._local or not _HEX_ID.fullmatch(group_id):
            return ""
        payload = bytes.fromhex(group_id) + what
        local = f"{self._local}+{_b32(payload + self._mac(payload))}"
        if len(local) > _LOCAL_PART_MOST:
            return ""
        return f"{local}@{self._domain}"

    def read(self, address: str) -> ReplyTarget | None:
        """What an address names; None for any address that is not one of this mailbox's
        reply addresses with a tag it signed."""
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
        if len(payload) < _GROUP_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        group, what = payload[:_GROUP_BYTES].hex(), payload[_GROUP_BYTES:]
        if not what:
            return ReplyTarget(group)
        if len(what) == 1 and what[0] in CHANGES:
            return ReplyTarget(group, change=CHANGES[what[0]])
        if len(what) == _POLL_BYTES + 1:
            return ReplyTarget(group, poll_prefix=what[:_POLL_BYTES].hex(), option=what[-1])
        return None


def mailto(address: str, subject: str, body: str) -> str:
    """A `mailto:` link (RFC 6068) that opens a reply with this subject and body."""
    return f"mailto:{quote(address, safe='@+')}?subject={quote(subject)}&body={quote(body)}"
