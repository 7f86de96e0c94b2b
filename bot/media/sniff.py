"""What a file is, from its bytes alone: never from its name or the type it claims.

Pictures and PDF are recognised by puremagic's signatures. Office documents are ZIP
containers, so a ZIP is looked into with `zipfile` (its directory only, nothing is
decompressed). Programs are recognised here by their fixed magic numbers first, whatever
the library says, because refusing them is the point. Text is valid UTF-8 without NUL.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import puremagic

from bot.core.texts import Text, text
from bot.media.ports import MediaKind


@dataclass(frozen=True)
class Format:
    """A kind of content Send accepts."""

    key: str  # names it in the text catalog: what.<key> ("a PDF document")
    content_type: str
    kind: MediaKind
    extensions: tuple[str, ...]  # the names that fit it; the first is the usual one

    @property
    def what(self) -> Text:
        return text(f"what.{self.key}")

    @property
    def label(self) -> str:
        return str(self.what)


@dataclass(frozen=True)
class Foreign:
    """Content Send does not accept; `key` says what it is when that is known."""

    key: str = ""

    @property
    def what(self) -> Text | None:
        return text(f"what.{self.key}") if self.key else None

    @property
    def label(self) -> str:
        return str(self.what) if self.key else ""


_PHOTO, _FILE = MediaKind.PHOTO, MediaKind.FILE
PNG = Format("png", "image/png", _PHOTO, (".png",))
JPEG = Format("jpeg", "image/jpeg", _PHOTO, (".jpg", ".jpeg", ".jpe", ".jfif"))
GIF = Format("gif", "image/gif", _PHOTO, (".gif",))
WEBP = Format("webp", "image/webp", _PHOTO, (".webp",))
PDF = Format("pdf", "application/pdf", _FILE, (".pdf",))
_OOXML = "application/vnd.openxmlformats-officedocument"
DOCX = Format("docx", f"{_OOXML}.wordprocessingml.document", _FILE, (".docx",))
XLSX = Format("xlsx", f"{_OOXML}.spreadsheetml.sheet", _FILE, (".xlsx",))
PPTX = Format("pptx", f"{_OOXML}.presentationml.presentation", _FILE, (".pptx",))
TEXT = Format("text", "text/plain; charset=utf-8", _FILE, (".txt", ".text", ".log", ".md"))
# The same content as TEXT: only the name tells a table from prose.
CSV = Format("csv", "text/csv; charset=utf-8", _FILE, (".csv", ".tsv"))
ACCEPTED = (PNG, JPEG, GIF, WEBP, PDF, DOCX, XLSX, PPTX, TEXT, CSV)

_BY_MIME = {"image/png": PNG, "image/jpeg": JPEG, "image/gif": GIF, "image/webp": WEBP}
_BY_MIME["application/pdf"] = PDF

# Fixed by the formats themselves: checked before any library. Scripts: see _program.
_PROGRAMS = (
    (b"MZ", "windows_program"),
    (b"\x7fELF", "linux_program"),
    (b"\xfe\xed\xfa\xce", "macos_program"),
    (b"\xfe\xed\xfa\xcf", "macos_program"),
    (b"\xce\xfa\xed\xfe", "macos_program"),
    (b"\xcf\xfa\xed\xfe", "macos_program"),
    (b"\xca\xfe\xba\xbe", "program"),  # a universal macOS binary, or Java bytecode
    (b"\x00asm", "wasm_program"),
)
_ARCHIVES = frozenset(
    {
        "application/zip",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-lzip",
        "application/vnd.ms-cab-compressed",
        "application/x-iso9660-image",
        "application/x-apple-diskimage",
    }
)
_HEIF = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
# Office packages: what is read of them to judge what they would do when opened.
_MOST_PARTS = 10_000
_MOST_XML = 1024 * 1024
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file (embedded object)
_OLE_PACKAGE = "Ole10Native".encode("utf-16-le")  # the stream of an embedded file
_CFB_SCAN = 512 * 1024
_RELATIONSHIP = re.compile(r"<relationship\b[^>]*>")
_TYPE = re.compile(r'\btype="([^"]*)"')
# Relationships that, pointing outside the file, make Office fetch something on opening.
_FETCHED = frozenset({"attachedtemplate", "frame", "subdocument", "oleobject"})


def sniff(data: bytes) -> Format | Foreign:
    """What `data` is. `data` is not empty (the caller refuses empty items first)."""
    text = is_text(data)
    program = _program(data, text)
    if program:
        return Foreign(program)
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    mimes = library_mimes(data)
    for mime in mimes:
        if mime in _BY_MIME:
            return _BY_MIME[mime]
    if text:
        return TEXT
    return Foreign(_describe(mimes))


def library_mimes(data: bytes) -> list[str]:
    """The content types puremagic finds with its highest confidence, best first."""
    try:
        matches = puremagic.magic_string(data)
    except puremagic.PureError:  # it recognises nothing
        return []
    if not matches:
        return []
    best = matches[0].confidence
    return [m.mime_type for m in matches if m.confidence == best and m.mime_type]


def is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _program(data: bytes, text: bool) -> str:
    # A byte-order mark in front does not make a script harmless.
    if data.removeprefix(b"\xef\xbb\xbf").startswith(b"#!"):
        return "script"
    # Real programs always have NUL bytes in their headers; text that merely starts with
    # "MZ" (a CSV of postcodes, say) is text.
    if text:
        return ""
    for magic, label in _PROGRAMS:
        if data.startswith(magic):
            return label
    return ""


def _office(data: bytes) -> Format | Foreign:
    """A Word, Excel or PowerPoint file (OOXML), told apart from any other ZIP by the parts
    every such package has; refused when it can run something when opened, judged by its
    content whatever its parts are named: macros (a VBA project, or a macro-enabled main
    part), a template or frame fetched from elsewhere, an embedded program, or an
    embedded file of any kind (an OLE "Package" object)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = package.namelist()
            if "[Content_Types].xml" not in names:
                return Foreign("zip")
            if len(names) > _MOST_PARTS:
                return Foreign("damaged_zip")
            danger = _office_danger(package, names)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return Foreign("damaged_zip")
    if danger:
        return Foreign(danger)
    for folder, found in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
        if any(n.startswith(folder) for n in names):
            return found
    return Foreign("zip")


def _office_danger(package: zipfile.ZipFile, names: list[str]) -> str:
    """What in the package could run when it is opened ("" when nothing)."""
    types = _part_text(package, "[Content_Types].xml")
    named = any(n.lower().endswith("vbaproject.bin") for n in names)
    if named or "vbaproject" in types or "macroenabled" in types:
        return "office_macros"
    for name in names:
        lowered = name.lower()
        if lowered.endswith(".rels"):
            for relationship in _RELATIONSHIP.findall(_part_text(package, name)):
                kind = _TYPE.search(relationship)
                target = kind.group(1).rsplit("/", 1)[-1] if kind else ""
                if target in ("vbaproject", "vbaprojectsignature", "wordvbadata"):
                    return "office_macros"
                if 'targetmode="external"' in relationship and target in _FETCHED:
                    return "office_remote"
            continue
        with package.open(name) as part:
            head = part.read(_CFB_SCAN)
        if any(head.startswith(magic) for magic, _ in _PROGRAMS):
            return "office_program"
        if head.startswith(_CFB) and _OLE_PACKAGE in head:
            return "office_embedded_file"
    return ""


def _part_text(package: zipfile.ZipFile, name: str) -> str:
    """A small XML part, lower-cased (at most `_MOST_XML` bytes of it are read)."""
    with package.open(name) as part:
        return part.read(_MOST_XML).decode("utf-8", "replace").lower()


def _describe(mimes: list[str]) -> str:
    if not mimes:
        return ""
    mime = mimes[0]
    if mime in _ARCHIVES:
        return "archive"
    if mime in _HEIF:
        return "heic"
    if mime.startswith("image/"):
        return "other_picture"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "sound"
    return ""
