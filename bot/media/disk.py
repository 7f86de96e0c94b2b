"""Photos and files in a folder: `DATA_DIR/media/<tenant>/<group>/<media id>`.

For the embedded setup (no AZURE_STORAGE_CONNECTION_STRING). Each item is written to
a temporary file in its group's folder, flushed to disk, then renamed into place: a crash
leaves at worst a `.partial-*` file, which no read, count or listing takes for an item,
and which `open()` sweeps away later. File calls block, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path

from bot.media.naming import group_prefix, item_key, new_media_id
from bot.media.ports import CHUNK_BYTES, MediaNotFound, MediaStoreError, StoredMedia
from bot.media.rules import DEFAULT_MAX_BYTES, Checks

PARTIAL_PREFIX = ".partial-"
# Old enough that no write still in progress can own it (a write takes milliseconds).
_STALE_PARTIAL_SECONDS = 3600


class DiskMediaStore:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._root = root
        self._checks = Checks(max_bytes)

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def warm(self) -> None:
        self._checks.warm()

    async def close(self) -> None:
        await asyncio.to_thread(self._checks.close)

    async def put(
        self, tenant_id: str, group_id: str, name: str, data: bytes, *, by: str
    ) -> StoredMedia:
        media_id = new_media_id()
        path = self._path(tenant_id, group_id, media_id)  # checks the ids before any work
        accepted = await self._checks.run(name, data, by=by)
        await asyncio.to_thread(self._write, path, accepted.data)
        return accepted.stored(media_id, tenant_id, group_id)

    async def read(self, media: StoredMedia) -> bytes:
        path = self._path(media.tenant_id, media.group_id, media.media_id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise MediaNotFound(f"no media {media.media_id} in group {media.group_id}") from None
        except OSError as error:
            raise MediaStoreError(f"cannot read media {media.media_id}: {error}") from error

    async def stream(self, media: StoredMedia) -> AsyncGenerator[bytes, None]:
        path = self._path(media.tenant_id, media.group_id, media.media_id)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise MediaNotFound(f"no media {media.media_id} in group {media.group_id}") from None
        except OSError as error:
            raise MediaStoreError(f"cannot read media {media.media_id}: {error}") from error
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk
        except OSError as error:
            raise MediaStoreError(f"cannot read media {media.media_id}: {error}") from error
        finally:
            file.close()

    async def exists(self, media: StoredMedia) -> bool:
        path = self._path(media.tenant_id, media.group_id, media.media_id)
        return await asyncio.to_thread(path.is_file)

    async def delete(self, media: StoredMedia) -> None:
        path = self._path(media.tenant_id, media.group_id, media.media_id)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as error:
            raise MediaStoreError(f"cannot delete media {media.media_id}: {error}") from error

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        folder = self._root / group_prefix(tenant_id, group_id)
        return await asyncio.to_thread(self._delete_folder, folder)

    async def delete_older_than(self, cutoff: datetime) -> int:
        return await asyncio.to_thread(self._delete_older_than, cutoff.timestamp())

    def _path(self, tenant_id: str, group_id: str, media_id: str) -> Path:
        return self._root / item_key(tenant_id, group_id, media_id)

    def _open(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MediaStoreError(f"cannot make the media folder {self._root}: {error}") from error
        cutoff = time.time() - _STALE_PARTIAL_SECONDS
        for partial in self._root.glob(f"*/*/{PARTIAL_PREFIX}*"):
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()

    def _write(self, path: Path, data: bytes) -> None:
        partial = path.with_name(f"{PARTIAL_PREFIX}{path.name}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
            _sync_folder(path.parent)
        except OSError as error:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise MediaStoreError(f"cannot store media in {path.parent}: {error}") from error

    def _delete_folder(self, folder: Path) -> int:
        if not folder.is_dir():
            return 0
        count = sum(
            1 for f in folder.iterdir() if f.is_file() and not f.name.startswith(PARTIAL_PREFIX)
        )
        try:
            shutil.rmtree(folder)
        except OSError as error:
            raise MediaStoreError(f"cannot delete the media of {folder}: {error}") from error
        return count

    def _delete_older_than(self, cutoff: float) -> int:
        """Files last written before `cutoff` (a POSIX time). Group folders stay: a put may
        be about to write into one. A partial file that old is stale too, but no item."""
        count = 0
        for path in self._root.glob("*/*/*"):
            try:
                if not path.is_file() or path.stat().st_mtime >= cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue  # deleted meanwhile, with its group
            except OSError as error:
                raise MediaStoreError(f"cannot delete old media {path}: {error}") from error
            if not path.name.startswith(PARTIAL_PREFIX):
                count += 1
        return count


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is flushed too."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
