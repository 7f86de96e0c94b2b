"""The media store's contract: every backend passes these tests unchanged.

Not collected itself: tests/test_media_store.py runs it on DiskMediaStore and on
BlobMediaStore (Azurite). Each test takes the `media` fixture of that module. "Nothing
is stored" is checked on the backend's own listing, partial files and uncommitted
blocks included, not through the port.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, PngImagePlugin

from bot.media.ports import (
    CHUNK_BYTES,
    MediaKind,
    MediaNotFound,
    MediaRefused,
    MediaStore,
    StoredMedia,
)

GPS_IFD = 0x8825


@dataclass
class MediaHarness:
    store: MediaStore
    # Every name the backend holds ("<tenant>/<group>/<file or blob>"), sorted.
    listing: Callable[[], Awaitable[list[str]]]
    max_bytes: int


def png_bytes(size: tuple[int, int] = (24, 16), text: dict[str, str] | None = None) -> bytes:
    """A PNG as Pillow writes it: only IHDR, IDAT and IEND, unless `text` adds chunks."""
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    image.save(out, "PNG", pnginfo=info if text else None)
    return out.getvalue()


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 22.0, 3.5), 3: "E", 4: (4.0, 53.0, 2.25)})
    return exif.tobytes()


def jpeg_with_gps(size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 80, 10))
    out = io.BytesIO()
    image.save(
        out, "JPEG", exif=gps_exif(orientation), comment=b"taken at home", xmp=b"<x:xmpmeta/>"
    )
    return out.getvalue()


def windows_program() -> bytes:
    """The start of a PE file: an MZ header pointing at a PE signature."""
    return b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\x00\x00" + bytes(256)


def has_gps(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif().get_ifd(GPS_IFD))


async def test_png_round_trips_byte_identical(media: MediaHarness) -> None:
    data = png_bytes()
    stored = await media.store.put("tenant-a", "group-1", "chart.png", data, by="ann")
    assert await media.store.read(stored) == data
    assert (stored.size, stored.content_type, stored.kind) == (len(data), "image/png", "photo")
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.name == "chart.png"
    assert (stored.tenant_id, stored.group_id) == ("tenant-a", "group-1")
    assert await media.store.exists(stored)
    assert await media.listing() == [f"tenant-a/group-1/{stored.media_id}"]


async def test_metadata_is_gone_from_what_is_stored(media: MediaHarness) -> None:
    photo = jpeg_with_gps()
    assert has_gps(photo)
    jpeg = await media.store.put("tenant-a", "group-1", "IMG_0001.JPG", photo, by="ann")
    kept = await media.store.read(jpeg)
    assert not has_gps(kept) and b"taken at home" not in kept and b"xmpmeta" not in kept
    assert (jpeg.size, jpeg.sha256) == (len(kept), hashlib.sha256(kept).hexdigest())
    tagged = png_bytes(text={"XML:com.adobe.xmp": "<exif:GPSLatitude>52,22N</exif:GPSLatitude>"})
    png = await media.store.put("tenant-a", "group-1", "map.png", tagged, by="ann")
    assert await media.store.read(png) == png_bytes()  # the same picture, chunks dropped


async def test_a_document_is_stored_as_a_file(media: MediaHarness) -> None:
    stored = await media.store.put(
        "tenant-a", "group-1", "minutes.txt", "Grüße\n".encode(), by="ann"
    )
    assert stored.kind is MediaKind.FILE and stored.content_type == "text/plain; charset=utf-8"
    assert await media.store.read(stored) == "Grüße\n".encode()


async def test_a_program_named_png_is_refused_and_leaves_nothing(media: MediaHarness) -> None:
    with pytest.raises(MediaRefused) as refused:
        await media.store.put("tenant-a", "group-1", "photo.png", windows_program(), by="ann")
    assert refused.value.reason == (
        "photo.png is not a picture or a document Send accepts (it is a Windows program)."
    )
    assert await media.listing() == []


async def test_an_oversize_item_is_refused_and_leaves_nothing(media: MediaHarness) -> None:
    with pytest.raises(MediaRefused) as refused:
        await media.store.put(
            "tenant-a", "group-1", "notes.txt", b"a" * (media.max_bytes + 1), by="ann"
        )
    assert "the limit is" in refused.value.reason and "\n" not in refused.value.reason
    assert await media.listing() == []
    stored = await media.store.put(
        "tenant-a", "group-1", "notes.txt", b"a" * media.max_bytes, by="ann"
    )
    assert stored.size == media.max_bytes


async def test_refusals_leave_a_groups_items_alone(media: MediaHarness) -> None:
    kept = await media.store.put("tenant-a", "group-1", "chart.png", png_bytes(), by="ann")
    for data in (b"", windows_program(), b"#!/bin/sh\nrm -rf ~\n", b"PK\x05\x06" + bytes(18)):
        with pytest.raises(MediaRefused):
            await media.store.put("tenant-a", "group-1", "x.png", data, by="ann")
    assert await media.listing() == [f"tenant-a/group-1/{kept.media_id}"]


async def test_delete_group_removes_exactly_that_groups_items(media: MediaHarness) -> None:
    store = media.store
    gone = [
        await store.put("tenant-a", "group-1", f"n{i}.txt", b"x%d" % i, by="ann") for i in range(3)
    ]
    other = await store.put("tenant-a", "group-2", "n.txt", b"other group", by="ann")
    same_id_elsewhere = await store.put("tenant-b", "group-1", "n.txt", b"other tenant", by="ann")
    assert await store.delete_group("tenant-a", "group-1") == 3
    assert await media.listing() == sorted(
        [f"tenant-a/group-2/{other.media_id}", f"tenant-b/group-1/{same_id_elsewhere.media_id}"]
    )
    for item in gone:
        assert not await store.exists(item)
        with pytest.raises(MediaNotFound):
            await store.read(item)
    assert await store.read(other) == b"other group"
    assert await store.delete_group("tenant-a", "group-1") == 0


async def test_delete_removes_one_item_and_can_be_repeated(media: MediaHarness) -> None:
    store = media.store
    gone = await store.put("tenant-a", "group-1", "a.txt", b"first", by="ann")
    kept = await store.put("tenant-a", "group-1", "b.txt", b"second", by="ann")
    await store.delete(gone)
    await store.delete(gone)  # gone already: no error
    assert await media.listing() == [f"tenant-a/group-1/{kept.media_id}"]
    assert not await store.exists(gone)
    assert await store.read(kept) == b"second"


async def test_an_item_streams_in_chunks_read_as_they_are_asked_for(media: MediaHarness) -> None:
    text = b"".join(b"line %06d of the minutes\n" % n for n in range(7_000))  # 182 KB
    item = await media.store.put("tenant-a", "group-1", "minutes.txt", text, by="ann")
    chunks = [chunk async for chunk in media.store.stream(item)]
    assert b"".join(chunks) == text
    assert max(map(len, chunks)) <= CHUNK_BYTES
    # Stopped after the first chunk: nothing more is read, and nothing is left open.
    stream = media.store.stream(item)
    assert await anext(stream) == text[: len(chunks[0])]
    await stream.aclose()
    await media.store.delete(item)
    with pytest.raises(MediaNotFound):
        await anext(media.store.stream(item))


async def test_groups_do_not_see_each_others_items(media: MediaHarness) -> None:
    mine = await media.store.put("tenant-a", "group-1", "mine.txt", b"group one only", by="ann")
    for tenant_id, group_id in (("tenant-a", "group-2"), ("tenant-b", "group-1")):
        elsewhere = StoredMedia(**{**mine.__dict__, "tenant_id": tenant_id, "group_id": group_id})
        assert not await media.store.exists(elsewhere)
        with pytest.raises(MediaNotFound):
            await media.store.read(elsewhere)


async def test_concurrent_puts_each_get_their_own_item(media: MediaHarness) -> None:
    items = await asyncio.gather(
        *(
            media.store.put("tenant-a", "group-1", f"{i}.txt", b"n=%d" % i, by="ann")
            for i in range(6)
        )
    )
    assert len({item.media_id for item in items}) == 6
    assert [await media.store.read(item) for item in items] == [b"n=%d" % i for i in range(6)]
    assert len(await media.listing()) == 6


async def test_delete_older_than_keeps_what_was_stored_after_the_cutoff(
    media: MediaHarness,
) -> None:
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    items = [
        await media.store.put(tenant_id, group_id, "chart.png", png_bytes(), by="ann")
        for tenant_id, group_id in (("tenant-a", "group-1"), ("tenant-b", "group-2"))
    ]
    before = await media.listing()
    assert await media.store.delete_older_than(cutoff) == 0
    assert await media.listing() == before and len(before) == 2
    assert [await media.store.read(item) for item in items] == [png_bytes(), png_bytes()]


async def test_delete_older_than_deletes_what_was_stored_before_in_every_group(
    media: MediaHarness,
) -> None:
    store = media.store
    places = [("tenant-a", "group-1"), ("tenant-a", "group-1"), ("tenant-a", "group-2")]
    places.append(("tenant-b", "group-1"))  # the same group id in another tenant
    gone = [
        await store.put(tenant_id, group_id, f"{n}.txt", b"old %d" % n, by="ann")
        for n, (tenant_id, group_id) in enumerate(places)
    ]
    cutoff = datetime.now(UTC) + timedelta(hours=1)  # all of them are older
    assert await store.delete_older_than(cutoff) == 4
    assert await media.listing() == []
    for item in gone:
        assert not await store.exists(item)
        with pytest.raises(MediaNotFound):
            await store.read(item)
    assert await store.delete_older_than(cutoff) == 0
    # The groups take new items as before; they are newer than any earlier cutoff.
    later = await store.put("tenant-a", "group-1", "new.txt", b"new", by="ann")
    assert await store.delete_older_than(cutoff - timedelta(hours=2)) == 0
    assert await store.read(later) == b"new"


@pytest.mark.parametrize(("tenant_id", "group_id"), [("..", "g"), ("t", "../g"), ("t", "a/b")])
async def test_ids_that_are_no_path_segment_are_refused(
    media: MediaHarness, tenant_id: str, group_id: str
) -> None:
    with pytest.raises(ValueError, match="storage path"):
        await media.store.put(tenant_id, group_id, "chart.png", png_bytes(), by="ann")
    assert await media.listing() == []
