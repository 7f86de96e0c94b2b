"""What people type in their 1:1 chat: commands read from the one table, anything else a message."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.core.texts import CATALOGS, Language
from bot.core.turn.command_handlers import CommandHandlers
from bot.core.turn.commands import (
    COMMANDS,
    SPECS,
    Chat,
    Command,
    CommandSpec,
    Shape,
    Verb,
    help_text,
    parse,
)
from bot.core.turn.held import Posting
from bot.core.turn.new_group import NewGroupDialog
from bot.core.turn.requests import Answer
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import build_core
from tests.unit.fakes import FakeClock


def command(text: str) -> Command:
    parsed = parse(text)
    assert isinstance(parsed, Command), f"{text!r} was read as a message"
    return parsed


@pytest.mark.parametrize("typed", ["help", "HELP", "Help", "/help", "/HeLp", "  /help  "])
def test_a_command_word_is_read_in_any_case_with_or_without_a_slash(typed: str) -> None:
    assert command(typed).verb is Verb.HELP


@pytest.mark.parametrize(
    ("spec", "word"), [(spec, word) for spec in COMMANDS for word in spec.words]
)
def test_every_word_of_the_table_is_its_command(spec: CommandSpec, word: str) -> None:
    tail = " on" if spec.shape is Shape.SWITCH else " lunch"
    if word in spec.colon_only:
        tail += ": hello"  # "pour" is the command only with its colon (see below)
    assert command(word.upper() + tail).verb is spec.verb


@pytest.mark.parametrize("switch", ["on", "off", "ON", "Off"])
@pytest.mark.parametrize("between", [" ", ": ", " : "])
def test_outlook_with_on_or_off_is_the_switch(switch: str, between: str) -> None:
    parsed = command(f"outlook{between}{switch}")
    assert parsed.verb is Verb.OUTLOOK and parsed.target == switch


@pytest.mark.parametrize("typed", ["outlook", "outlook is slow today", "outlook on monday"])
def test_outlook_without_on_or_off_is_a_message(typed: str) -> None:
    assert parse(typed) == Chat(typed)


def test_a_group_and_its_text_are_split_at_the_first_colon() -> None:
    parsed = command("to Book club: see you at 12:30, room 4")
    assert (parsed.verb, parsed.target, parsed.rest, parsed.has_colon) == (
        Verb.TO,
        "Book club",
        "see you at 12:30, room 4",
        True,
    )


def test_a_command_without_colon_keeps_its_words_as_the_target() -> None:
    parsed = command("rename lunch brunch")
    assert (parsed.target, parsed.rest, parsed.has_colon) == ("lunch brunch", "", False)


def test_a_colon_right_after_the_command_word_is_not_the_split() -> None:
    parsed = command("new: lunch: bob@x.com")
    assert (parsed.target, parsed.rest, parsed.has_colon) == ("lunch", "bob@x.com", True)


@pytest.mark.parametrize(
    "typed",
    ["hello team", "helpful tips for friday", "news: the kitchen is closed", "2 pizzas", "", "  "],
)
def test_words_not_in_the_table_are_a_message(typed: str) -> None:
    assert parse(typed) == Chat(typed.strip())


def test_a_message_keeps_its_text_but_not_the_surrounding_blanks() -> None:
    assert parse("  lunch at noon?\n") == Chat("lunch at noon?")


@pytest.mark.parametrize("spec", COMMANDS, ids=[spec.verb.value for spec in COMMANDS])
def test_help_lists_every_command_with_its_usage(spec: CommandSpec) -> None:
    lines = help_text(language=Language.EN).splitlines()
    assert any(spec.usage in line and spec.help in line for line in lines)


def test_every_verb_has_exactly_one_row() -> None:
    rows = Counter(spec.verb for spec in COMMANDS)
    assert rows == Counter(set(Verb)) and set(SPECS) == set(Verb)


def test_no_word_names_two_commands() -> None:
    words = [word for spec in COMMANDS for word in spec.words]
    assert len(words) == len(set(words))


def test_only_owner_commands_say_what_only_the_owner_can_do() -> None:
    assert all(bool(spec.owner_action) == spec.owner_only for spec in COMMANDS)


async def test_every_verb_has_a_handler_help_and_its_texts_in_every_language(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)

    async def send_message(*_: object) -> Answer:
        return Answer()

    handlers = CommandHandlers(
        core.groups,
        core.built.polls,
        Posting(core.relay, core.built.media),
        send_message,
        NewGroupDialog(core.groups, store, clock),
        core.built.meetings,
        core.built.meeting_watch,
    )
    assert handlers.verbs == set(Verb) == {spec.verb for spec in COMMANDS}
    for language in Language:
        catalog = CATALOGS[language]
        help_lines = help_text(language=language)
        for spec in COMMANDS:
            assert spec.words_by[language], (language, spec.verb)
            keys = [f"usage.{spec.verb}", f"help.{spec.verb}"]
            keys += [f"owner.{spec.verb}"] if spec.owner_only else []
            assert all(key in catalog for key in keys), (language, keys)
            assert spec.usage_in(language) in help_lines
