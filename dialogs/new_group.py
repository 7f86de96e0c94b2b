"""The Teams rendering of the step-by-step `new` (the steps themselves are the core's
`bot.core.turn.new_group`): its questions as text, and the confirmation with Yes and
No buttons in the person's language.

The buttons are laid out by botbuilder-dialogs' `ChoiceFactory` for the channel (a
hero card in Teams, suggested actions where a client has them); a tap sends the
button's word back as the person's answer, which the core reads as yes or no.
"""

from __future__ import annotations

from botbuilder.schema import Activity

from bot.core.texts import Language, say


def yes_no_question(text: str, *, channel_id: str, language: Language) -> Activity:
    """The question with a Yes and a No button (the text is a card's: plain, not markdown)."""
    # botbuilder-dialogs takes about 0.3 s to import: the first question pays it, not the
    # start.
    from botbuilder.dialogs.choices import ChoiceFactory

    choices = [say(language, "answer.yes"), say(language, "answer.no")]
    activity: Activity = ChoiceFactory.for_channel(channel_id, choices, text)
    return activity
