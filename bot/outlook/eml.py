"""The local mail directory: the group's thread as RFC 5322 files, when Graph is not configured.

Each mail is written once per recipient to `<DATA_DIR>/outlook/<address>/`. The
first mail of a group has a Message-ID that becomes the thread id; every later
mail answers it (In-Reply-To and References), so any mail client shows one
conversation. Files are written to a temporary name and renamed, and named by
message id, so a retried delivery replaces its own file instead of adding one.

The files are RFC 5322 with CRLF line ends. Message-ID, In-Reply-To and References
hold plain `<id@domain>` msg-ids, never RFC 2047 encoded-words (which the standard
library's folding would otherwise make of a long one): `MAIL_POLICY` writes them as
they are, a long list folded between ids.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from bot.core.ports import Clock, RecordResult, SendOutcome, ThreadMail
from bot.outlook.card import OutlookCards

LOCAL_SENDER = "send@localhost"
LOCAL_DOMAIN = "send.local"
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_FILE_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
# RFC 5322 msg-id as Send writes it: "<" dot-atom-text "@" dot-atom-text ">" (no quoted
# local part, no domain literal, no comments, no white space inside).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM_TEXT = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
MSG_ID = re.compile(rf"<{_DOT_ATOM_TEXT}@{_DOT_ATOM_TEXT}>")
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
# RFC 5322 2.1.1: a line is at most 998 characters, and should be at most 78.
_LINE_LIMIT = 998


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


def _header_factory() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("message-id", "in-reply-to", "references"):
        registry.map_to_type(name, MsgIdHeader)
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


class EmlRecorder:
    def __init__(self, data_dir: Path, sender: str, cards: OutlookCards, clock: Clock) -> None:
        self._root = data_dir / "outlook"
        self._sender = sender or LOCAL_SENDER
        self._cards = cards
        self._clock = clock

    def mailbox(self, address: str) -> Path:
        return self._root / _UNSAFE.sub("_", address.lower())

    async def record(self, mail: ThreadMail) -> RecordResult:
        now = self._clock.now()
        # Derived from our ids, so a retried mail keeps its Message-ID (and a thread its root).
        message_id = msg_id(mail.message_id, mail.group_id)
        # A thread id that is no msg-id of ours (a Graph message id, kept from before the
        # Graph settings were removed) cannot be answered here: the thread starts again.
        thread_id = mail.thread_id if MSG_ID.fullmatch(mail.thread_id) else ""
        card = self._cards.card(
            mail.tenant_id, mail.group_id, mail.group_name, mail.recent, now, mail.poll
        )
        email = EmailMessage(policy=MAIL_POLICY)
        email["From"] = f"Send <{self._sender}>"
        email["To"] = ", ".join(mail.addresses)
        email["Subject"] = (
            subject_of(mail.group_name) if not thread_id else f"RE: {subject_of(mail.group_name)}"
        )
        email["Date"] = format_datetime(now)
        email["Message-ID"] = message_id
        if thread_id:
            email["In-Reply-To"] = thread_id
            email["References"] = thread_id
        email["X-Send-Group"] = mail.group_id
        email.set_content(self._cards.plain(mail.group_name, mail.recent))
        email.add_alternative(self._cards.html(mail.group_name, mail.recent, card), subtype="html")
        data = bytes(email)
        name = f"{now:%Y%m%dT%H%M%S%f}-{_file_key(mail.message_id)}.eml"
        try:
            await asyncio.to_thread(self._write_all, mail.addresses, name, data)
        except OSError as error:
            return RecordResult(SendOutcome.RETRY, detail=f"mail directory: {error.strerror}")
        return RecordResult(SendOutcome.SENT, thread_id=thread_id or message_id)

    def _write_all(self, addresses: tuple[str, ...], name: str, data: bytes) -> None:
        for address in addresses:
            folder = self.mailbox(address)
            folder.mkdir(parents=True, exist_ok=True)
            message_part = name.split("-", 1)[1]
            for old in folder.glob(f"*-{message_part}"):
                old.unlink()  # a retry of the same message replaces its earlier file
            temporary = folder / f".{name}.tmp"
            temporary.write_bytes(data)
            temporary.replace(folder / name)
