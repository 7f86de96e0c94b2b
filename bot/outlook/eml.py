"""The local mail directory: the group's thread as RFC 5322 files, when Graph is not configured.

Each mail is written once per recipient to `<DATA_DIR>/outlook/<address>/`. The
first mail of a group has a Message-ID that becomes the thread id; every later
mail answers it (In-Reply-To and References), so any mail client shows one
conversation. Files are written to a temporary name and renamed, and named by
message id, so a retried delivery replaces its own file instead of adding one.
"""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from bot.core.ports import Clock, RecordResult, SendOutcome, ThreadMail
from bot.outlook.card import OutlookCards

LOCAL_SENDER = "send@localhost"
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


def subject_of(group_name: str) -> str:
    return f"[Send] {group_name}"


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
        message_id = f"<{mail.message_id}.{mail.group_id}@send.local>"
        card = self._cards.card(mail.tenant_id, mail.group_id, mail.group_name, mail.recent, now)
        email = EmailMessage()
        email["From"] = f"Send <{self._sender}>"
        email["To"] = ", ".join(mail.addresses)
        email["Subject"] = (
            subject_of(mail.group_name)
            if not mail.thread_id
            else f"RE: {subject_of(mail.group_name)}"
        )
        email["Date"] = format_datetime(now)
        email["Message-ID"] = message_id
        if mail.thread_id:
            email["In-Reply-To"] = mail.thread_id
            email["References"] = mail.thread_id
        email["X-Send-Group"] = mail.group_id
        email.set_content(self._cards.plain(mail.group_name, mail.recent))
        email.add_alternative(self._cards.html(mail.group_name, mail.recent, card), subtype="html")
        data = bytes(email)
        name = f"{now:%Y%m%dT%H%M%S%f}-{mail.message_id}.eml"
        try:
            await asyncio.to_thread(self._write_all, mail.addresses, name, data)
        except OSError as error:
            return RecordResult(SendOutcome.RETRY, detail=f"mail directory: {error.strerror}")
        return RecordResult(SendOutcome.SENT, thread_id=mail.thread_id or message_id)

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
