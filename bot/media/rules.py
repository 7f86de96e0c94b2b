"""What Send stores: decided by content and size, then cleaned (CONTRACT §1, issue 15).

`check` is the whole decision, with a one-line reason for the sender when it says no.
It is pure and CPU-bound (a JPEG is decoded and re-encoded): the stores run it through
`Checks`, in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from bot.media import strip
from bot.media.naming import clean_name, extension, shown_name
from bot.media.ports import MediaKind, MediaRefused, StoredMedia
from bot.media.sniff import ACCEPTED, CSV, TEXT, Foreign, Format, sniff

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # MAX_MEDIA_BYTES
_KB, _MB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Accepted:
    """What to store: the cleaned bytes and what they are."""

    data: bytes
    content_type: str
    kind: MediaKind
    name: str  # the sender's name, cleaned for display
    sha256: str

    def stored(self, media_id: str, tenant_id: str, group_id: str) -> StoredMedia:
        """The reference a store keeps once these bytes are written under `media_id`."""
        return StoredMedia(
            media_id=media_id,
            group_id=group_id,
            tenant_id=tenant_id,
            content_type=self.content_type,
            size=len(self.data),
            name=self.name,
            kind=self.kind,
            sha256=self.sha256,
        )


class Checks:
    """`check` off the event loop, a few at a time: decoding a large photo takes a few
    hundred MB for a moment, and a burst of pasted pictures must not take them all at once."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, at_once: int = 2) -> None:
        self.max_bytes = max_bytes
        self._gate = asyncio.Semaphore(at_once)

    async def run(self, name: str, data: bytes) -> Accepted:
        async with self._gate:
            return await asyncio.to_thread(check, name, data, self.max_bytes)


def check(name: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Accepted:
    """Accepts `data` as a picture or a document, or raises MediaRefused with the reason."""
    shown = shown_name(name)
    if not data:
        raise MediaRefused(f"{shown} is empty.")
    if len(data) > max_bytes:
        size, limit = size_text(len(data)), size_text(max_bytes)
        if size == limit:  # 10 MB and a byte: say it exactly rather than "10 MB; limit 10 MB"
            size, limit = f"{len(data):,} bytes", f"{max_bytes:,} bytes"
        raise MediaRefused(f"{shown} is {size}; the limit is {limit}.")
    found = sniff(data)
    if isinstance(found, Foreign):
        what = f" (it is {found.label})" if found.label else ""
        raise MediaRefused(f"{shown} is not a picture or a document Send accepts{what}.")
    ext = extension(name)
    if found is TEXT and ext in CSV.extensions:
        found = CSV
    _check_name(shown, ext, found)
    stored = data
    if found.kind is MediaKind.PHOTO:
        try:
            stored = strip.clean(found, data)
        except strip.TooManyPixels as error:
            raise MediaRefused(
                f"{shown} is {error.width:,} × {error.height:,} pixels; the limit is "
                f"{strip.MAX_PIXELS // 1_000_000} megapixels."
            ) from None
        except strip.Damaged:
            raise MediaRefused(
                f"{shown} looks like {found.label} but is damaged, so Send cannot check it."
            ) from None
    return Accepted(
        data=stored,
        content_type=found.content_type,
        kind=found.kind,
        # A pasted picture has no name, and a name without an extension would open in
        # nothing once attached to a mail: both get the extension the bytes call for.
        name=(clean_name(name) or found.kind.value) + ("" if ext else found.extensions[0]),
        sha256=hashlib.sha256(stored).hexdigest(),
    )


def _check_name(shown: str, ext: str, found: Format) -> None:
    """A name with no extension is fine; one that says another type is refused, since
    whoever opens it would be misled (and their computer with them)."""
    if not ext or ext in found.extensions:
        return
    claimed = next((f for f in ACCEPTED if ext in f.extensions), None)
    if claimed is not None:
        raise MediaRefused(f"{shown} is {found.label}, not {claimed.label} as its name says.")
    raise MediaRefused(
        f"{shown} is {found.label} but its name ends in {ext}: "
        f"rename it to end in {found.extensions[0]} and send it again."
    )


def size_text(size: int) -> str:
    """1 decimal, in the binary units people's file managers show ("12.4 MB")."""
    if size >= _MB:
        return f"{size / _MB:.1f}".removesuffix(".0") + " MB"
    if size >= _KB:
        return f"{size / _KB:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes" if size != 1 else "1 byte"
