"""Thread-Index: the conversation index Outlook groups mail by (MS-OXOMSG section 2.2.1.3,
PidTagConversationIndex), base64 in the mail header.

A root is the 22-byte Conversation Index Header: a reserved byte 0x01; the FILETIME of the
first mail (100-ns ticks since 1601, UTC) without its 24 least significant bits, as five
big-endian bytes; and a 16-byte GUID naming the conversation. Each reply appends a 5-byte
Response Level: a delta code bit (DC) and 31 bits of TimeDiff, the time since the header's
time (TimeDiff >> 18, or >> 23 with DC set once it reaches about 1.7 years), then an 8-bit
random field, zero here so a retried mail gets the same value.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

# How finely the header keeps its time: 2**24 ticks of 100 ns.
RESOLUTION = timedelta(microseconds=(1 << 24) / 10)

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_HEADER = 22
_LEVEL = 5
# The spec's test: the high 32 bits of TimeDiff ANDed with 0x00FE0000 are not 0 (≥ 2**49 ticks).
_LONG_DIFF = 0x00FE0000 << 32
_31_BITS = 0x7FFF_FFFF


def _ticks(at: datetime) -> int:
    if at.utcoffset() is None:
        raise ValueError("a Thread-Index time needs its time zone")
    ticks = (at - _EPOCH) // timedelta(microseconds=1) * 10
    if ticks < 0:
        raise ValueError("a FILETIME starts in 1601")
    return ticks


def _decoded(value: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError as error:  # binascii.Error is a ValueError, as is a non-ASCII str
        raise ValueError(f"not a Thread-Index: {value[:40]!r}") from error
    if len(data) < _HEADER or (len(data) - _HEADER) % _LEVEL:
        raise ValueError(f"not a Thread-Index: {len(data)} bytes")
    return data


def _header_ticks(data: bytes) -> int:
    return int.from_bytes(data[1:6], "big") << 24


def root_index(at: datetime, guid: bytes) -> str:
    """The Thread-Index of a conversation's first mail, written at `at`."""
    if len(guid) != 16:
        raise ValueError("a conversation GUID has 16 bytes")
    header = b"\x01" + (_ticks(at) >> 24).to_bytes(5, "big") + guid
    return base64.b64encode(header).decode("ascii")


# A header line holds at most 998 characters: 100 replies deep is 522 bytes, 696 in
# base64. Deeper replies stay at that depth (a sibling of the 100th): the conversation's
# GUID, which is what groups it, is kept.
MOST_REPLIES = 100


def child_index(parent: str, at: datetime) -> str:
    """The Thread-Index of a reply, written at `at`, to the mail whose index is `parent`."""
    data = _decoded(parent)
    data = data[: _HEADER + _LEVEL * (MOST_REPLIES - 1)]
    # A reply stamped before the header's time (clock skew) still gets a valid block: 0, not <0.
    diff = max(0, _ticks(at) - _header_ticks(data))
    if diff & _LONG_DIFF:
        level = (1 << 39) | ((diff >> 23) & _31_BITS) << 8
    else:
        level = ((diff >> 18) & _31_BITS) << 8
    return base64.b64encode(data + level.to_bytes(_LEVEL, "big")).decode("ascii")


def read_index(value: str) -> tuple[datetime, bytes, int]:
    """The header's time (to RESOLUTION), its GUID and the number of Response Levels."""
    data = _decoded(value)
    # Rounded up to the microsecond so that root_index of this time gives the same bytes.
    micros = -(-_header_ticks(data) // 10)
    return _EPOCH + timedelta(microseconds=micros), data[6:_HEADER], (len(data) - _HEADER) // _LEVEL
