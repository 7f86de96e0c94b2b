"""Reading what Send wrote to Outlook: .eml files, Graph mailboxes, and the card inside."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.waiting import DEFAULT_TIMEOUT, wait_until

_SCRIPT = re.compile(
    r'<script type="application/adaptivecard\+json">(.*?)</script>', re.DOTALL | re.IGNORECASE
)
# RFC 5322 3.2.3 and 3.6.4, strictly: msg-id = "<" dot-atom-text "@" dot-atom-text ">",
# with no quoted local part, domain literal, comment, white space or obs- form inside.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_TEXT = rf"{_ATEXT}(?:\.{_ATEXT})*"
_MSG_ID = re.compile(rf"<{_DOT_ATOM_TEXT}@{_DOT_ATOM_TEXT}>")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bq]\?", re.IGNORECASE)  # RFC 2047
_FIELD_END = re.compile(r"\r\n(?![ \t])")  # a line end not followed by a fold


async def eventually(
    condition: Callable[[], bool], what: str, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Polls a condition on things that send no signal (files, fake mailboxes)."""
    await wait_until(condition, timeout, what)


class MovableClock:
    """The app's clock in tests: real time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


def is_msg_id(value: str) -> bool:
    """Whether `value` is one plain msg-id, nothing around it."""
    return _MSG_ID.fullmatch(value) is not None


def msg_ids(value: str) -> list[str]:
    """The msg-ids of an unfolded Message-ID, In-Reply-To or References value, which must
    be nothing but plain msg-ids separated by white space (fails on an encoded-word)."""
    assert not _ENCODED_WORD.search(value), f"an RFC 2047 encoded-word: {value!r}"
    ids = value.split()
    assert ids, "no msg-id"
    for one in ids:
        assert is_msg_id(one), f"not a plain msg-id: {one!r}"
    return ids


def raw_headers(data: bytes) -> list[tuple[str, str]]:
    """The header fields of an RFC 5322 message as written: every line ends with CRLF
    and is at most 998 characters; each field is unfolded (CRLF before white space
    removed, 2.2.3) into (name, value), in order."""
    head, separator, _ = data.partition(b"\r\n\r\n")
    assert separator, "no CRLF CRLF between the header and the body"
    text = head.decode("ascii") + "\r\n"
    bare = text.replace("\r\n", "")
    assert "\n" not in bare and "\r" not in bare, "a line ends without CRLF"
    lines = text.split("\r\n")[:-1]
    assert all(len(line) <= 998 for line in lines), "a line longer than 998 characters"
    fields = []
    for field in _FIELD_END.split(text.removesuffix("\r\n")):
        name, colon, value = field.replace("\r\n", "").partition(":")  # unfolded
        assert colon and name and name == name.strip(), f"not a header field: {field[:80]!r}"
        fields.append((name, value.strip()))
    return fields


def eml_files(data_dir: Path, address: str) -> list[Path]:
    folder = data_dir / "outlook" / address.lower()
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def read_eml(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None, "no HTML part"
    return str(part.get_content())


def card_in(html: str) -> dict[str, Any]:
    """The Adaptive Card of an e-mail's HTML head; fails if the script element is broken."""
    scripts = _SCRIPT.findall(html)
    assert len(scripts) == 1, f"expected one card script, found {len(scripts)}"
    card: dict[str, Any] = json.loads(scripts[0])
    return card


def card_texts(card: dict[str, Any]) -> list[str]:
    return [str(b["text"]) for b in card["body"] if b.get("type") == "TextBlock"]


def action_of(card: dict[str, Any]) -> dict[str, Any]:
    """The card's typed reply (the one action with an input in its body)."""
    (action,) = [a for a in card["actions"] if "{{reply.value}}" in str(a.get("body", ""))]
    assert action["type"] == "Action.Http"
    return dict(action)


def action_body(card: dict[str, Any], reply: str) -> str:
    """The body Outlook posts: the card's body template with the input filled in as typed."""
    return str(action_of(card)["body"]).replace("{{reply.value}}", reply)
