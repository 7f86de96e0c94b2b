"""The media port: photos and files kept for a group. No Azure or aiohttp here.

The document store keeps only a `StoredMedia` (a reference with its size and type);
the bytes live in a `MediaStore`: a folder under DATA_DIR, or Azure Blob Storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class MediaKind(StrEnum):
    PHOTO = "photo"  # shown as a picture in Teams and inline in the Outlook mail
    FILE = "file"  # offered as a download link


@dataclass(frozen=True)
class StoredMedia:
    """A stored item. `size`, `content_type` and `sha256` describe the bytes as stored,
    after metadata was stripped, so they can differ from what the sender uploaded."""

    media_id: str
    group_id: str
    tenant_id: str
    content_type: str
    size: int
    name: str
    kind: MediaKind
    sha256: str  # hex

    def to_json(self) -> dict[str, str | int]:
        return {
            "mediaId": self.media_id,
            "groupId": self.group_id,
            "tenantId": self.tenant_id,
            "contentType": self.content_type,
            "size": self.size,
            "name": self.name,
            "kind": self.kind.value,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, object]) -> StoredMedia:
        size = body["size"]
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"media size is not a number: {size!r}")
        return cls(
            media_id=str(body["mediaId"]),
            group_id=str(body["groupId"]),
            tenant_id=str(body["tenantId"]),
            content_type=str(body["contentType"]),
            size=size,
            name=str(body["name"]),
            kind=MediaKind(str(body["kind"])),
            sha256=str(body["sha256"]),
        )


class MediaRefused(Exception):
    """Not stored, and nothing of it was written. `reason` is one line for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaNotFound(LookupError):
    """No such item in that group (never stored, or deleted with its group)."""


class MediaStoreError(Exception):
    """The media store could not do what was asked (unreachable, throttled, disk full)."""


class MediaStore(Protocol):
    async def open(self) -> None:
        """Gets ready (creates the folder or the container if missing)."""
        ...

    async def close(self) -> None: ...

    async def put(self, tenant_id: str, group_id: str, name: str, data: bytes) -> StoredMedia:
        """Checks `data` by content and size, strips picture metadata, then stores it.

        Raises MediaRefused before anything is written, so a refused item leaves nothing.
        `name` is only shown to people: it never becomes part of a path.
        """
        ...

    async def read(self, media: StoredMedia) -> bytes:
        """The stored bytes; MediaNotFound when the group no longer has it."""
        ...

    async def exists(self, media: StoredMedia) -> bool: ...

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        """Deletes every item of the group; how many there were."""
        ...
