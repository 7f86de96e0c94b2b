"""Parsing what a person types in their 1:1 chat into a command (CONTRACT §1).

The first word is the command, case-insensitive, with an optional leading `/`.
Anything that is not a command is a message to the active group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    HELP = "help"
    NEW = "new"
    GROUPS = "groups"
    USE = "use"
    TO = "to"
    MEMBERS = "members"
    ADD = "add"
    REMOVE = "remove"
    RENAME = "rename"
    LEAVE = "leave"
    DELETE = "delete"
    HISTORY = "history"
    MUTE = "mute"
    UNMUTE = "unmute"
    OUTLOOK = "outlook"


@dataclass(frozen=True)
class Command:
    verb: Verb
    # The text after the command word, split at the first ":" when the command takes
    # "<group>: <rest>". `target` is the part before it (or all of it), `rest` after.
    target: str = ""
    rest: str = ""
    has_colon: bool = False


@dataclass(frozen=True)
class Chat:
    """Plain text for the active group."""

    text: str


_WORD = re.compile(r"^\s*/?([A-Za-z]+)(?=\s|:|$)(.*)$", re.DOTALL)


def parse(text: str) -> Command | Chat:
    match = _WORD.match(text)
    if match is None:
        return Chat(text.strip())
    word, tail = match.group(1).lower(), match.group(2)
    try:
        verb = Verb(word)
    except ValueError:
        return Chat(text.strip())
    # "outlook" is a command only as "outlook on" / "outlook off"; otherwise it is a message.
    if verb is Verb.OUTLOOK and tail.strip().lower() not in ("on", "off"):
        return Chat(text.strip())
    tail = tail.strip()
    if tail.startswith(":"):
        tail = tail[1:].strip()
    target, colon, rest = tail.partition(":")
    return Command(verb, target.strip(), rest.strip(), bool(colon))


HELP_TEXT = """Send relays your messages to a group of colleagues in Teams and Outlook.

- new <name>: <members> — create a group (addresses or @mentions; up to 20 people). Just "new" asks step by step
- groups — your groups, and which one is active
- use <group> — make a group active; anything else you type goes to it
- to <group>: <text> — send to a group without changing the active one
- members [<group>] — who is in a group and how they get messages
- add <group>: <members> — add people (owner only)
- remove <group>: <member> — remove someone (owner only)
- rename <group>: <new name> — rename (owner only)
- leave <group> — leave a group
- delete <group> — delete a group (owner only)
- history [<group>] — the last 10 messages
- mute <group> / unmute <group> — stop or resume Teams copies of a group
- outlook off / outlook on — stop or resume your Outlook copies
- help — this list"""
