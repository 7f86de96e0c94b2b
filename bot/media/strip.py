"""Pictures cleaned of what they say about where and when they were taken.

PNG and WebP are cleaned losslessly, chunk by chunk: only the chunks that draw the
picture (and its colour profile) are kept, so a PNG without metadata comes out byte for
byte the same. JPEG is re-encoded with Pillow from its image segments only: its EXIF
block also says which way up the picture is, so that turn is applied to the pixels.
GIF carries no EXIF and is kept as it is, once its header is checked.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import GifImagePlugin, Image, JpegImagePlugin, WebPImagePlugin

from bot.media.sniff import GIF, JPEG, PNG, WEBP, Format

# About 50 megapixels (a 48-megapixel phone photo passes). A JPEG is decoded to be
# re-encoded, and this bounds the memory one picture takes: 3 bytes a pixel, twice.
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 90  # only when the picture had to be turned; otherwise its own tables
# Baseline JPEGs have one scan, libjpeg's progressive ones 10, mozjpeg's about 20; an
# encoder's own scan script for three components tops out near 60.
MAX_JPEG_SCANS = 100

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What draws the picture: the critical chunks, transparency, colour, physical size and
# animation (APNG). Dropped: text of any kind (XMP lives in iTXt), eXIf, tIME, private ones.
_PNG_KEEP = frozenset(
    b"IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV cLLI bKGD hIST pHYs sPLT "
    b"acTL fcTL fdAT".split()
)
_WEBP_KEEP = frozenset(b"VP8 |VP8L|VP8X|ALPH|ANIM|ICCP".split(b"|"))
_WEBP_FRAME_KEEP = frozenset(b"VP8 |VP8L|ALPH".split(b"|"))
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04
# EXIF orientations other than 1 ("as stored"), and what makes the pixels upright.
_TURNED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# What Pillow raises on content it cannot read; a bomb warning counts when it is an error.
_UNREADABLE = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class Damaged(Exception):
    """It starts like a picture but cannot be read as one."""


class TooManyPixels(Exception):
    def __init__(self, width: int, height: int) -> None:
        super().__init__(f"{width} x {height} pixels")
        self.width, self.height = width, height

    def __reduce__(self) -> tuple[type[TooManyPixels], tuple[int, int]]:
        # Sent back from the cleaning process: rebuilt from its numbers.
        return (TooManyPixels, (self.width, self.height))


class TooManyScans(Exception):
    """A progressive JPEG of more scans than any camera or encoder writes: each scan is
    another pass over the whole picture, so thousands of tiny ones hold a core for minutes."""

    def __init__(self, scans: int) -> None:
        super().__init__(f"{scans} scans")
        self.scans = scans

    def __reduce__(self) -> tuple[type[TooManyScans], tuple[int]]:
        return (TooManyScans, (self.scans,))


def clean(found: Format, data: bytes) -> bytes:
    """`data` without location or other metadata. Raises Damaged or TooManyPixels."""
    if found is PNG:
        return clean_png(data)
    if found is JPEG:
        return clean_jpeg(data)
    if found is WEBP:
        return clean_webp(data)
    if found is GIF:
        return check_gif(data)
    raise ValueError(f"not a picture format: {found.key}")


def clean_by_key(key: str, data: bytes) -> bytes:
    """`clean` for a format named by its key (what the cleaning process is sent)."""
    found = next((f for f in (PNG, JPEG, WEBP, GIF) if f.key == key), None)
    if found is None:
        raise ValueError(f"not a picture format: {key}")
    return clean(found, data)


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise Damaged(f"{width} x {height} pixels")
    if width * height > MAX_PIXELS:
        raise TooManyPixels(width, height)


def clean_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise Damaged("no PNG signature")
    kept = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    seen: list[bytes] = []
    while True:
        if pos + 12 > len(data):
            raise Damaged("PNG ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise Damaged(f"PNG chunk {kind!r} runs past the end")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise Damaged(f"PNG chunk {kind!r} has a bad checksum")
        if not seen and kind != b"IHDR":
            raise Damaged("PNG does not start with IHDR")
        if kind in _PNG_KEEP:
            kept.append(data[pos:end])
        elif not kind[0] & 0x20:  # an upper-case first letter: needed to draw it, unknown
            raise Damaged(f"unknown critical PNG chunk {kind!r}")
        seen.append(kind)
        pos = end
        if kind == b"IEND":
            break  # anything after IEND is no part of the picture: dropped
    if b"IDAT" not in seen or length != 0:
        raise Damaged("PNG has no image data")
    if len(kept[1]) != 25:
        raise Damaged("PNG header has the wrong length")
    width, height = struct.unpack(">II", kept[1][8:16])
    _check_pixels(width, height)
    cleaned = b"".join(kept)
    return data if cleaned == data else cleaned


def clean_webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Damaged("no WebP header")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end_of_riff = min(len(data), 8 + riff_size)
    chunks: list[bytes] = []
    pos = 12
    while pos + 8 <= end_of_riff:
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)  # chunks are padded to an even length
        if pos + 8 + size > end_of_riff:
            raise Damaged(f"WebP chunk {kind!r} runs past the end")
        chunk = data[pos:end]
        if kind == b"VP8X" and size >= 10:
            flags = chunk[8] & ~(_VP8X_EXIF | _VP8X_XMP)
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind == b"ANMF":
            chunks.append(_webp_frame(chunk))
        elif kind in _WEBP_KEEP:
            chunks.append(chunk)
        pos = end
    body = b"WEBP" + b"".join(chunks)
    cleaned = b"RIFF" + struct.pack("<I", len(body)) + body
    try:
        with WebPImagePlugin.WebPImageFile(io.BytesIO(cleaned)) as image:
            _check_pixels(*image.size)
    except _UNREADABLE as error:
        raise Damaged(f"WebP: {error}") from error
    return data if cleaned == data else cleaned


def _webp_frame(chunk: bytes) -> bytes:
    """An animation frame (ANMF) with only the sub-chunks that draw it: whatever else a
    writer put inside a frame (EXIF, XMP, anything unknown) goes like it does outside."""
    if len(chunk) < 24:
        raise Damaged("WebP animation frame too short")
    kept, pos = [chunk[8:24]], 24  # the frame's position, size, duration and flags
    while pos + 8 <= len(chunk):
        kind = chunk[pos : pos + 4]
        (size,) = struct.unpack("<I", chunk[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > len(chunk):
            raise Damaged(f"WebP frame chunk {kind!r} runs past the end")
        if kind in _WEBP_FRAME_KEEP:
            kept.append(chunk[pos:end])
        pos = end
    payload = b"".join(kept)
    return b"ANMF" + struct.pack("<I", len(payload)) + payload


def clean_jpeg(data: bytes) -> bytes:
    header, orientation = _jpeg_without_metadata(data)
    # In entropy-coded data a 0xFF byte is always followed by 0x00 or a marker, so these
    # bytes are the start of a scan (or, rarely, a table value: an over-count at worst).
    scans = header.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise TooManyScans(scans)
    out = io.BytesIO()
    try:
        # The plugin itself, not Image.open: that only warns, not refuses, about a picture
        # too large to decode safely; here the size is checked before decoding. It never
        # sees the EXIF block (dropped above), whose flaws Pillow reports as warnings.
        with JpegImagePlugin.JpegImageFile(io.BytesIO(header)) as image:
            _check_pixels(*image.size)
            image.load()
            icc = image.info.get("icc_profile")
            # Without exif, xmp or comment arguments Pillow writes none of them.
            if orientation in _TURNED:
                turned = image.transpose(_TURNED[orientation])
                turned.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc, comment=b"")
            else:
                # Its own quantisation tables: re-encoding costs next to nothing in quality.
                image.save(
                    out, "JPEG", quality="keep", subsampling="keep", icc_profile=icc, comment=b""
                )
    except _UNREADABLE as error:
        raise Damaged(f"JPEG: {error}") from error
    return out.getvalue()


def _jpeg_without_metadata(data: bytes) -> tuple[bytes, int]:
    """The JPEG with only the segments that decode it, and its EXIF orientation (1 = as
    stored). Everything from the first scan on is passed through: Pillow re-encodes it
    and writes nothing of what followed (a second picture, a video, a payload)."""
    if not data.startswith(b"\xff\xd8"):
        raise Damaged("no JPEG start of image")
    kept, pos, orientation = [b"\xff\xd8"], 2, 1
    while True:
        while data[pos : pos + 2] == b"\xff\xff":  # fill bytes before a marker
            pos += 1
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise Damaged("JPEG segments do not line up")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the picture itself follows
            return b"".join(kept) + data[pos:], orientation
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos : pos + 2 + length]
        if length < 2 or len(segment) != 2 + length:
            raise Damaged("JPEG segment runs past the end")
        payload = segment[4:]
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            orientation = _tiff_orientation(payload[6:])
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE) or _keeps(marker, payload):
            kept.append(segment)
        pos += 2 + length


def _keeps(marker: int, payload: bytes) -> bool:
    """Application segments needed to decode right: the colour profile, Adobe's colour
    transform (CMYK pictures) and JFIF. The rest (EXIF, XMP, IPTC, comments) goes."""
    return (
        (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
        or (marker == 0xEE and payload.startswith(b"Adobe"))
        or (marker == 0xE0 and payload.startswith(b"JFIF\x00"))
    )


def _tiff_orientation(tiff: bytes) -> int:
    """Tag 0x0112 of the first directory of an EXIF block; 1 when absent or unreadable."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    (first,) = struct.unpack(order + "I", tiff[4:8])
    if first + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(order + "H", tiff[first : first + 2])
    for n in range(min(count, 256)):
        entry = tiff[first + 2 + 12 * n : first + 14 + 12 * n]
        if len(entry) < 12:
            return 1
        tag, kind, _, value = struct.unpack(order + "HHIH", entry[:10])
        if tag == 0x0112 and kind == 3:  # SHORT
            return value if value in range(1, 9) else 1
    return 1


def check_gif(data: bytes) -> bytes:
    """The GIF with only what draws it: its screen, colour tables, images and their
    timing (graphic control), and the NETSCAPE2.0 loop count. Comments, other
    application extensions (XMP lives in one), plain-text blocks and anything after the
    trailer go."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise Damaged("no GIF header")
    _check_pixels(*struct.unpack("<HH", data[6:10]))
    pos = 13 + _colour_table(data[10])
    kept = [data[:pos]]
    while True:
        if pos >= len(data):
            raise Damaged("GIF ends before its trailer")
        block = data[pos]
        if block == 0x3B:  # trailer: anything after it is no part of the picture
            kept.append(b"\x3b")
            break
        if block == 0x2C:  # an image: descriptor, local colour table, LZW data
            if pos + 10 > len(data):
                raise Damaged("GIF image descriptor runs past the end")
            end = _sub_blocks(data, pos + 10 + _colour_table(data[pos + 9]) + 1)
            kept.append(data[pos:end])
        elif block == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            end = _sub_blocks(data, pos + 2)
            if label == 0xF9 or (label == 0xFF and data[pos + 3 : pos + 14] == b"NETSCAPE2.0"):
                kept.append(data[pos:end])
        else:
            raise Damaged(f"unknown GIF block {block:#x}")
        pos = end
    cleaned = b"".join(kept)
    try:
        with GifImagePlugin.GifImageFile(io.BytesIO(cleaned)) as image:
            _check_pixels(*image.size)
    except _UNREADABLE as error:
        raise Damaged(f"GIF: {error}") from error
    return data if cleaned == data else cleaned


def _colour_table(flags: int) -> int:
    """The size of the colour table a GIF descriptor's flags announce (0 without one)."""
    return 3 * (2 << (flags & 0x07)) if flags & 0x80 else 0


def _sub_blocks(data: bytes, pos: int) -> int:
    """Where a chain of GIF data sub-blocks starting at `pos` ends (after its terminator)."""
    while True:
        if pos >= len(data):
            raise Damaged("GIF data runs past the end")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
