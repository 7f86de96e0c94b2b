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
    (action,) = card["actions"]
    assert action["type"] == "Action.Http"
    return dict(action)


def action_body(card: dict[str, Any], reply: str) -> str:
    """The body Outlook posts: the card's body template with the input filled in as typed."""
    return str(action_of(card)["body"]).replace("{{reply.value}}", reply)
