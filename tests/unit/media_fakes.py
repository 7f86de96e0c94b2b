"""The media ports in memory: a vault that checks content as the real stores do, links
that name their viewer, and Teams attachments served from a dict."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from bot.core.features.media import Media
from bot.core.model import StoredMedia
from bot.core.ports import Store
from bot.core.texts import text
from bot.core.turn.requests import IncomingMedia
from bot.media.naming import new_media_id
from bot.media.ports import CHUNK_BYTES, MediaNotFound, MediaRefused
from bot.media.rules import check


class MemoryVault:
    """A `MediaVault`: the bytes by media id, checked by content like the real stores."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[StoredMedia, bytes]] = {}

    async def put(
        self, tenant_id: str, group_id: str, name: str, data: bytes, *, by: str
    ) -> StoredMedia:
        accepted = check(name, data)
        stored = accepted.stored(new_media_id(), tenant_id, group_id)
        self.items[stored.media_id] = (stored, accepted.data)
        return stored

    async def read(self, media: StoredMedia) -> bytes:
        if media.media_id not in self.items:
            raise MediaNotFound(f"no media {media.media_id} in group {media.group_id}")
        return self.items[media.media_id][1]

    async def stream(self, media: StoredMedia) -> AsyncGenerator[bytes, None]:
        data = await self.read(media)
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]

    async def delete(self, media: StoredMedia) -> None:
        self.items.pop(media.media_id, None)

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        gone = [
            key
            for key, (item, _) in self.items.items()
            if (item.tenant_id, item.group_id) == (tenant_id, group_id)
        ]
        for key in gone:
            del self.items[key]
        return len(gone)


class FakeLinks:
    """A `MediaLinker`: a link that says what it opens and for whom."""

    def link(self, item: StoredMedia, message_id: str, viewer_id: str) -> str:
        return f"https://send.test/media/{item.media_id}?m={message_id}&v={viewer_id}"


class FakeAttachments:
    """A `MediaFetcher`: Teams attachments by URL; an unknown URL is refused."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fetched: list[str] = []  # every URL asked for, in order
        # Set to an unset event to hold downloads until it is set (a slow download).
        self.hold: asyncio.Event | None = None

    async def fetch(self, item: IncomingMedia, service_url: str, max_bytes: int) -> bytes:
        self.fetched.append(item.url)
        if self.hold is not None:
            await self.hold.wait()
        data = self.files.get(item.url)
        if data is None:
            raise MediaRefused(text("media.no_download", name=item.name or item.url))
        return data


def memory_media(store: Store) -> Media:
    """The core's photos and files over the in-memory vault, links and attachments."""
    return Media(store, MemoryVault(), FakeLinks(), FakeAttachments(), b"unit-test-seal-key", MB10)


MB10 = 10 * 1024 * 1024
