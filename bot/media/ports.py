"""The media port: photos and files kept for a group. No Azure or aiohttp here.

The document store keeps only a `StoredMedia` (a reference with its size and type);
the bytes live in a `MediaStore`: a folder under DATA_DIR, or Azure Blob Storage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Protocol

from bot.core.model import MediaKind, StoredMedia
from bot.core.texts import Text

__all__ = [
    "MediaKind",
    "MediaNotFound",
    "MediaRefused",
    "MediaStore",
    "MediaStoreError",
    "StoredMedia",
]


class MediaRefused(Exception):
    """Not stored, and nothing of it was written. `text` is one line for the sender, shown
    in their language; `reason` is the same line in English (for logs)."""

    def __init__(self, reason: Text) -> None:
        super().__init__(str(reason))
        self.text = reason
        self.reason = str(reason)


class MediaNotFound(LookupError):
    """No such item in that group (never stored, or deleted with its group)."""


# What serving an item holds in memory at a time.
CHUNK_BYTES = 256 * 1024


class MediaStoreError(Exception):
    """The media store could not do what was asked (unreachable, throttled, disk full)."""


class MediaStore(Protocol):
    async def open(self) -> None:
        """Gets ready (creates the folder or the container if missing)."""
        ...

    def warm(self) -> None:
        """Gets the picture checks ready in the background (their helper processes)."""
        ...

    async def close(self) -> None: ...

    async def put(
        self, tenant_id: str, group_id: str, name: str, data: bytes, *, by: str
    ) -> StoredMedia:
        """Checks `data` by content and size, strips picture metadata, then stores it.
        `by` is the person who sent it (the checks are shared fairly between senders).

        Raises MediaRefused before anything is written, so a refused item leaves nothing.
        `name` is only shown to people: it never becomes part of a path.
        """
        ...

    async def read(self, media: StoredMedia) -> bytes:
        """The stored bytes; MediaNotFound when the group no longer has it."""
        ...

    def stream(self, media: StoredMedia) -> AsyncGenerator[bytes, None]:
        """The stored bytes in chunks of at most `CHUNK_BYTES`, read as they are asked for,
        so serving an item holds a chunk in memory, not the item. Raises MediaNotFound
        (at the first chunk) when the group no longer has it."""
        ...

    async def exists(self, media: StoredMedia) -> bool: ...

    async def delete(self, media: StoredMedia) -> None:
        """Deletes one item (nothing happens if it is gone already)."""
        ...

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        """Deletes every item of the group; how many there were."""
        ...

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Deletes every item, in every group, stored before `cutoff`; how many there were.

        The age is the store's own (a file's modification time, a blob's Last-Modified):
        items are never rewritten, so it is when the item was stored. Retention uses it to
        delete the photos and files of the messages it deletes (bot/core/features/lifecycle.py).
        """
        ...
