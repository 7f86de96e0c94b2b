"""How a real mail client threads Send's .eml files: Debian's notmuch indexes a folder.

Send writes a group's Outlook conversation as .eml files, one folder per recipient. A
test that only reads our own In-Reply-To and References headers checks what we meant to
write; notmuch builds the reply tree from them as a mail client would, so a test sees
what people would see: which mails form one thread, and which mail answers which.

Isolated from any notmuch set-up of the machine: the folder's *.eml files are copied
into a temporary directory, indexed there with a config file of its own (NOTMUCH_CONFIG;
no hooks, no tags, no user config, no other NOTMUCH_* variable), and all of it is removed
afterwards. The folder itself is only read.

What notmuch does that a test should know:
- Threads are joined by Message-ID alone (In-Reply-To and References), never by subject.
- A mail's parent is the message its In-Reply-To names when that is in the thread,
  else the last message of its References that is; a missing parent is skipped over,
  not reported. Two mails that name the same unknown id share a thread (both at top).
- Mails with the same Message-ID are one message with several files (`files`).
- A Message-ID of 190 characters or more, or none, becomes "notmuch-sha1-<hex>", and
  replies to such a long id lose their parent (they stay in the thread, at the top).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The JSON layout of `notmuch show` and `notmuch search` this module reads (notmuch 0.34+).
FORMAT_VERSION = 5
MISSING = "notmuch is not installed (scripts/setup.sh installs Debian's notmuch)"
_TIMEOUT = 120.0


class NotmuchMissing(RuntimeError):
    """The notmuch command is not on PATH."""


class IndexerError(RuntimeError):
    """notmuch failed, or did not index every .eml file as a mail."""


@dataclass(frozen=True)
class Message:
    id: str  # Message-ID without the angle brackets, as notmuch stores it
    subject: str  # the Subject header, decoded ("" when there is none)
    date: datetime  # the Date header as notmuch reads it: UTC, whole seconds
    parent: str | None  # the parent's id in notmuch's reply tree; None at the top
    depth: int  # 0 at the top of the tree, else the parent's depth + 1
    files: tuple[Path, ...]  # this Message-ID's files in the folder (several: duplicates)


@dataclass(frozen=True)
class Thread:
    id: str  # notmuch's thread id (stable only within one call of `threads`)
    messages: tuple[Message, ...]  # oldest first; within one second, in tree order

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.messages]


def available() -> bool:
    return shutil.which("notmuch") is not None


def threads(folder: Path) -> list[Thread]:
    """The threads notmuch finds among the *.eml files directly in `folder`, the thread
    with the oldest mail first. Raises NotmuchMissing without notmuch, and IndexerError
    when notmuch fails or takes a file for no mail."""
    command = shutil.which("notmuch")
    if command is None:
        raise NotmuchMissing(MISSING)
    if not folder.is_dir():
        raise FileNotFoundError(f"no mail folder {folder}")
    names = sorted(p.name for p in folder.glob("*.eml") if p.is_file())
    with tempfile.TemporaryDirectory(prefix="send-notmuch-") as temporary:
        work = Path(temporary)
        mail, database, hooks = work / "mail", work / "db", work / "hooks"
        for directory in (mail, database, hooks):
            directory.mkdir()
        for name in names:
            shutil.copyfile(folder / name, mail / name)
        config = work / "config"
        config.write_text(
            f"[database]\npath={database}\nmail_root={mail}\nhook_dir={hooks}\n"
            "[new]\ntags=\nignore=\n[search]\nexclude_tags=\n"
            "[maildir]\nsynchronize_flags=false\n[index]\ndecrypt=false\n",
            encoding="utf-8",
        )
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("NOTMUCH_") and k != "MAILDIR"
        }
        env["NOTMUCH_CONFIG"] = str(config)
        # notmuch succeeds when it skips a file ("Ignoring non-mail file"): its notes are
        # kept for the error below.
        notes = _notmuch(command, env, "new", "--quiet").stderr.strip()
        options = (f"--format-version={FORMAT_VERSION}", "--format=json", "--exclude=false")
        search = _notmuch(
            command, env, "search", *options, "--output=threads", "--sort=oldest-first", "*"
        )
        found: list[Thread] = []
        for thread_id in json.loads(search.stdout):
            show = _notmuch(
                command,
                env,
                "show",
                *options,
                "--entire-thread=true",
                "--body=false",
                f"thread:{thread_id}",
            )
            tree = [
                m
                for forest in json.loads(show.stdout)
                for m in _walk(forest, None, 0, mail, folder)
            ]
            tree.sort(key=lambda m: m.date)  # stable: the tree's order within one second
            found.append(Thread(thread_id, tuple(tree)))
    indexed = {f.name for t in found for m in t.messages for f in m.files}
    if missed := [n for n in names if n not in indexed]:
        raise IndexerError(f"notmuch indexed no mail from {missed}: {notes}")
    found.sort(key=lambda t: t.messages[0].date)
    return found


def _notmuch(command: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [command, *args], env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise IndexerError(f"notmuch {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _walk(
    nodes: list[Any], parent: str | None, depth: int, mail: Path, folder: Path
) -> list[Message]:
    """The messages of a `notmuch show` forest, each [message, replies], depth first."""
    messages: list[Message] = []
    for message, replies in nodes:
        if message is None:  # a message outside the query: never with --entire-thread
            raise IndexerError("notmuch show left a message of the thread out")
        files = tuple(folder / Path(f).relative_to(mail) for f in message["filename"])
        messages.append(
            Message(
                id=message["id"],
                subject=message["headers"].get("Subject", ""),
                date=datetime.fromtimestamp(message["timestamp"], UTC),
                parent=parent,
                depth=depth,
                files=files,
            )
        )
        messages.extend(_walk(replies, message["id"], depth + 1, mail, folder))
    return messages
