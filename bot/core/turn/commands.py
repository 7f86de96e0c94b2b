"""The commands people type in their 1:1 chat, declared once in `COMMANDS`.

The first word is the command, case-insensitive, with an optional leading `/`.
Each command is one row: its words, what follows them, whether only the group's
owner may use it, and its help line; parsing and `help` are both read from the
table, so a command cannot be understood without being listed, or the reverse.
Anything that is not a command is a message to the active group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from bot.core.texts import Language, say


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
    RECEIPTS = "receipts"
    MEETING = "meeting"
    NUDGE = "nudge"


class Shape(StrEnum):
    """What follows the command word."""

    NOTHING = "nothing"  # help, groups
    GROUP = "group"  # use <group>; optional where `group_optional`
    GROUP_AND_REST = "group: rest"  # to <group>: <text>, add <group>: <members>, ...
    NEW = "name: members"  # new <name>: <members>, or new alone (the dialog)
    SWITCH = "on|off"  # outlook on / outlook off, receipts on / receipts off
    WORDS = "words"  # meeting [<words>]: any words, ":" included, or none


@dataclass(frozen=True)
class CommandSpec:
    verb: Verb
    # The words of each language; any word of any language is understood.
    words_by: Mapping[Language, tuple[str, ...]]
    shape: Shape
    owner_only: bool = False
    group_optional: bool = False
    # Words that are this command only when a ":" follows the group ("pour info, ..." is
    # an everyday French sentence, "pour lunch: ..." the command); otherwise a message.
    colon_only: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for words in self.words_by.values() for w in words))

    def usage_in(self, language: Language) -> str:
        return say(language, f"usage.{self.verb.value}")

    def help_in(self, language: Language) -> str:
        return say(language, f"help.{self.verb.value}")

    def owner_action_in(self, language: Language) -> str:
        """What the owner-only refusal says the owner alone can do."""
        return say(language, f"owner.{self.verb.value}") if self.owner_only else ""

    @property
    def usage(self) -> str:
        return self.usage_in(Language.EN)

    @property
    def help(self) -> str:
        return self.help_in(Language.EN)

    @property
    def owner_action(self) -> str:
        return self.owner_action_in(Language.EN)


def _row(
    verb: Verb,
    en: tuple[str, ...],
    fr: tuple[str, ...],
    shape: Shape,
    *,
    owner_only: bool = False,
    group_optional: bool = False,
    colon_only: tuple[str, ...] = (),
) -> CommandSpec:
    return CommandSpec(
        verb,
        {Language.EN: en, Language.FR: fr},
        shape,
        owner_only=owner_only,
        group_optional=group_optional,
        colon_only=colon_only,
    )


G = Shape.GROUP
REST = Shape.GROUP_AND_REST

COMMANDS: tuple[CommandSpec, ...] = (
    _row(Verb.NEW, ("new",), ("nouveau",), Shape.NEW),
    _row(Verb.GROUPS, ("groups",), ("groupes",), Shape.NOTHING),
    _row(Verb.USE, ("use",), ("utiliser",), G),
    _row(Verb.TO, ("to",), ("pour",), REST, colon_only=("pour",)),
    _row(Verb.MEMBERS, ("members",), ("membres",), G, group_optional=True),
    _row(Verb.ADD, ("add",), ("ajouter",), REST, owner_only=True),
    _row(Verb.REMOVE, ("remove",), ("retirer",), REST, owner_only=True),
    _row(Verb.RENAME, ("rename",), ("renommer",), REST, owner_only=True),
    _row(Verb.LEAVE, ("leave",), ("quitter",), G),
    _row(Verb.DELETE, ("delete",), ("supprimer",), G, owner_only=True),
    _row(Verb.HISTORY, ("history",), ("historique",), G, group_optional=True),
    _row(Verb.POLL, ("poll",), ("sondage",), REST),
    _row(Verb.MEETING, ("meeting",), ("réunion", "reunion"), Shape.WORDS),
    _row(Verb.NUDGE, ("nudge",), ("relancer",), G, owner_only=True),
    _row(Verb.STATUS, ("status",), ("état", "etat"), G, group_optional=True),
    _row(Verb.MUTE, ("mute",), ("muet",), G),
    _row(Verb.UNMUTE, ("unmute",), ("réactiver", "reactiver"), G),
    _row(Verb.OUTLOOK, ("outlook",), ("outlook",), Shape.SWITCH),
    _row(Verb.RECEIPTS, ("receipts",), ("accusés", "accuses"), Shape.SWITCH),
    _row(Verb.HELP, ("help",), ("aide",), Shape.NOTHING),
)

# `outlook on` / `receipts off`... and their French words.
SWITCH_ON = ("on", "oui")
SWITCH_OFF = ("off", "non")
# What ends the `new` dialog, in every language.
CANCEL_WORDS = ("cancel", "annuler")

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
    # The command word as typed (case-folded).
    word: str = ""

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
    # "outlook" is a command only as "outlook on" / "outlook off" (and "receipts" likewise);
    # otherwise it is a message.
    if spec.shape is Shape.SWITCH and tail.casefold() not in (*SWITCH_ON, *SWITCH_OFF):
        return Chat(text.strip())
    if spec.shape is Shape.WORDS:
        return Command(spec, tail, "", False, match.group(1).casefold())
    target, colon, rest = tail.partition(":")
    if not colon and match.group(1).casefold() in spec.colon_only:
        return Chat(text.strip())
    return Command(spec, target.strip(), rest.strip(), bool(colon), match.group(1).casefold())


def switched_on(command: Command) -> bool:
    return command.target.casefold() in SWITCH_ON


def is_cancel(text: str) -> bool:
    return text.strip().casefold().lstrip("/") in CANCEL_WORDS


@cache
def help_text(*, language: Language) -> str:
    """The commands in the reader's language, with the reader's words (the same every
    time: made once per language)."""
    lines = [say(language, "help.intro"), ""]
    lines += [
        say(language, "help.line", usage=spec.usage_in(language), help=spec.help_in(language))
        for spec in COMMANDS
    ]
    return "\n".join(lines)
