"""English and French: the catalog, plurals, dates in a reader's zone, commands in French."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from bot.core.features.one_tap import one_tap, one_tap_answers
from bot.core.membership.groups import counted
from bot.core.model import Person
from bot.core.sending.thread import mail_readers
from bot.core.texts import (
    CATALOGS,
    Language,
    language_of,
    majority,
    say,
    valid_zone,
    when,
)
from bot.core.texts.fr import NBSP
from bot.core.turn.commands import COMMANDS, Chat, Command, Verb, help_text, parse


def fields(template: str | tuple[str, str]) -> set[str]:
    parts = template if isinstance(template, tuple) else (template,)
    return {f for part in parts for _, f, _, _ in string.Formatter().parse(part) if f}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, fr = CATALOGS[Language.EN], CATALOGS[Language.FR]
    assert set(en) == set(fr)
    for key in en:
        assert fields(en[key]) == fields(fr[key]), key
        assert isinstance(en[key], tuple) == isinstance(fr[key], tuple), key


@pytest.mark.parametrize("language", list(Language))
def test_every_text_formats_with_its_placeholders(language: Language) -> None:
    for key, template in CATALOGS[language].items():
        values: dict[str, str | int] = {f: f"<{f}>" for f in fields(template)}
        if isinstance(template, tuple):
            values["count"] = 2
        shown = say(language, key, **values)
        assert "{" not in shown and shown.strip(), key


def test_french_puts_a_non_breaking_space_before_high_punctuation() -> None:
    for template in CATALOGS[Language.FR].values():
        for part in template if isinstance(template, tuple) else (template,):
            for mark in ":;?!":
                assert f" {mark} " not in part and not part.endswith(f" {mark}"), part
    assert say(Language.FR, "groups.heading") == f"Vos groupes{NBSP}:"


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("fr-FR", Language.FR),
        ("fr-CA", Language.FR),
        ("FR", Language.FR),
        ("fr_BE", Language.FR),
        ("en-US", Language.EN),
        ("de-DE", Language.EN),
        ("", Language.EN),
        ("french", Language.EN),
    ],
)
def test_the_language_of_a_locale(locale: str, language: Language) -> None:
    assert language_of(locale) is language


def test_french_uses_the_singular_for_zero_and_one() -> None:
    assert [counted(n, "member", language=Language.FR) for n in (0, 1, 2)] == [
        "0 membre",
        "1 membre",
        "2 membres",
    ]
    assert [counted(n, "member", language=Language.EN) for n in (0, 1, 2)] == [
        "0 members",
        "1 member",
        "2 members",
    ]
    assert [say(Language.FR, "n.message", count=n) for n in (0, 1, 2)] == [
        "0 message",
        "1 message",
        "2 messages",
    ]


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday


def test_times_of_today_in_the_readers_zone_or_in_utc_said_as_such() -> None:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert when(Language.EN, at, "", NOW) == "10:00 UTC"
    assert when(Language.EN, at, "Asia/Tokyo", NOW) == "19:00"
    assert when(Language.FR, at, "Europe/Paris", NOW) == "11:00"


def test_older_times_carry_the_day_in_the_readers_language() -> None:
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert when(Language.EN, at, "", NOW) == "Tue 24 Nov 10:00 UTC"
    assert when(Language.FR, at, "Europe/Paris", NOW) == "mar. 24 nov. 11:00"
    # Today in UTC but tomorrow in Tokyo: the day is the reader's.
    late = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert when(Language.EN, late, "Asia/Tokyo", NOW) == "05:00"
    assert when(Language.EN, late, "", NOW) == "Mon 30 Nov 20:00 UTC"
    assert when(Language.FR, datetime(2025, 12, 1, 10, tzinfo=UTC), "", NOW) == (
        "lun. 1 déc. 2025 10:00 UTC"
    )


def test_an_unknown_time_zone_is_ignored() -> None:
    assert valid_zone("Europe/Paris") == "Europe/Paris"
    assert valid_zone("Mars/Olympus") == ""
    assert valid_zone("../../etc/passwd") == ""
    assert when(Language.EN, NOW, "Mars/Olympus", NOW) == "12:00 UTC"


@pytest.mark.parametrize(
    ("typed", "verb", "target", "rest"),
    [
        ("aide", Verb.HELP, "", ""),
        ("nouveau déjeuner : bob@x.com", Verb.NEW, "déjeuner", "bob@x.com"),
        ("groupes", Verb.GROUPS, "", ""),
        ("utiliser déjeuner", Verb.USE, "déjeuner", ""),
        ("pour déjeuner : on y va ?", Verb.TO, "déjeuner", "on y va ?"),
        ("membres", Verb.MEMBERS, "", ""),
        ("ajouter déjeuner: bob@x.com", Verb.ADD, "déjeuner", "bob@x.com"),
        ("retirer déjeuner: bob@x.com", Verb.REMOVE, "déjeuner", "bob@x.com"),
        ("renommer déjeuner: cantine", Verb.RENAME, "déjeuner", "cantine"),
        ("quitter déjeuner", Verb.LEAVE, "déjeuner", ""),
        ("supprimer déjeuner", Verb.DELETE, "déjeuner", ""),
        ("historique", Verb.HISTORY, "", ""),
        ("État déjeuner", Verb.STATUS, "déjeuner", ""),
        ("etat", Verb.STATUS, "", ""),
        ("sondage déjeuner: On y va ? | oui | non", Verb.POLL, "déjeuner", "On y va ? | oui | non"),
        ("muet déjeuner", Verb.MUTE, "déjeuner", ""),
        ("réactiver déjeuner", Verb.UNMUTE, "déjeuner", ""),
        ("reactiver déjeuner", Verb.UNMUTE, "déjeuner", ""),
        ("outlook non", Verb.OUTLOOK, "non", ""),
        ("outlook oui", Verb.OUTLOOK, "oui", ""),
    ],
)
def test_french_command_words(typed: str, verb: Verb, target: str, rest: str) -> None:
    parsed = parse(typed)
    assert isinstance(parsed, Command)
    assert (parsed.verb, parsed.target, parsed.rest) == (verb, target, rest)


@pytest.mark.parametrize(
    "typed", ["pour info, la salle a changé", "Pour moi c'est bon", "outlook est lent"]
)
def test_pour_without_a_colon_is_a_message(typed: str) -> None:
    assert parse(typed) == Chat(typed)


def test_no_french_word_is_an_english_one_of_another_command() -> None:
    owner = {word: spec.verb for spec in COMMANDS for word in spec.words}
    for spec in COMMANDS:
        for word in spec.words_by[Language.FR]:
            assert owner[word] is spec.verb


def test_help_in_french_lists_the_french_words() -> None:
    shown = help_text(language=Language.FR)
    assert shown.startswith("Send transmet vos messages")
    for word in ("aide", "nouveau <nom>", "pour <groupe>", "historique", "muet", "outlook non"):
        assert f"- {word}" in shown, word
    assert "- help" not in shown and "- help" in help_text(language=Language.EN)


def test_one_tap_answers_in_each_language_are_accepted_as_shown() -> None:
    assert one_tap_answers(language=Language.FR) == ("Oui", "Non", "J'arrive", "Bien reçu")
    assert one_tap("oui") == "Oui" and one_tap("Yes") == "Yes"


def person(name: str, language: Language, zone: str = "") -> Person:
    return Person("t", name, name, email=f"{name}@x.com", language=language, time_zone=zone)


def test_the_mail_is_in_the_majoritys_language_and_zone() -> None:
    people = [
        person("ann", Language.FR, "Europe/Paris"),
        person("bob", Language.FR),
        person("cy", Language.EN, "Europe/Paris"),
    ]
    readers = mail_readers(people, ["ann@x.com", "bob@x.com", "cy@x.com"])
    assert (readers.language, readers.time_zone, readers.mixed) == (
        Language.FR,
        "Europe/Paris",
        True,
    )
    tokyo = person("dee", Language.EN, "Asia/Tokyo")
    readers = mail_readers([*people, tokyo], ["ann@x.com", "cy@x.com", "dee@x.com"])
    assert (readers.language, readers.time_zone) == (Language.EN, "")  # tie, two zones
    assert majority([]) is Language.EN
