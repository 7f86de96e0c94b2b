"""The media store's contract (tests/contracts/media_contract.py) on disk and on Azure
Blob Storage (Azurite, started once for this module's blob tests), and what is particular
to each backend."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from azure.storage.blob.aio import BlobServiceClient

from bot.media.blob import BlobMediaStore
from bot.media.disk import PARTIAL_PREFIX, DiskMediaStore
from bot.media.ports import MediaStoreError
from tests.contracts.media_contract import *  # noqa: F403
from tests.contracts.media_contract import MediaHarness, png_bytes
from tests.services import azurite_server, free_port

MAX_BYTES = 200_000  # small, so the oversize tests move little data


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite_server(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


def disk_listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
async def blob_service(azurite: str) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(azurite) as service:
        yield service


@pytest.fixture(params=["disk", "blob"])
def media_backend(request: pytest.FixtureRequest) -> str:
    """ "disk", or Azurite's connection string: only blob tests start Azurite."""
    if request.param == "blob":
        return str(request.getfixturevalue("azurite"))
    return "disk"


@pytest.fixture
async def media(media_backend: str, tmp_path: Path) -> AsyncIterator[MediaHarness]:
    if media_backend == "disk":
        disk = DiskMediaStore(tmp_path / "media", MAX_BYTES)
        await disk.open()

        async def on_disk() -> list[str]:
            return disk_listing(tmp_path / "media")

        yield MediaHarness(disk, on_disk, MAX_BYTES)
        await disk.close()
        return
    container = f"test-{uuid.uuid4().hex[:16]}"  # a fresh container: its listing is the test's
    blob = BlobMediaStore(media_backend, container, MAX_BYTES)
    await blob.open()
    async with BlobServiceClient.from_connection_string(media_backend) as service:
        client = service.get_container_client(container)

        async def in_container() -> list[str]:
            # Uncommitted blocks too: a partial upload would show up here.
            return sorted([b.name async for b in client.list_blobs(include=["uncommittedblobs"])])

        yield MediaHarness(blob, in_container, MAX_BYTES)
    await blob.close()


async def test_disk_layout_is_tenant_group_media_id(tmp_path: Path) -> None:
    store = DiskMediaStore(tmp_path / "media")
    await store.open()
    item = await store.put("tenant-a", "group-1", "../../etc/passwd.png", png_bytes(), by="ann")
    assert (tmp_path / "media" / "tenant-a" / "group-1" / item.media_id).read_bytes() == png_bytes()
    assert item.name == "passwd.png"  # shown, never a path


async def test_a_failed_disk_write_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DiskMediaStore(tmp_path / "media")
    await store.open()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(MediaStoreError, match="No space left"):
        await store.put("tenant-a", "group-1", "chart.png", png_bytes(), by="ann")
    assert disk_listing(tmp_path / "media") == []


async def test_partial_files_do_not_count_and_stale_ones_are_swept(tmp_path: Path) -> None:
    root = tmp_path / "media"
    store = DiskMediaStore(root)
    await store.open()
    item = await store.put("tenant-a", "group-1", "chart.png", png_bytes(), by="ann")
    folder = root / "tenant-a" / "group-1"
    fresh, stale = folder / f"{PARTIAL_PREFIX}fresh", folder / f"{PARTIAL_PREFIX}stale"
    fresh.write_bytes(b"half a pict")
    stale.write_bytes(b"half a pict")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    await DiskMediaStore(root).open()  # as at the next start
    assert disk_listing(root) == sorted(
        [f"tenant-a/group-1/{item.media_id}", f"tenant-a/group-1/{fresh.name}"]
    )
    assert await store.delete_group("tenant-a", "group-1") == 1
    assert disk_listing(root) == []


async def test_disk_deletes_by_file_age_only_what_is_older(tmp_path: Path) -> None:
    """An old item and a new one in the same group: one pass deletes the old one only."""
    root = tmp_path / "media"
    store = DiskMediaStore(root)
    await store.open()
    old = await store.put("tenant-a", "group-1", "old.png", png_bytes(), by="ann")
    new = await store.put("tenant-a", "group-1", "new.png", png_bytes(), by="ann")
    elsewhere = await store.put("tenant-b", "group-9", "old.txt", b"old too", by="ann")
    folder = root / "tenant-a" / "group-1"
    stale = folder / f"{PARTIAL_PREFIX}stale"
    stale.write_bytes(b"half a pict")
    cutoff = datetime.now(UTC) - timedelta(days=30)
    for path in (folder / old.media_id, root / "tenant-b" / "group-9" / elsewhere.media_id, stale):
        then = (cutoff - timedelta(seconds=1)).timestamp()
        os.utime(path, (then, then))

    assert await store.delete_older_than(cutoff) == 2  # the partial file goes, uncounted
    assert disk_listing(root) == [f"tenant-a/group-1/{new.media_id}"]
    assert not await store.exists(old) and await store.read(new) == png_bytes()
    assert (root / "tenant-b" / "group-9").is_dir()  # a put may be about to write there
    assert await DiskMediaStore(tmp_path / "never-made").delete_older_than(cutoff) == 0


async def test_blob_keeps_type_and_name_and_opens_an_existing_container(
    azurite: str, blob_service: BlobServiceClient
) -> None:
    container = f"test-{uuid.uuid4().hex[:16]}"
    first, second = BlobMediaStore(azurite, container), BlobMediaStore(azurite, container)
    await first.open()
    await second.open()  # the container exists now: that is fine
    try:
        item = await first.put("tenant-a", "group-1", "Bericht Müller.txt", b"Inhalt\n", by="ann")
        assert await second.read(item) == b"Inhalt\n"
        blob = blob_service.get_blob_client(container, f"tenant-a/group-1/{item.media_id}")
        properties = await blob.get_blob_properties()
        assert properties.content_settings.content_type == "text/plain; charset=utf-8"
        assert unquote(properties.metadata["name"]) == "Bericht Müller.txt"
        assert properties.metadata["sha256"] == item.sha256
        assert (properties.content_settings.content_disposition or "").startswith("attachment;")
    finally:
        await first.close()
        await second.close()


async def test_blob_store_that_cannot_be_reached_says_so() -> None:
    port = free_port()  # nothing listens on it
    store = BlobMediaStore(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
        retries=0,
    )
    with pytest.raises(MediaStoreError, match="cannot open container"):
        await store.open()
