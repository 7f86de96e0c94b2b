"""The ready answers every relayed message offers: one tap in Teams, one click in Outlook.

A one-tap answer is relayed like a typed message, from the person who tapped it; only
these texts can be sent that way, so a forged button cannot pass for one.
"""

from __future__ import annotations

from bot.core.errors import Refused

ONE_TAP_ANSWERS: tuple[str, ...] = ("Yes", "No", "On my way", "Got it")


def one_tap(answer: str) -> str:
    """The ready answer a button carries, as offered; Refused for any other text."""
    for offered in ONE_TAP_ANSWERS:
        if answer.strip().casefold() == offered.casefold():
            return offered
    raise Refused("That answer is not one Send offers; type your reply instead.")
