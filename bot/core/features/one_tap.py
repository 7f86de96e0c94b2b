"""The ready answers every relayed message offers: one tap in Teams, one click in Outlook.

A one-tap answer is relayed like a typed message, from the person who tapped it; only
these texts can be sent that way, so a forged button cannot pass for one. Each reader's
buttons carry the answers in their language ("Yes", "Oui"), relayed as shown.
"""

from __future__ import annotations

from bot.core.errors import Refused
from bot.core.texts import Language, say, text

ONE_TAP_KEYS: tuple[str, ...] = ("answer.yes", "answer.no", "answer.on_my_way", "answer.got_it")


def one_tap_answers(*, language: Language) -> tuple[str, ...]:
    return tuple(say(language, key) for key in ONE_TAP_KEYS)


def one_tap(answer: str) -> str:
    """The ready answer a button carries, as offered (in any language); Refused for any
    other text."""
    for language in Language:
        for offered in one_tap_answers(language=language):
            if answer.strip().casefold() == offered.casefold():
                return offered
    raise Refused(text("answer.not_offered"))
