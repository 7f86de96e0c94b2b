"""tests/mail_indexer.py: notmuch threads .eml files by their In-Reply-To and References."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests import mail_indexer
from tests.services import unavailable

START = datetime(2026, 12, 7, 10, 15, tzinfo=UTC)
ROOT = "root.group-1@send.local"
REPLY = "reply.group-1@send.local"
REPLY_TO_REPLY = "reply-to-reply.group-1@send.local"


@pytest.fixture(autouse=True)
def notmuch() -> None:
    if not mail_indexer.available():
        unavailable(mail_indexer.MISSING)


def write(
    folder: Path,
    minutes: int,
    message_id: str,
    subject: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> None:
    """An .eml file as Send names them: its date to the microsecond, then its id."""
    date = START + timedelta(minutes=minutes)
    mail = EmailMessage(policy=policy.SMTP)  # CRLF line ends, as Send writes
    mail["From"] = "Send <send@send.local>"
    mail["To"] = "bob@contoso.com"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    mail.set_content(f"Mail {message_id}\n")
    name = f"{date:%Y%m%dT%H%M%S%f}-{message_id.split('@')[0]}.eml"
    (folder / name).write_bytes(mail.as_bytes())


def write_conversation(folder: Path) -> None:
    write(folder, 0, ROOT, "Send: Group 1")
    write(folder, 1, REPLY, "RE: Send: Group 1", in_reply_to=ROOT)
    write(folder, 2, REPLY_TO_REPLY, "RE: Send: Group 1", references=[ROOT, REPLY])


def test_replies_form_one_thread_in_order(tmp_path: Path) -> None:
    write_conversation(tmp_path)

    [thread] = mail_indexer.threads(tmp_path)

    assert thread.ids == [ROOT, REPLY, REPLY_TO_REPLY]
    assert [m.parent for m in thread.messages] == [None, ROOT, REPLY]
    assert [m.depth for m in thread.messages] == [0, 1, 2]
    assert [m.subject for m in thread.messages] == [
        "Send: Group 1",
        "RE: Send: Group 1",
        "RE: Send: Group 1",
    ]
    assert [m.date for m in thread.messages] == [START + timedelta(minutes=n) for n in range(3)]
    assert [len(m.files) for m in thread.messages] == [1, 1, 1]
    assert all(f.parent == tmp_path for m in thread.messages for f in m.files)


def test_a_reply_to_an_unknown_mail_is_a_thread_of_its_own(tmp_path: Path) -> None:
    write_conversation(tmp_path)
    # The same subject: notmuch threads by Message-ID only.
    write(tmp_path, 3, "stray.group-1@send.local", "RE: Send: Group 1", "gone@send.local")

    conversation, stray = mail_indexer.threads(tmp_path)

    assert conversation.ids == [ROOT, REPLY, REPLY_TO_REPLY]
    assert stray.ids == ["stray.group-1@send.local"]
    assert (stray.messages[0].parent, stray.messages[0].depth) == (None, 0)


def test_a_file_that_is_no_mail_is_an_error(tmp_path: Path) -> None:
    write_conversation(tmp_path)
    (tmp_path / "20261207T101800000000-empty.eml").write_bytes(b"")

    with pytest.raises(mail_indexer.IndexerError, match=r"empty\.eml"):
        mail_indexer.threads(tmp_path)
