"""What Send stores: decided by content and size, then cleaned (CONTRACT §1, issue 15).

`check` is the whole decision, with a one-line reason for the sender when it says no.
It is pure and CPU-bound (a JPEG is decoded and re-encoded): the stores run it through
`Checks`, in a worker thread, a few at a time and fairly between senders, with each
picture cleaned in a process of its own under a hard budget (`isolation.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.texts import Language, Number, Text, Value, text
from bot.media import strip
from bot.media.fair import FairGate
from bot.media.isolation import Budget, Isolated, OverBudget
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


Cleaner = Callable[[Format, bytes], bytes]


class Checks:
    """`check` off the event loop, a few at a time (decoding a large photo takes a few
    hundred MB for a moment), the slots shared fairly between senders, and each picture
    cleaned in a child process under `budget`, so no file can hold a core or the memory."""

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, at_once: int = 2, budget: Budget = Budget()
    ) -> None:
        self.max_bytes = max_bytes
        self._gate = FairGate(at_once)
        self._isolated = Isolated(budget)

    def warm(self) -> None:
        self._isolated.warm()

    def close(self) -> None:
        self._isolated.close()

    async def run(self, name: str, data: bytes, *, by: str) -> Accepted:
        """`by` is who sent it: whose turn it takes in the queue."""
        async with self._gate.slot(by):
            return await asyncio.to_thread(
                check, name, data, self.max_bytes, self._isolated.run_clean
            )


def check(
    name: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, clean: Cleaner = strip.clean
) -> Accepted:
    """Accepts `data` as a picture or a document, or raises MediaRefused with the reason.
    `clean` strips a picture (`Checks` passes one that runs in a budgeted process)."""
    shown = shown_as(name)
    if not data:
        raise MediaRefused(text("media.empty", name=shown))
    if len(data) > max_bytes:
        raise MediaRefused(too_large(shown, len(data), max_bytes))
    found = sniff(data)
    if isinstance(found, Foreign):
        if found.what is None:
            raise MediaRefused(text("media.not_accepted", name=shown))
        raise MediaRefused(text("media.not_accepted_what", name=shown, what=found.what))
    ext = extension(name)
    if found is TEXT and ext in CSV.extensions:
        found = CSV
    _check_name(shown, ext, found)
    stored = data
    if found.kind is MediaKind.PHOTO:
        try:
            stored = clean(found, data)
        except strip.TooManyScans as error:
            raise MediaRefused(
                text("media.too_many_scans", name=shown, scans=Number(error.scans))
            ) from None
        except OverBudget:
            raise MediaRefused(text("media.over_budget", name=shown)) from None
        except strip.TooManyPixels as error:
            raise MediaRefused(
                text(
                    "media.too_many_pixels",
                    name=shown,
                    width=Number(error.width),
                    height=Number(error.height),
                    limit=strip.MAX_PIXELS // 1_000_000,
                )
            ) from None
        except strip.Damaged:
            raise MediaRefused(text("media.damaged", name=shown, what=found.what)) from None
    return Accepted(
        data=stored,
        content_type=found.content_type,
        kind=found.kind,
        # A pasted picture has no name, and a name without an extension would open in
        # nothing once attached to a mail: both get the extension the bytes call for.
        name=(clean_name(name) or found.kind.value) + ("" if ext else found.extensions[0]),
        sha256=hashlib.sha256(stored).hexdigest(),
    )


def _check_name(shown: Value, ext: str, found: Format) -> None:
    """A name with no extension is fine; one that says another type is refused, since
    whoever opens it would be misled (and their computer with them)."""
    if not ext or ext in found.extensions:
        return
    claimed = next((f for f in ACCEPTED if ext in f.extensions), None)
    if claimed is not None:
        raise MediaRefused(
            text("media.misnamed", name=shown, what=found.what, claimed=claimed.what)
        )
    raise MediaRefused(
        text("media.rename", name=shown, what=found.what, ext=ext, usual=found.extensions[0])
    )


def shown_as(name: str) -> Value:
    """The name for a one-line answer, or "This file" in the reader's language."""
    return shown_name(name) if clean_name(name) else text("media.this_file")


def too_large(shown: Value, size: int | None, max_bytes: int) -> Text:
    if size is None:
        return text("media.larger_than", name=shown, limit=size_value(max_bytes))
    # Compared as said in English: the two sizes round alike in every language.
    if size_text(size, language=Language.EN) == size_text(max_bytes, language=Language.EN):
        # 10 MB and a byte: said exactly, rather than "10 MB; the limit is 10 MB".
        exact = text("size.exact", n=Number(size))
        limit = text("size.exact", n=Number(max_bytes))
        return text("media.too_large", name=shown, size=exact, limit=limit)
    return text("media.too_large", name=shown, size=size_value(size), limit=size_value(max_bytes))


def size_value(size: int) -> Text:
    """1 decimal, in the binary units people's file managers show ("12.4 MB", "12,4 Mo")."""
    for unit, key in ((_MB, "mb"), (_KB, "kb")):
        if size >= unit:
            tenths = round(size * 10 / unit)
            whole, tenth = divmod(tenths, 10)
            if tenth:
                return text(f"size.{key}_tenths", n=whole, d=tenth)
            return text(f"size.{key}", n=whole)
    return text("size.bytes", count=size)


def size_text(size: int, *, language: Language) -> str:
    return size_value(size).say(language)
