"""Every text Send shows a person, by key, in English and French.

`en.py` and `fr.py` hold one catalog each: the same keys, the same placeholders (a unit
test checks both). A value is a template for `str.format`, or a pair (singular, plural)
chosen by the `count` placeholder: English uses the singular for 1, French for 0 and 1.
The core words its answers as `Text` (a key and its values) or renders them with `say`
in the reader's language; the adapters only show them.

Dates and times are written here too, in the reader's time zone, never through the OS
locale: today's as the time only, older ones with the day ("Tue 1 Dec 10:00",
"mar. 1 déc. 10:00"); without a known zone in UTC, said as such ("10:00 UTC").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.texts import en, fr

Template = str | tuple[str, str]


class Language(StrEnum):
    EN = "en"
    FR = "fr"


CATALOGS: Mapping[Language, Mapping[str, Template]] = {
    Language.EN: en.TEXTS,
    Language.FR: fr.TEXTS,
}


def language_of(locale: str) -> Language:
    """The language for a locale or language tag: "fr", "fr-FR", "fr-CA" are French;
    anything else (or nothing) is English."""
    primary = locale.strip().replace("_", "-").split("-")[0].casefold()
    return Language.FR if primary == "fr" else Language.EN


def stored_language(value: object) -> Language:
    """A language as stored ("en", "fr"); anything else reads as English."""
    try:
        return Language(str(value))
    except ValueError:
        return Language.EN


def zone_named(name: str) -> tzinfo | None:
    """The IANA time zone of that name, or None when it is unknown (never an error)."""
    name = name.strip()
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def valid_zone(name: str) -> str:
    """`name` when it is a known IANA time zone, else ""."""
    return name.strip() if zone_named(name) is not None else ""


@dataclass(frozen=True)
class Text:
    """A text not rendered yet: rendered for each reader, in their language."""

    key: str
    values: tuple[tuple[str, Value], ...] = ()

    def say(self, language: Language) -> str:
        return say(language, self.key, **dict(self.values))

    def __str__(self) -> str:
        return self.say(Language.EN)


@dataclass(frozen=True)
class Listed:
    """Several texts shown as one value, each in the reader's language: "a; b"."""

    parts: tuple[Text, ...]
    separator: str = "; "

    def say(self, language: Language) -> str:
        return self.separator.join(part.say(language) for part in self.parts)


@dataclass(frozen=True)
class Number:
    """A large number, grouped as the reader writes it: "10,485,760", "10 485 760"."""

    value: int

    def say(self, language: Language) -> str:
        grouped = f"{self.value:,}"
        return grouped if language is Language.EN else grouped.replace(",", "\u202f")


Value = str | int | Text | Listed | Number


def text(key: str, **values: Value) -> Text:
    if key not in en.TEXTS:
        raise KeyError(key)
    return Text(key, tuple(values.items()))


def is_singular(language: Language, count: int) -> bool:
    """English: 1 member, 0 members. French: 0 membre, 1 membre, 2 membres."""
    return count == 1 if language is Language.EN else abs(count) < 2


def say(language: Language, key: str, **values: Value) -> str:
    template = CATALOGS[language][key]
    shown = {
        k: v.say(language) if isinstance(v, Text | Listed | Number) else v
        for k, v in values.items()
    }
    if isinstance(template, tuple):
        count = values.get("count")
        if not isinstance(count, int):
            raise TypeError(f"{key} needs a whole count")
        template = template[0] if is_singular(language, count) else template[1]
    return template.format(**shown)


def joined(language: Language, items: Iterable[str]) -> str:
    """ "a, b and c" / "a, b et c"."""
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return say(language, "list.and", first=", ".join(items[:-1]), last=items[-1])


def majority(languages: Iterable[Language]) -> Language:
    """The language most of these people read; a tie (or nobody) is English."""
    counts = {lang: 0 for lang in Language}
    for lang in languages:
        counts[lang] += 1
    best = max(counts.values())
    winners = [lang for lang, n in counts.items() if n == best]
    return winners[0] if len(winners) == 1 else Language.EN


def _dated(language: Language, key: str, local: datetime, time: str) -> str:
    """`local` with its day, worded by `key` ("date.day", "date.year", "date.mail")."""
    return say(
        language,
        key,
        weekday=say(language, f"day.{local.weekday()}"),
        day=local.day,
        month=say(language, f"month.{local.month}"),
        year=local.year,
        time=time,
    )


@lru_cache(maxsize=4096)  # a mail shows the same recent messages' times again and again
def when_dated(language: Language, moment: datetime, zone: str) -> str:
    """A moment with its day, as a mail shows it ("Tue 8 Dec, 10:00", "mar. 8 déc., 10:00"):
    in the reader's zone, else in UTC said as such."""
    place = zone_named(zone)
    local = moment.astimezone(place or UTC)
    clock = _dated(language, "date.mail", local, f"{local:%H:%M}")
    return clock if place is not None else say(language, "date.utc", time=clock)


def when(language: Language, moment: datetime, zone: str, now: datetime) -> str:
    """A moment as the reader reads it: in their zone, else in UTC said as such; the
    time alone when it is today there, else with the day and month."""
    return _when_on(language, moment, zone, now.astimezone(zone_named(zone) or UTC).date())


@lru_cache(maxsize=4096)  # cards and mails show the same recent messages' times again
def _when_on(language: Language, moment: datetime, zone: str, today: date) -> str:
    place = zone_named(zone)
    local = moment.astimezone(place or UTC)
    clock = f"{local:%H:%M}"
    if local.date() != today:
        key = "date.day" if local.year == today.year else "date.year"
        clock = _dated(language, key, local, clock)
    return clock if place is not None else say(language, "date.utc", time=clock)
