"""The core's one error type for product rules."""

from __future__ import annotations

from bot.core.texts import Language, Text, text


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


class NotACommand(Refused):
    """Words that start with a command word but are no command this person can use
    ("leave at 5?" with no group of that name, "help me carry the boxes"): most likely a
    sentence. `reason` is the command's own refusal; `why` says in a few words what is
    wrong with it as a command, for the offer to send the words as a message instead."""

    def __init__(self, reason: str | Text, why: Text) -> None:
        super().__init__(reason)
        self.why = why


class NoSuchGroup(NotACommand):
    """The person has no group of the name they typed."""

    def __init__(self, name: str) -> None:
        super().__init__(text("group.none_named", name=name), text("sentence.no_group", name=name))
        self.name = name


class MediaNotTaken(Refused):
    """A photo or file refused (not what it claims, too large...): nothing of the message
    was sent. `why` is the reason alone, for a message sent on without its media."""

    def __init__(self, why: Text) -> None:
        super().__init__(text("media.nothing_sent", reason=why))
        self.why = why
