"""What Send accepts as a photo or a file (bot/media/rules.py, sniff.py, strip.py), and its
signed download links (bot/media/links.py). Pure functions: no store, no thread."""

from __future__ import annotations

import io
import string
import struct
import zipfile
import zlib
from base64 import urlsafe_b64decode
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from bot.media import strip
from bot.media.links import LinkGrant, LinkProblem, LinkRefusal, MediaLinks
from bot.media.naming import new_media_id
from bot.media.ports import MediaKind, MediaRefused, StoredMedia
from bot.media.rules import Accepted, check
from bot.media.sniff import library_mimes
from tests.contracts.media_contract import has_gps, jpeg_with_gps, png_bytes, windows_program
from tests.unit.fakes import FakeClock

MB = 1024 * 1024


def refusal(name: str, data: bytes, max_bytes: int = 10 * MB) -> str:
    with pytest.raises(MediaRefused) as refused:
        check(name, data, max_bytes)
    return refused.value.reason


def picture(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 12), (10, 200, 30)).save(out, fmt, **options)
    return out.getvalue()


def ooxml(*parts: str) -> bytes:
    """The same bytes on every call (a fixed date), so test ids do not change between
    the processes pytest-xdist collects them in."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for part in parts:
            package.writestr(zipfile.ZipInfo(part, date_time=(2026, 1, 1, 0, 0, 0)), "<x/>")
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DOCX = ooxml("[Content_Types].xml", "_rels/.rels", "word/document.xml")
ELF = b"\x7fELF\x02\x01\x01" + bytes(200)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "kind"),
    [
        ("chart.png", png_bytes(), "image/png", MediaKind.PHOTO),
        ("IMG_0001.JPG", picture("JPEG"), "image/jpeg", MediaKind.PHOTO),
        ("wave.gif", picture("GIF"), "image/gif", MediaKind.PHOTO),
        ("sticker.webp", picture("WEBP"), "image/webp", MediaKind.PHOTO),
        ("report.pdf", PDF, "application/pdf", MediaKind.FILE),
        ("minutes.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", MediaKind.FILE),
        ("budget.xlsx", ooxml("[Content_Types].xml", "xl/workbook.xml"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", MediaKind.FILE),
        ("deck.pptx", ooxml("[Content_Types].xml", "ppt/presentation.xml"), "application/vnd.openxmlformats-officedocument.presentationml.presentation", MediaKind.FILE),
        ("notes.txt", "Grüße, 你好\n".encode(), "text/plain; charset=utf-8", MediaKind.FILE),
        ("table.csv", b"name,count\nMZ postcode,2\n", "text/csv; charset=utf-8", MediaKind.FILE),
        ("no extension", PDF, "application/pdf", MediaKind.FILE),
    ],
)  # fmt: skip
def test_accepted_by_content(name: str, data: bytes, content_type: str, kind: MediaKind) -> None:
    accepted = check(name, data)
    # A name without an extension gets the one the bytes call for, so a mail client opens it.
    shown = name if "." in name else f"{name}.pdf"
    assert (accepted.content_type, accepted.kind, accepted.name) == (content_type, kind, shown)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("photo.png", windows_program(), "photo.png is not a picture or a document Send accepts (it is a Windows program)."),
        ("cat.jpg", ELF, "cat.jpg is not a picture or a document Send accepts (it is a Linux program)."),
        ("app", b"\xcf\xfa\xed\xfe" + bytes(64), "app is not a picture or a document Send accepts (it is a macOS program)."),
        ("run.txt", b"#!/bin/sh\nrm -rf ~\n", "run.txt is not a picture or a document Send accepts (it is a script)."),
        ("run.txt", b"\xef\xbb\xbf#!/usr/bin/env python3\n", "run.txt is not a picture or a document Send accepts (it is a script)."),
        ("photos.zip", ooxml("a.jpg"), "photos.zip is not a picture or a document Send accepts (it is a ZIP archive)."),
        ("minutes.docx", ooxml("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"), "minutes.docx is not a picture or a document Send accepts (it is an Office file with macros)."),
        ("minutes.docx", DOCX[:40], "minutes.docx is not a picture or a document Send accepts (it is a damaged ZIP archive)."),
        ("IMG_1.HEIC", struct.pack(">I", 24) + b"ftypheic\0\0\0\0mif1heic" + bytes(64), "IMG_1.HEIC is not a picture or a document Send accepts (it is a HEIC picture: send it as a JPEG or PNG instead)."),
        ("data.bin", bytes(range(256)) * 4, "data.bin is not a picture or a document Send accepts."),
        ("photo.png", b"", "photo.png is empty."),
        ("photo.png", PDF, "photo.png is a PDF document, not a PNG picture as its name says."),
        ("report.exe", PDF, "report.exe is a PDF document but its name ends in .exe: rename it to end in .pdf and send it again."),
        ("chart.png", png_bytes()[:-5], "chart.png looks like a PNG picture but is damaged, so Send cannot check it."),
    ],
)  # fmt: skip
def test_refused_with_one_line_naming_the_reason(name: str, data: bytes, reason: str) -> None:
    assert refusal(name, data) == reason


def test_size_limit_is_said_in_megabytes() -> None:
    assert refusal("report.pdf", PDF + bytes(13_002_342 - len(PDF))) == (
        "report.pdf is 12.4 MB; the limit is 10 MB."
    )
    assert refusal("report.pdf", PDF + bytes(10 * MB + 1 - len(PDF))) == (
        "report.pdf is 10,485,761 bytes; the limit is 10,485,760 bytes."
    )
    assert check("report.pdf", PDF + bytes(10 * MB - len(PDF))).data[:8] == PDF[:8]


def test_names_are_shown_on_one_line_without_folders_or_disguises() -> None:
    reason = refusal("C:\\Users\\me\\photo\n.png", windows_program())
    assert reason.startswith("photo .png is not a picture")
    # U+202E turns "gnp.exe" into "exe.png" on screen: it is dropped, and .exe is seen.
    assert "its name ends in .exe" in refusal("photo\u202egnp.exe", png_bytes())
    assert refusal("", b"") == "This file is empty."
    assert check("", png_bytes()).name == "photo.png"


def test_jpeg_loses_location_comment_and_xmp_and_keeps_its_colour_profile() -> None:
    icc = b"\0" * 128  # Pillow copies the profile's bytes as they are
    source = jpeg_with_gps()
    with Image.open(io.BytesIO(source)) as image:
        tagged = io.BytesIO()
        image.save(tagged, "JPEG", exif=image.info["exif"], icc_profile=icc, comment=b"home")
    kept = check("IMG.jpg", tagged.getvalue()).data
    assert has_gps(tagged.getvalue()) and not has_gps(kept)
    assert b"Exif" not in kept and b"home" not in kept and b"PhoneMaker" not in kept
    with Image.open(io.BytesIO(kept)) as image:
        assert image.info.get("icc_profile") == icc and image.size == (40, 20)


def test_what_follows_a_jpeg_is_not_kept() -> None:
    hidden = jpeg_with_gps() + b"PK\x03\x04 a zip, or a second picture with its own EXIF"
    kept = check("IMG.jpg", hidden).data
    assert kept.endswith(b"\xff\xd9") and b"PK\x03\x04" not in kept and b"Exif" not in kept


def test_a_turned_jpeg_is_turned_in_its_pixels_once_its_exif_is_gone() -> None:
    kept = check("IMG.jpg", jpeg_with_gps((40, 20), orientation=6)).data
    with Image.open(io.BytesIO(kept)) as image:
        assert image.size == (20, 40) and not image.getexif()


def test_png_loses_text_exif_and_trailing_bytes_and_a_clean_one_is_unchanged() -> None:
    clean = png_bytes()
    assert check("a.png", clean).data is clean
    iend = png_chunk(b"IEND", b"")
    body = clean[: -len(iend)]
    extra = (
        png_chunk(b"eXIf", b"MM\0*") + png_chunk(b"tEXt", b"GPS\x0052N") + png_chunk(b"prVt", b"x")
    )
    assert check("a.png", body + extra + iend + b"<script>").data == clean
    critical = body + png_chunk(b"ZZZZ", b"") + iend
    assert "is damaged" in refusal("a.png", critical)
    corrupt = bytearray(clean)
    corrupt[-20] ^= 0xFF  # inside IDAT: its checksum no longer matches
    assert "is damaged" in refusal("a.png", bytes(corrupt))


def test_webp_loses_exif_and_xmp_chunks_and_still_opens() -> None:
    source = picture("WEBP", exif=b"Exif\0\0MM\0*GPS", xmp=b"<x:xmpmeta>GPS</x:xmpmeta>")
    kept = check("s.webp", source).data
    assert b"EXIF" in source and b"EXIF" not in kept and b"XMP " not in kept and b"GPS" not in kept
    with Image.open(io.BytesIO(kept)) as image:
        assert image.size == (24, 12) and not image.getexif()


def test_gif_is_kept_as_it_is() -> None:
    gif = picture("GIF")
    assert check("wave.gif", gif).data is gif


def test_pictures_too_large_to_decode_safely_are_refused_before_decoding() -> None:
    header = struct.pack(">IIBBBBB", 10_000, 6_000, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )
    assert (
        refusal("big.png", png) == "big.png is 10,000 × 6,000 pixels; the limit is 50 megapixels."
    )
    jpeg = bytearray(picture("JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 9_000, 9_000)  # height, width
    assert "9,000 × 9,000 pixels" in refusal("big.jpg", bytes(jpeg))


def outcome(data: bytes) -> Accepted | str:
    """What was accepted, or the reason it was not."""
    try:
        return check("upload", data)
    except MediaRefused as refused:
        return refused.reason


def assert_library_agrees(accepted: Accepted, data: bytes) -> None:
    """Whatever is accepted is what puremagic (or the ZIP directory, or UTF-8) says it is."""
    if accepted.kind is MediaKind.PHOTO or accepted.content_type == "application/pdf":
        assert accepted.content_type in library_mimes(data)
    elif accepted.content_type.startswith("text/"):
        assert b"\0" not in data
        data.decode("utf-8")
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            assert "[Content_Types].xml" in package.namelist()


@given(st.binary(min_size=1, max_size=4096))
def test_random_bytes_are_only_accepted_as_what_they_are(data: bytes) -> None:
    accepted = outcome(data)
    if isinstance(accepted, str):
        assert "\n" not in accepted
        return
    assert_library_agrees(accepted, data)


MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"RIFF\x20\0\0\0WEBPVP8 ",
    b"%PDF-",
    b"PK\x03\x04",
]


@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_a_right_start_and_random_rest_is_refused_or_really_that(magic: bytes, rest: bytes) -> None:
    data = magic + rest
    accepted = outcome(data)
    if not isinstance(accepted, str):
        assert_library_agrees(accepted, data)


SAMPLES = [
    png_bytes(),
    jpeg_with_gps(),
    jpeg_with_gps(orientation=8),
    picture("GIF"),
    picture("WEBP"),
]


@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 60),
)
def test_a_damaged_picture_is_refused_or_really_that(
    sample: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    changed = bytearray(sample)
    for position, value in flips:
        changed[position % len(changed)] = value
    data = bytes(changed[: max(1, len(changed) - cut)])
    accepted = outcome(data)
    if isinstance(accepted, str):
        assert "\n" not in accepted
        return
    assert_library_agrees(accepted, data)
    assert b"Exif" not in accepted.data or accepted.content_type == "image/gif"


@given(st.integers(1, 3000), st.integers(1, 3000))
def test_the_size_limit_is_exact(size: int, limit: int) -> None:
    data = b"x" * size
    if size <= limit:
        assert check("n.txt", data, limit).data == data
    else:
        assert "the limit is" in refusal("n.txt", data, limit)


@given(st.text(max_size=300), st.binary(max_size=64))
def test_a_program_is_refused_whatever_its_name(name: str, tail: bytes) -> None:
    reason = refusal(name, windows_program() + tail)
    assert reason.endswith("(it is a Windows program).") and "\n" not in reason
    assert len(reason) < 160


@hypothesis_settings(max_examples=25)
@given(st.integers(1, 8), st.integers(8, 64), st.integers(8, 64))
def test_no_jpeg_keeps_its_location(orientation: int, width: int, height: int) -> None:
    source = jpeg_with_gps((width, height), orientation)
    assert has_gps(source) and not has_gps(check("p.jpg", source).data)


def test_stored_media_round_trips_through_json() -> None:
    item = StoredMedia(new_media_id(), "g", "t", "image/png", 12, "a.png", MediaKind.PHOTO, "ab")
    assert StoredMedia.from_json(item.to_json()) == item


# Signed links


KEY = b"k" * 32


def item(media_id: str | None = None) -> StoredMedia:
    return StoredMedia(
        media_id or new_media_id(),
        "group-1",
        "tenant-1",
        "image/png",
        12,
        "a.png",
        MediaKind.PHOTO,
        "ab",
    )


def parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path.rsplit("/", 1)[1], dict(parse_qsl(split.query))


def test_a_link_is_granted_to_its_viewer_until_it_expires() -> None:
    clock = FakeClock()
    links = MediaLinks("https://send.example.com/", KEY, clock, lifetime=timedelta(hours=1))
    media_id = new_media_id()
    url = links.link(item(media_id), "message-1", "megan+test@contoso.com&x=1")
    assert url.startswith(f"https://send.example.com/media/{media_id}?")
    granted = links.verify(*parts(url))
    assert isinstance(granted, LinkGrant)
    assert (granted.tenant_id, granted.group_id, granted.message_id) == (
        "tenant-1",
        "group-1",
        "message-1",
    )
    assert (granted.media_id, granted.viewer_id) == (media_id, "megan+test@contoso.com&x=1")
    assert granted.expires_at == clock.now().replace(microsecond=0) + timedelta(hours=1)
    clock.advance(3599)
    assert isinstance(links.verify(*parts(url)), LinkGrant)
    clock.advance(1)
    assert links.verify(*parts(url)) == LinkRefusal(LinkProblem.EXPIRED)


def test_a_changed_link_is_refused() -> None:
    links = MediaLinks("https://send.example.com", KEY, FakeClock())
    media_id, query = parts(links.link(item(), "message-1", "person-1"))
    bad = LinkRefusal(LinkProblem.BAD_SIGNATURE)
    assert links.verify(new_media_id(), query) == bad
    assert links.verify(media_id, {**query, "v": "person-2"}) == bad
    for where in "tgm":  # another tenant, group or message: the same item elsewhere
        assert links.verify(media_id, {**query, where: "other"}) == bad
    assert links.verify(media_id, {**query, "e": str(int(query["e"]) + 86400)}) == bad
    flipped = ("A" if query["s"][0] != "A" else "B") + query["s"][1:]
    assert links.verify(media_id, {**query, "s": flipped}) == bad
    # The same bytes spelled otherwise: base64's two spare bits, a zero in front of the expiry.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    respelled = query["s"][:-1] + alphabet[alphabet.index(query["s"][-1]) + 1]
    assert urlsafe_b64decode(respelled + "=") == urlsafe_b64decode(query["s"] + "=")
    assert links.verify(media_id, {**query, "s": respelled}) == bad
    assert links.verify(media_id, {**query, "e": "0" + query["e"]}) == bad
    other_key = MediaLinks("https://send.example.com", b"o" * 32, FakeClock())
    assert other_key.verify(media_id, query) == bad


def test_a_malformed_link_is_refused() -> None:
    links = MediaLinks("https://send.example.com", KEY, FakeClock())
    media_id, query = parts(links.link(item(), "message-1", "person-1"))
    malformed = LinkRefusal(LinkProblem.MALFORMED)
    for changed in (
        {k: v for k, v in query.items() if k != "s"},
        {**query, "e": "soon"},
        {**query, "e": "١٢٣"},  # digits, but not ASCII ones
        {**query, "s": query["s"][:-1]},
        {**query, "s": "é" * 43},
        {**query, "v": ""},
        {**query, "g": ""},
        {k: v for k, v in query.items() if k != "m"},
    ):
        assert links.verify(media_id, changed) == malformed
    assert links.verify("../etc/passwd", query) == malformed


@given(st.integers(0, 5), st.integers(0, 60), st.characters(codec="ascii"))
def test_no_one_character_change_is_granted(field: int, position: int, char: str) -> None:
    links = MediaLinks("https://send.example.com", KEY, FakeClock())
    media_id, query = parts(links.link(item(), "message-1", "person-1"))
    key = "vestgm"[field]
    value = query[key]
    index = position % len(value)
    if value[index] == char:
        return
    changed = {**query, key: value[:index] + char + value[index + 1 :]}
    assert not isinstance(links.verify(media_id, changed), LinkGrant)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        MediaLinks("https://send.example.com", b"short", FakeClock())


# what survives cleaning: only what draws the picture


def animated_gif(comment: bytes = b"") -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], loop=0, duration=80, comment=comment
    )
    return out.getvalue()


def test_a_gif_loses_its_comments_application_blocks_and_what_follows_its_trailer() -> None:
    plain = animated_gif()
    xmp = b"\x21\xff\x0bXMP DataXMP" + b"\x10<x:xmpmeta GPS/>" + b"\x00"
    tagged = animated_gif(b"taken at 48.85N 2.35E")
    tagged = tagged[: 13 + 768] + xmp + tagged[13 + 768 : -1] + b"\x3b" + b"PK\x03\x04payload"
    assert b"48.85N" in tagged and b"XMP DataXMP" in tagged
    cleaned = strip.check_gif(tagged)
    assert b"48.85N" not in cleaned and b"XMP" not in cleaned and b"payload" not in cleaned
    assert cleaned.endswith(b"\x3b") and b"NETSCAPE2.0" in cleaned  # it still loops
    with Image.open(io.BytesIO(cleaned)) as image:
        assert getattr(image, "n_frames", 1) == 3 and image.info.get("loop") == 0
    assert strip.check_gif(plain) == plain  # nothing to take: byte for byte the same


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        found.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return found


def test_exif_inside_a_webp_animation_frame_goes() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True
    )
    chunks = webp_chunks(out.getvalue())
    exif = b"EXIF" + (14).to_bytes(4, "little") + b"Exif\x00\x00GPS48.85"
    rebuilt = b""
    for kind, payload in chunks:
        if kind == b"ANMF":
            payload = payload + exif
        rebuilt += (
            kind + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) & 1)
        )
    tagged = b"RIFF" + (len(rebuilt) + 4).to_bytes(4, "little") + b"WEBP" + rebuilt
    assert tagged.count(b"GPS48.85") == 2
    cleaned = strip.clean_webp(tagged)
    assert b"GPS48.85" not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert getattr(image, "n_frames", 1) == 2


# Office files that would run or fetch something when opened, judged by content

DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.'
    'main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships">{}</Relationships>'
)


def docx(parts: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", DOCX_TYPES)
        package.writestr("word/document.xml", "<w:document/>")
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def relationship(kind: str, target: str, external: bool = False) -> str:
    mode = ' TargetMode="External"' if external else ""
    return (
        f'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/{kind}" Target="{target}"{mode}/>'
    )


OLE_PACKAGE = (
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "Ole10Native".encode("utf-16-le")
)


@pytest.mark.parametrize(
    ("parts", "what"),
    [
        # The VBA project renamed, found by the relationship that names it.
        (
            {
                "word/_rels/document.xml.rels": RELS.format(
                    '<Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/'
                    'relationships/vbaProject" Target="notes.dat"/>'
                ),
                "word/notes.dat": b"\x00VBA",
            },
            "an Office file with macros",
        ),
        (
            {
                "word/_rels/settings.xml.rels": RELS.format(
                    relationship("attachedTemplate", "https://evil.example/t.dotm", external=True)
                )
            },
            "an Office file that fetches a template or content from elsewhere",
        ),
        (
            {"word/embeddings/tool.bin": b"MZ\x90\x00" + b"\x00" * 60},
            "an Office file with a program inside",
        ),
        ({"word/embeddings/oleObject1.bin": OLE_PACKAGE}, "an Office file with an embedded file"),
    ],
)
def test_an_office_file_that_would_run_or_fetch_something_is_refused(
    parts: dict[str, bytes | str], what: str
) -> None:
    with pytest.raises(MediaRefused) as refused:
        check("minutes.docx", docx(parts))
    assert refused.value.reason == (
        f"minutes.docx is not a picture or a document Send accepts (it is {what})."
    )


def test_an_ordinary_office_file_with_links_and_an_internal_template_passes() -> None:
    rels = RELS.format(
        relationship("hyperlink", "https://contoso.example/agenda", external=True)
        + relationship("attachedTemplate", "Normal.dotm")
    )
    accepted = check("minutes.docx", docx({"word/_rels/settings.xml.rels": rels}))
    assert accepted.content_type.endswith("wordprocessingml.document")
