"""Photos and files in Azure Blob Storage: blob `<tenant>/<group>/<media id>` of one container.

Used when AZURE_STORAGE_CONNECTION_STRING is set. An item is checked and cleaned before
any request is made, then uploaded in a single Put Blob, which the service commits
whole or not at all: a refused or failed upload leaves no blob, not even a partial one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from urllib.parse import quote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient, ExponentialRetry

from bot.media.naming import disposition, group_prefix, item_key, new_media_id
from bot.media.ports import CHUNK_BYTES, MediaNotFound, MediaStoreError, StoredMedia
from bot.media.rules import DEFAULT_MAX_BYTES, Checks

DEFAULT_CONTAINER = "send-media"  # AZURE_STORAGE_CONTAINER
# The SDK splits uploads larger than this into blocks (several requests, and uncommitted
# blocks if one fails); items are at most MAX_MEDIA_BYTES, plus what re-encoding a JPEG
# may add, so the bound is set well above that.
_MIN_SINGLE_PUT = 64 * 1024 * 1024
_DELETES_AT_ONCE = 8
_OLD_AT_ONCE = 256  # old blobs deleted before the listing reads on
# The SDK's default waits 15 s, then 18 s, then 24 s: a person who pasted a picture would
# wait a minute for an answer. About 1 s, 3 s and 5 s is enough to ride out a hiccup.
_INITIAL_BACKOFF, _BACKOFF_BASE = 1, 2


class BlobMediaStore:
    def __init__(
        self,
        connection_string: str,
        container: str = DEFAULT_CONTAINER,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retries: int = 3,
    ) -> None:
        self._connection_string = connection_string
        self._retries = retries
        self._container_name = container
        self._checks = Checks(max_bytes)
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None

    async def open(self) -> None:
        service = BlobServiceClient.from_connection_string(
            self._connection_string,
            max_single_put_size=max(_MIN_SINGLE_PUT, 2 * self._checks.max_bytes),
            # Downloads come in chunks this size (the first one too): serving an item
            # holds one chunk, not the item.
            max_single_get_size=CHUNK_BYTES,
            max_chunk_get_size=CHUNK_BYTES,
            retry_policy=ExponentialRetry(
                initial_backoff=_INITIAL_BACKOFF,
                increment_base=_BACKOFF_BASE,
                retry_total=self._retries,
            ),
        )
        container = service.get_container_client(self._container_name)
        try:
            await container.create_container()
        except ResourceExistsError:
            pass  # made before, by this instance or another
        except AzureError as error:
            await service.close()
            raise MediaStoreError(
                f"cannot open container {self._container_name}: {error}"
            ) from error
        self._service, self._container = service, container

    def warm(self) -> None:
        self._checks.warm()

    async def close(self) -> None:
        await asyncio.to_thread(self._checks.close)
        if self._service is not None:
            await self._service.close()
        self._service = self._container = None

    async def put(
        self, tenant_id: str, group_id: str, name: str, data: bytes, *, by: str
    ) -> StoredMedia:
        media_id = new_media_id()
        blob_name = item_key(tenant_id, group_id, media_id)
        accepted = await self._checks.run(name, data, by=by)
        blob = self._client().get_blob_client(blob_name)
        try:
            await blob.upload_blob(
                accepted.data,
                overwrite=False,
                validate_content=True,  # Content-MD5: the service refuses what arrives changed
                content_settings=ContentSettings(
                    content_type=accepted.content_type,
                    content_disposition=disposition(accepted.kind, accepted.name),
                ),
                # Metadata travels in HTTP headers: ASCII only, so the name is %-encoded.
                metadata={
                    "name": quote(accepted.name, safe=""),
                    "kind": accepted.kind.value,
                    "sha256": accepted.sha256,
                },
            )
        except AzureError as error:
            raise MediaStoreError(f"cannot upload media {media_id}: {error}") from error
        return accepted.stored(media_id, tenant_id, group_id)

    async def read(self, media: StoredMedia) -> bytes:
        blob = self._client().get_blob_client(self._name(media))
        try:
            download = await blob.download_blob()
            return await download.readall()
        except ResourceNotFoundError:
            raise MediaNotFound(f"no media {media.media_id} in group {media.group_id}") from None
        except AzureError as error:
            raise MediaStoreError(f"cannot read media {media.media_id}: {error}") from error

    async def stream(self, media: StoredMedia) -> AsyncGenerator[bytes, None]:
        blob = self._client().get_blob_client(self._name(media))
        try:
            # One connection, CHUNK_BYTES per request (the client is made with that size).
            download = await blob.download_blob(max_concurrency=1)
            async for chunk in download.chunks():
                yield chunk
        except ResourceNotFoundError:
            raise MediaNotFound(f"no media {media.media_id} in group {media.group_id}") from None
        except AzureError as error:
            raise MediaStoreError(f"cannot read media {media.media_id}: {error}") from error

    async def exists(self, media: StoredMedia) -> bool:
        try:
            return await self._client().get_blob_client(self._name(media)).exists()
        except AzureError as error:
            raise MediaStoreError(f"cannot look up media {media.media_id}: {error}") from error

    async def delete(self, media: StoredMedia) -> None:
        try:
            await self._client().delete_blob(self._name(media))
        except ResourceNotFoundError:
            return  # gone already
        except AzureError as error:
            raise MediaStoreError(f"cannot delete media {media.media_id}: {error}") from error

    async def delete_group(self, tenant_id: str, group_id: str) -> int:
        container = self._client()
        prefix = group_prefix(tenant_id, group_id)
        try:
            names = [b.name async for b in container.list_blobs(name_starts_with=prefix)]
        except AzureError as error:
            raise MediaStoreError(f"cannot list the media of group {group_id}: {error}") from error
        try:
            return await self._delete_all(names)
        except AzureError as error:
            raise MediaStoreError(
                f"cannot delete the media of group {group_id}: {error}"
            ) from error

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Lists the whole container once (a page holds up to 5,000 names), deleting the
        old blobs of each batch before reading on, so memory stays flat."""
        container = self._client()
        count = 0
        old: list[str] = []
        try:
            async for blob in container.list_blobs():
                if blob.last_modified < cutoff:
                    old.append(blob.name)
                if len(old) >= _OLD_AT_ONCE:
                    count += await self._delete_all(old)
                    old = []
            return count + await self._delete_all(old)
        except AzureError as error:
            raise MediaStoreError(f"cannot delete media older than {cutoff}: {error}") from error

    async def _delete_all(self, names: Sequence[str]) -> int:
        """How many of these blobs this call deleted; a few requests at a time."""
        container = self._client()
        gate = asyncio.Semaphore(_DELETES_AT_ONCE)

        async def delete(name: str) -> int:
            async with gate:
                try:
                    await container.delete_blob(name)
                except ResourceNotFoundError:
                    return 0  # deleted meanwhile (by another instance): not counted twice
                return 1

        return sum(await asyncio.gather(*(delete(n) for n in names)))

    def _client(self) -> ContainerClient:
        if self._container is None:
            raise RuntimeError("BlobMediaStore used before open() or after close()")
        return self._container

    @staticmethod
    def _name(media: StoredMedia) -> str:
        return item_key(media.tenant_id, media.group_id, media.media_id)
