"""The core's one error type for product rules."""

from __future__ import annotations

from bot.core.texts import Language, Text


class Refused(Exception):
    """A request that breaks a rule; the text is the one line shown to the person.

    Raised before anything is written, so a refused request leaves nothing half-done.
    Worded as a `Text`, it is shown in the reader's language (`say`); `str()` is English.
    A plain string (from code that words its own refusals) is shown as it is.
    """

    def __init__(self, reason: str | Text) -> None:
        super().__init__(str(reason))
        self.reason = reason

    def say(self, language: Language) -> str:
        if isinstance(self.reason, Text):
            return self.reason.say(language)
        return self.reason
