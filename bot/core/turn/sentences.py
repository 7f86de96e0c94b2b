"""Words that start with a command word but read as a sentence: telling them from a
command, and offering to send them as typed."""

from __future__ import annotations

from bot.core.errors import NotACommand, Refused
from bot.core.membership.groups import Groups, name_key
from bot.core.membership.people import ActiveGroup
from bot.core.model import Person
from bot.core.sending.relay import Relay
from bot.core.texts import say
from bot.core.turn.requests import (
    Answer,
    GroupChoice,
    GroupPicker,
    SendAsMessage,
    TeamsRequest,
)

# Words that were no command are quoted in the answer up to this many characters.
_SHOWN_CHARS = 80


class Sentences:
    def __init__(self, groups: Groups, relay: Relay) -> None:
        self._groups = groups
        self._relay = relay

    async def offer(
        self,
        person: Person,
        refusal: NotACommand,
        request: TeamsRequest,
        active: ActiveGroup | None,
    ) -> Answer:
        """Words that start with a command word but are no command this person can use are
        most likely a sentence ("leave at 5?"). Nothing is sent: one line says why it is no
        command, and one button offers to send the words, as typed, where a message would
        go (the picker when that is not one group; nothing to offer without groups). The
        button is a pick (`CardActions.card_action`): sent once however often it is pressed."""
        lang = person.language
        typed = (request.spoken or request.text).strip()
        try:
            self._relay.check_text(typed)
        except Refused:
            return Answer(refusal.say(lang))
        if request.media:  # only `to` reads words with a photo: its own refusal
            return Answer(refusal.say(lang))
        groups = [active.group] if active is not None else []
        if not groups and person.active_group_id:
            found = await self._groups.active(person)
            groups = [found] if found is not None else []
        if not groups:
            groups = await self._groups.of(person)
        if not groups:
            return Answer(refusal.say(lang))
        shown = " ".join(typed.split())  # one line, however it was typed
        if len(shown) > _SHOWN_CHARS:
            shown = shown[: _SHOWN_CHARS - 1] + "…"
        if len(groups) == 1:
            group = groups[0]
            line = say(lang, "sentence.offer", typed=shown, why=refusal.why, group=group.name)
            offered = GroupChoice(group.group_id, group.name)
            return Answer(line, buttons=SendAsMessage(offered, typed))
        choices = tuple(GroupChoice(g.group_id, g.name) for g in groups)
        return Answer(
            say(lang, "sentence.pick", typed=shown, why=refusal.why),
            buttons=GroupPicker(choices, typed),
        )

    async def names_a_group(self, person: Person, words: str) -> bool:
        """Whether `words` start with the name of one of the person's groups."""
        key = name_key(words)
        names = [name_key(g.name) for g in await self._groups.of(person)]
        return any(key == name or key.startswith(name + " ") for name in names)
