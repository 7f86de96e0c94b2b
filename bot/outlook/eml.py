"""The local mail directory: the group's thread as RFC 5322 files, when Graph is not configured.

Each mail goes to `<DATA_DIR>/outlook/<address>/` for every recipient: written once and
hard-linked into the other folders. The first mail of a group has a Message-ID that
becomes the thread id; every later mail answers the one before it (In-Reply-To,
References, Thread-Topic, Thread-Index), so any mail client shows one conversation.
Files are written to a temporary name and renamed, and named by their place in the
thread, so a retried delivery replaces its own file instead of adding one.

The files are RFC 5322 with CRLF line ends. Message-ID, In-Reply-To and References
hold plain `<id@domain>` msg-ids, never RFC 2047 encoded-words (which the standard
library's folding would otherwise make of a long one): `MAIL_POLICY` writes them as
they are, a long list folded between ids; Content-ID too.

Photos and files (with a `MediaReader`): a picture meant to be seen in the mail is an
image part of a multipart/related HTML part, with a Content-ID its `<img src="cid:...">`
names; any other item of at most `ATTACH_BYTES` is an attachment; larger ones are only
named, with their size and link, in both bodies. When a stored item cannot be read the
mail is not written at all (retried later), never written without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import SMTP, Policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from bot.core.kept import keep
from bot.core.ports import (
    Clock,
    MailMedia,
    MediaReader,
    RecordResult,
    SendOutcome,
    StoreError,
    ThreadMail,
)
from bot.media.ports import MediaStoreError
from bot.outlook import mime
from bot.outlook.card import Card, MailItem, OutlookCards, Shown, mail_items
from bot.outlook.thread_index import child_index, root_index

LOCAL_SENDER = "send@localhost"
LOCAL_DOMAIN = "send.local"
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_FILE_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
# RFC 5322 msg-id as Send writes it: "<" dot-atom-text "@" dot-atom-text ">" (no quoted
# local part, no domain literal, no comments, no white space inside).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM_TEXT = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
MSG_ID = re.compile(rf"<{_DOT_ATOM_TEXT}@{_DOT_ATOM_TEXT}>")
_SPACE = re.compile(r"\s")
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
# RFC 5322 2.1.1: a line is at most 998 characters, and should be at most 78.
_LINE_LIMIT = 998
# An item up to this size is carried in the mail; a larger one is only linked.
ATTACH_BYTES = 3 * 1024 * 1024
ATTACH_TOTAL_BYTES = 20 * 1024 * 1024
# References keeps the first mail and the latest ones (RFC 5537 3.4.4 trims the same way:
# the first and the last few), so a long thread's header stays short.
REFERENCES_KEPT = 10
# The places of a group's latest mails kept in its chain file: a mail written again (a
# resumed delivery) among them keeps its place instead of answering a later one.
PLACES_KEPT = 20
CHAINS_KEPT = 10_000  # groups whose places are kept in memory
# A mail carrying at most this many bytes of photos and files is built on the event loop;
# a heavier one in a worker thread.
INLINE_BUILD_BYTES = 64 * 1024
FOLDERS_KEPT = 10_000  # mailbox folders known to exist, kept in memory
LOG_LINES = 4 * PLACES_KEPT  # a group's log is written again, short, past this many lines


class UnreadableMedia(Exception):
    """A stored photo or file could not be read: the mail waits for it."""


def msg_id(*parts: str, domain: str = LOCAL_DOMAIN) -> str:
    """A plain msg-id made of `parts` (our ids): each one's characters outside atext
    become "-", and the parts are joined by dots."""
    left = ".".join(_NOT_ATEXT.sub("-", p) or "-" for p in parts) or "-"
    return f"<{left}@{domain}>"


class MsgIdHeader(BaseHeader):
    """Message-ID, In-Reply-To and References: one or more msg-ids, written as they are.

    Each id stays whole and plain; when the next one does not fit in the policy's line
    length, the line is folded before it (CRLF and a space). A value that is not a list
    of plain msg-ids is refused when it is written, so it never goes out encoded.
    """

    max_count: ClassVar[Literal[1] | None] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        ids = str(value).split()
        kwds["parse_tree"] = None  # not folded by the standard library's folder (see fold)
        kwds["decoded"] = " ".join(ids)

    def fold(self, *, policy: Policy) -> str:
        ids = str(self).split()
        bad = [i for i in ids if not MSG_ID.fullmatch(i)]
        if not ids or bad:
            raise ValueError(f"{self.name}: not a list of plain msg-ids: {str(self)[:200]!r}")
        width = policy.max_line_length or _LINE_LIMIT
        lines = [f"{self.name}: {ids[0]}"]
        for one in ids[1:]:
            if len(lines[-1]) + 1 + len(one) > width:
                lines.append("")
            lines[-1] += f" {one}"
        if any(len(line) > _LINE_LIMIT for line in lines):
            raise ValueError(f"{self.name}: a msg-id longer than a mail line can be")
        return policy.linesep.join(lines) + policy.linesep


class TokenHeader(BaseHeader):
    """Thread-Index: one base64 token, written on its header's line as it is (it has no
    space to fold at; the standard library would otherwise start it on a line of its own)."""

    max_count: ClassVar[Literal[1] | None] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["parse_tree"] = None
        kwds["decoded"] = str(value).strip()

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        line = f"{self.name}: {value}"
        if not value or _SPACE.search(value) or len(line) > _LINE_LIMIT:
            raise ValueError(f"{self.name}: not one token that fits a mail line")
        return line + policy.linesep


# An address as Send writes one: ASCII atext and dots, one "@", a plain domain.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_NAMED = re.compile(rf"[A-Za-z0-9 ]{{1,64}} <({_ADDRESS.pattern})>")


_STANDARD_HEADERS = HeaderRegistry()


class AddressesHeader(BaseHeader):
    """From and To as Send writes them: plain addresses (`a@x, b@y`) or one named address
    (`Send <send@x>`), written as they are and folded between addresses. The standard
    library would parse each address into a tree and fold it again: most of the cost of
    building a mail to 20 people, for addresses Send already knows are plain."""

    max_count: ClassVar[Literal[1] | None] = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["parse_tree"] = None
        kwds["decoded"] = " ".join(str(value).split())

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        parts = value.split(", ")
        if not (_NAMED.fullmatch(value) or all(_ADDRESS.fullmatch(p) for p in parts)):
            # Anything else (a non-ASCII address, say) the standard library's way.
            return str(_STANDARD_HEADERS(self.name, value).fold(policy=policy))
        width = policy.max_line_length or _LINE_LIMIT
        lines = [f"{self.name}: {parts[0]}"]
        for part in parts[1:]:
            if len(lines[-1]) + 2 + len(part) > width:
                lines[-1] += ","
                lines.append(f" {part}")
            else:
                lines[-1] += f", {part}"
        return policy.linesep.join(lines) + policy.linesep


class _Headers(HeaderRegistry):
    """The standard registry, with each header's class made once: the standard one makes
    a new class (`type(...)`) for every header of every mail, about 30 µs each."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(key)
        return made

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._made.pop(name.lower(), None)


def _header_factory() -> HeaderRegistry:
    registry = _Headers()
    for name in ("message-id", "in-reply-to", "references", "content-id"):
        registry.map_to_type(name, MsgIdHeader)
    registry.map_to_type("thread-index", TokenHeader)
    for name in ("from", "to"):
        registry.map_to_type(name, AddressesHeader)
    return registry


# RFC 5322 on disk: CRLF line ends, 78-character lines, msg-ids kept plain.
MAIL_POLICY = SMTP.clone(header_factory=_header_factory())


def subject_of(group_name: str) -> str:
    return f"[Send] {group_name}"


def _file_key(message_id: str) -> str:
    """The message's part of its file name: the id itself when short and plain, else a
    digest of it (file names are short, and glob patterns must not see `*` or `[`)."""
    if _FILE_KEY.fullmatch(message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


async def read_all(reader: MediaReader, items: Sequence[MailItem]) -> list[bytes]:
    """The bytes of every item carried in the mail (b"" for a linked one); raises
    UnreadableMedia with a short reason when one cannot be read."""
    out: list[bytes] = []
    for item in items:
        if item.shown is Shown.LINKED:
            out.append(b"")
            continue
        try:
            out.append(await reader.read(item.media.item))
        except (LookupError, OSError, MediaStoreError, StoreError) as error:
            raise UnreadableMedia(
                f"media {item.media.item.media_id}: {type(error).__name__}"
            ) from error
    return out


def _types(content_type: str) -> tuple[str, str]:
    """("image", "png") of "image/png; charset=..." (parameters dropped)."""
    main, _, sub = content_type.split(";", 1)[0].strip().partition("/")
    if not main or not sub:
        return "application", "octet-stream"
    return main.lower(), sub.lower()


def mail_items_for(media: Sequence[MailMedia]) -> tuple[MailItem, ...]:
    """The .eml's plan: small items carried in the mail, the rest as links."""
    return mail_items(
        media, attach_each=ATTACH_BYTES, attach_total=ATTACH_TOTAL_BYTES, domain=LOCAL_DOMAIN
    )


class EmlRecorder:
    def __init__(
        self,
        data_dir: Path,
        sender: str,
        cards: OutlookCards,
        clock: Clock,
        media: MediaReader,
    ) -> None:
        self._root = data_dir / "outlook"
        self._sender = sender or LOCAL_SENDER
        self._cards = cards
        self._clock = clock
        self._media = media
        # Each address's mailbox folder, as a path string, once it is known to exist (a
        # mail to 20 people would otherwise build and hash 40 `Path`s).
        self._folders: dict[str, str] = {}
        # Each group's latest places as its chain file holds them (one process writes a
        # data directory: the local mode), read once.
        self._chains: dict[str, list[Placed]] = {}
        self._lines: dict[str, int] = {}  # lines in each group's log, as read and written

    def mailbox(self, address: str) -> Path:
        return self._root / _UNSAFE.sub("_", address.lower())

    async def record(self, mail: ThreadMail) -> RecordResult:
        now = self._clock.now()
        # Derived from our ids, so a retried mail keeps its Message-ID (and a thread its root).
        message_id = msg_id(mail.message_id, mail.group_id)
        # A thread id that is no msg-id of ours (a Graph message id, kept from before the
        # Graph settings were removed) cannot be answered here: the thread starts again.
        thread_id = mail.thread_id if MSG_ID.fullmatch(mail.thread_id) else ""
        items = mail_items_for(mail.media)
        try:
            contents = await read_all(self._media, items)
        except UnreadableMedia as error:
            return RecordResult(SendOutcome.RETRY, detail=str(error))
        card = self._cards.card(
            mail.tenant_id,
            mail.group_id,
            mail.group_name,
            mail.recent,
            now,
            mail.poll,
            mail.media,
            mail.readers,
            closed=mail.closed,
            members=mail.members,
        )
        try:
            args = (mail, thread_id, message_id, card, items, contents, now)
            if sum(len(c) for c in contents) <= INLINE_BUILD_BYTES:
                # A mail of words is built, written and linked in well under a millisecond:
                # in a worker thread it cost twice that, in the thread's handoffs and the
                # GIL taken back after each of its 20-odd file calls while copies go out.
                self._record(*args)
            else:
                # Photos and files carried: encoding megabytes would hold the Teams copies up.
                await asyncio.to_thread(self._record, *args)
        except OSError as error:
            return RecordResult(SendOutcome.RETRY, detail=f"mail directory: {error.strerror}")
        return RecordResult(SendOutcome.SENT, thread_id=thread_id or message_id)

    def _record(
        self,
        mail: ThreadMail,
        thread_id: str,
        message_id: str,
        card: Card,
        items: Sequence[MailItem],
        contents: Sequence[bytes],
        now: datetime,
    ) -> None:
        """Places the mail in its thread, builds it once, writes it once and links it into
        every recipient's folder, then remembers its place (on the event loop for a mail of
        words, in a worker thread for one carrying photos or files)."""
        subject = subject_of(mail.group_name)
        place = self._place(mail.group_id, thread_id, message_id, subject, now)
        headers = [
            ("From", f"Send <{self._sender}>"),
            ("To", ", ".join(mail.addresses)),
            ("Subject", subject if not thread_id else f"RE: {subject}"),
            ("Date", format_datetime(now)),
            ("Message-ID", message_id),
        ]
        if place.references:
            headers.append(("In-Reply-To", place.references[-1]))
            headers.append(("References", " ".join(place.references)))
        # What Outlook's conversation view groups by, besides In-Reply-To.
        headers.append(("Thread-Topic", place.topic))
        headers.append(("Thread-Index", place.index))
        headers.append(("X-Send-Group", mail.group_id))
        plain = mime.text_part(self._cards.mail_plain(mail, items), "plain")
        html_text = self._cards.mail_html(mail, card, items, now, contents)
        html = mime.text_part(html_text, "html", base64_body=True)
        pictures = _parts(items, contents, Shown.INLINE)
        if pictures:
            html = mime.multipart("related", [html, *pictures])
        body = mime.multipart("alternative", [plain, html])
        files = _parts(items, contents, Shown.ATTACHED)
        if files:
            body = mime.multipart("mixed", [body, *files])
        data = mime.mail(headers, body, MAIL_POLICY)
        self._write_all(mail.addresses, f"{place.stamp}-{_file_key(mail.message_id)}.eml", data)
        self._remember(mail.group_id, place)

    def _chain_file(self, group_id: str) -> Path:
        """The group's places, one JSON line each, appended as mails are written."""
        return self._root / ".threads" / f"{_file_key(group_id)}.jsonl"

    def _places(self, group_id: str) -> list[Placed]:
        """The group's latest mails' places, oldest first ([] when none is known)."""
        known = self._chains.get(group_id)
        if known is None:
            known = self._chains[group_id] = self._read_places(group_id)
            if len(self._chains) > CHAINS_KEPT:
                dropped = next(iter(self._chains))
                self._chains.pop(dropped)
                self._lines.pop(dropped, None)
        return known

    def _read_places(self, group_id: str) -> list[Placed]:
        chain = self._chain_file(group_id)
        try:
            text = chain.read_text("utf-8")
        except FileNotFoundError:
            return self._read_older_places(group_id)
        except (OSError, UnicodeDecodeError):
            text = ""  # unreadable: the next mail answers the thread's first one
        places: list[Placed] = []
        lines = text.splitlines()
        for line in lines:
            try:
                place = Placed.of(json.loads(line))
            except ValueError:
                place = None  # a line cut short by a crash
            if place is not None:
                places = _with(places, place)
        self._lines[group_id] = len(lines)
        if text and not text.endswith("\n"):
            self._rewrite(group_id, places)  # the next line must not join a cut one
        return places

    def _read_older_places(self, group_id: str) -> list[Placed]:
        """Places as Send kept them before the log (one JSON file per group)."""
        older = self._root / ".threads" / f"{_file_key(group_id)}.json"
        try:
            known = json.loads(older.read_text("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return []  # none, or a damaged file: the next mail answers the first one
        listed = known.get("places") if isinstance(known, dict) else None
        places = [Placed.of(p) for p in listed] if isinstance(listed, list) else []
        return [p for p in places if p is not None]

    def _place(
        self, group_id: str, thread_id: str, message_id: str, subject: str, now: datetime
    ) -> Placed:
        """Where this mail goes in its group's thread: the ids it answers (the last one its
        parent), its Thread-Index and Thread-Topic, and its file's time. A mail written
        before (a retry, or a delivery resumed after a crash) gets the place it had."""
        places = self._places(group_id)
        known = next((p for p in places if p.message_id == message_id), None)
        if known is not None:
            return known
        stamp = f"{now:%Y%m%dT%H%M%S%f}"
        last = places[-1] if places and thread_id else None
        if last is None or last.root != thread_id:
            if not thread_id:
                guid = hashlib.sha256(f"{group_id}|{message_id}".encode()).digest()[:16]
                return Placed(message_id, message_id, (), root_index(now, guid), subject, stamp)
            # The chain is unknown (written before chains were kept): answer the first.
            guid = hashlib.sha256(f"{group_id}|{thread_id}".encode()).digest()[:16]
            index = child_index(root_index(now, guid), now)
            return Placed(message_id, thread_id, (thread_id,), index, subject, stamp)
        references = (*last.references, last.message_id)
        if len(references) > REFERENCES_KEPT:
            references = (references[0], *references[-(REFERENCES_KEPT - 1) :])
        # The conversation keeps its first topic, as Exchange does, through renames.
        index = child_index(last.index, now)
        return Placed(message_id, thread_id, references, index, last.topic, stamp)

    def _remember(self, group_id: str, place: Placed) -> None:
        """Appends the mail's place to its group's log (one short write, no file replaced:
        replacing a file on ext4 flushes its data); the log is written again, short,
        once it holds several times the places kept."""
        places = self._chains[group_id] = _with(self._places(group_id), place)
        lines = self._lines.get(group_id, 0)
        if lines >= LOG_LINES:
            self._rewrite(group_id, places)
            return
        chain = self._chain_file(group_id)
        if lines == 0:
            chain.parent.mkdir(parents=True, exist_ok=True)
        _append(str(chain), (json.dumps(place.to_json()) + "\n").encode())
        self._lines[group_id] = lines + 1

    def _rewrite(self, group_id: str, places: list[Placed]) -> None:
        chain = self._chain_file(group_id)
        chain.parent.mkdir(parents=True, exist_ok=True)
        temporary = chain.with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(p.to_json()) + "\n" for p in places), "utf-8")
        temporary.replace(chain)
        self._lines[group_id] = len(places)

    def _write_all(self, addresses: tuple[str, ...], name: str, data: bytes) -> None:
        """The mail written once, then hard-linked into every other recipient's folder (a
        copy where the file system refuses links). Each file appears whole (a link, or a
        temporary name then a rename), and a retried mail, named by its place, replaces its own
        file: no folder is ever listed, so the cost does not grow with a mailbox."""
        written = ""
        for address in addresses:
            folder = self._folders.get(address)
            if folder is None:
                made = self.mailbox(address)
                made.mkdir(parents=True, exist_ok=True)
                folder = keep(self._folders, address, str(made), FOLDERS_KEPT)
            final = os.path.join(folder, name)
            try:
                if written and _linked(written, final):
                    continue
                temporary = os.path.join(folder, f".{name}.tmp")
                if not written:
                    _write_new(temporary, data)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary)  # left by a crash part-way
                    try:
                        os.link(written, temporary)
                    except OSError:
                        _write_new(temporary, data)
                os.replace(temporary, final)
            except FileNotFoundError:
                self._folders.pop(address, None)  # removed meanwhile: made on the retry
                raise
            written = written or final


@dataclass(frozen=True)
class Placed:
    """A mail's place in its thread: its Message-ID, the thread's first, the ids it
    answers (oldest first, its parent last), its Thread-Index and Thread-Topic, and the
    time its file is named by."""

    message_id: str
    root: str
    references: tuple[str, ...]
    index: str
    topic: str
    stamp: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.message_id,
            "root": self.root,
            "references": list(self.references),
            "index": self.index,
            "topic": self.topic,
            "stamp": self.stamp,
        }

    @staticmethod
    def of(value: object) -> Placed | None:
        if not isinstance(value, dict):
            return None
        refs = value.get("references")
        fields = [value.get(k) for k in ("id", "root", "index", "topic", "stamp")]
        if not isinstance(refs, list) or not all(isinstance(f, str) and f for f in fields):
            return None
        message_id, root, index, topic, stamp = (str(f) for f in fields)
        return Placed(message_id, root, tuple(str(r) for r in refs), index, topic, stamp)


def _with(places: list[Placed], place: Placed) -> list[Placed]:
    """The latest places once `place` is written: at the end (its earlier self dropped), and
    alone when it starts a new thread."""
    kept = [p for p in places if p.message_id != place.message_id]
    if kept and kept[-1].root != place.root:
        kept = []  # a new thread: the old one's places are of no use
    return [*kept, place][-PLACES_KEPT:]


def _write_new(path: str, data: bytes) -> None:
    """`data` in a new file at `path`. One left there by a crash part-way is removed, not
    written over: it may be a hard link to a mail in other folders."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    _write_fd(fd, data)


def _append(path: str, data: bytes) -> None:
    """`data` at the end of the file (made if missing), in one write: a line appended whole
    or, cut by a crash, skipped when read."""
    _write_fd(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), data)


def _write_fd(fd: int, data: bytes) -> None:
    """All of `data` through a file descriptor of its own (no buffered file object: a
    mail's few system calls are most of what writing it costs), closed afterwards."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _linked(source: str, target: str) -> bool:
    """A hard link made at `target` (it appears whole at once: no temporary name needed);
    False when `target` exists (a retry, replaced as a whole instead) or the file system
    has no links (a copy instead)."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _parts(items: Sequence[MailItem], contents: Sequence[bytes], shown: Shown) -> list[bytes]:
    """The MIME parts of the items shown so: pictures inline beside the HTML part (with
    the Content-ID its `<img src="cid:...">` names), or files attached."""
    parts: list[bytes] = []
    for item, data in zip(items, contents, strict=True):
        if item.shown is shown:
            main, sub = _types(item.media.item.content_type)
            inline = shown is Shown.INLINE
            parts.append(
                mime.media_part(
                    data,
                    main,
                    sub,
                    MAIL_POLICY,
                    disposition="inline" if inline else "attachment",
                    filename=item.media.item.name,
                    cid=f"<{item.content_id}>" if inline else None,
                )
            )
    return parts
