"""The commands people type in their 1:1 chat, declared once in `COMMANDS`.

The first word is the command, case-insensitive, with an optional leading `/`.
Each command is one row: its words, what follows them, whether only the group's
owner may use it, and its help line; parsing and `help` are both read from the
table, so a command cannot be understood without being listed, or the reverse.
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
    STATUS = "status"
    POLL = "poll"
    MUTE = "mute"
    UNMUTE = "unmute"
    OUTLOOK = "outlook"


class Shape(StrEnum):
    """What follows the command word."""

    NOTHING = "nothing"  # help, groups
    GROUP = "group"  # use <group>; optional where `group_optional`
    GROUP_AND_REST = "group: rest"  # to <group>: <text>, add <group>: <members>, ...
    NEW = "name: members"  # new <name>: <members>, or new alone (the dialog)
    SWITCH = "on|off"  # outlook on / outlook off


@dataclass(frozen=True)
class CommandSpec:
    verb: Verb
    words: tuple[str, ...]
    usage: str
    help: str
    shape: Shape
    owner_only: bool = False
    group_optional: bool = False
    # What the owner-only refusal says the owner alone can do ("Only the owner ... can X it").
    owner_action: str = ""


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        Verb.NEW,
        ("new",),
        "new <name>: <members>",
        'create a group (addresses or @mentions; up to 20 people). Just "new" asks step by step',
        Shape.NEW,
    ),
    CommandSpec(
        Verb.GROUPS, ("groups",), "groups", "your groups, and which one is active", Shape.NOTHING
    ),
    CommandSpec(
        Verb.USE,
        ("use",),
        "use <group>",
        "make a group active; anything else you type goes to it",
        Shape.GROUP,
    ),
    CommandSpec(
        Verb.TO,
        ("to",),
        "to <group>: <text>",
        "send to a group without changing the active one",
        Shape.GROUP_AND_REST,
    ),
    CommandSpec(
        Verb.MEMBERS,
        ("members",),
        "members [<group>]",
        "who is in a group and how they get messages",
        Shape.GROUP,
        group_optional=True,
    ),
    CommandSpec(
        Verb.ADD,
        ("add",),
        "add <group>: <members>",
        "add people (owner only)",
        Shape.GROUP_AND_REST,
        owner_only=True,
        owner_action="add members to",
    ),
    CommandSpec(
        Verb.REMOVE,
        ("remove",),
        "remove <group>: <member>",
        "remove someone (owner only)",
        Shape.GROUP_AND_REST,
        owner_only=True,
        owner_action="remove members from",
    ),
    CommandSpec(
        Verb.RENAME,
        ("rename",),
        "rename <group>: <new name>",
        "rename (owner only)",
        Shape.GROUP_AND_REST,
        owner_only=True,
        owner_action="rename",
    ),
    CommandSpec(Verb.LEAVE, ("leave",), "leave <group>", "leave a group", Shape.GROUP),
    CommandSpec(
        Verb.DELETE,
        ("delete",),
        "delete <group>",
        "delete a group (owner only)",
        Shape.GROUP,
        owner_only=True,
        owner_action="delete",
    ),
    CommandSpec(
        Verb.HISTORY,
        ("history",),
        "history [<group>]",
        "the last 10 messages",
        Shape.GROUP,
        group_optional=True,
    ),
    CommandSpec(
        Verb.POLL,
        ("poll",),
        "poll <group>: <question> | <option> | <option> …",
        "ask with 2 to 6 answers; everyone answers with one tap and sees the tally",
        Shape.GROUP_AND_REST,
    ),
    CommandSpec(
        Verb.STATUS,
        ("status",),
        "status [<group>]",
        "what became of your last message: who has it, what is pending or failed",
        Shape.GROUP,
        group_optional=True,
    ),
    CommandSpec(Verb.MUTE, ("mute",), "mute <group>", "stop Teams copies of a group", Shape.GROUP),
    CommandSpec(
        Verb.UNMUTE, ("unmute",), "unmute <group>", "resume Teams copies of a group", Shape.GROUP
    ),
    CommandSpec(
        Verb.OUTLOOK,
        ("outlook",),
        "outlook off / outlook on",
        "stop or resume your Outlook copies",
        Shape.SWITCH,
    ),
    CommandSpec(Verb.HELP, ("help",), "help", "this list", Shape.NOTHING),
)

_BY_WORD: dict[str, CommandSpec] = {word: spec for spec in COMMANDS for word in spec.words}
SPECS: dict[Verb, CommandSpec] = {spec.verb: spec for spec in COMMANDS}


@dataclass(frozen=True)
class Command:
    spec: CommandSpec
    # The text after the command word, split at the first ":" when the command takes
    # "<group>: <rest>". `target` is the part before it (or all of it), `rest` after.
    target: str = ""
    rest: str = ""
    has_colon: bool = False

    @property
    def verb(self) -> Verb:
        return self.spec.verb


@dataclass(frozen=True)
class Chat:
    """Plain text for the active group."""

    text: str


_WORD = re.compile(r"^\s*/?([^\W\d_]+)(?=\s|:|$)(.*)$", re.DOTALL)


def parse(text: str) -> Command | Chat:
    match = _WORD.match(text)
    if match is None:
        return Chat(text.strip())
    spec = _BY_WORD.get(match.group(1).casefold())
    if spec is None:
        return Chat(text.strip())
    tail = match.group(2).strip()
    if tail.startswith(":"):
        tail = tail[1:].strip()
    # "outlook" is a command only as "outlook on" / "outlook off"; otherwise it is a message.
    if spec.shape is Shape.SWITCH and tail.lower() not in ("on", "off"):
        return Chat(text.strip())
    target, colon, rest = tail.partition(":")
    return Command(spec, target.strip(), rest.strip(), bool(colon))


def help_text() -> str:
    lines = ["Send relays your messages to a group of colleagues in Teams and Outlook.", ""]
    lines += [f"- {spec.usage} — {spec.help}" for spec in COMMANDS]
    return "\n".join(lines)
