"""`new` with no member list: Send asks for the name, then the members, then confirms.

A small state machine whose state is the person's `NewGroupDraft`, kept with them in
the store, so whichever instance gets the next answer carries on. Each answer is
checked where it is given, by the same rules as a typed `new`, and asked again with
the reason; `cancel` ends it with nothing created. The Teams rendering of the steps
(the yes/no buttons) is in `dialogs/`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.errors import Refused
from bot.core.membership.addresses import Mention, parse_members
from bot.core.membership.groups import Groups, check_member_list
from bot.core.membership.people import update_person
from bot.core.model import DraftStep, NewGroupDraft, Person
from bot.core.ports import Clock, PeopleStore
from bot.core.texts import say
from bot.core.turn.commands import is_cancel
from bot.core.turn.requests import Answer, YesNo

# What counts as yes and no at the confirmation, in every language (and the numbers
# of the buttons as some clients type them).
YES_WORDS = frozenset({"yes", "y", "ok", "1", "oui", "o"})
NO_WORDS = frozenset({"no", "n", "2", "non"})


# A step-by-step `new` left unanswered this long is forgotten: what comes next is read
# as it would be without it.
DRAFT_LIFETIME = timedelta(days=1)


class NewGroupDialog:
    def __init__(self, groups: Groups, store: PeopleStore, clock: Clock) -> None:
        self._groups = groups
        self._store = store
        self._clock = clock

    def expired(self, draft: NewGroupDraft) -> bool:
        started = draft.started_at
        return started is not None and self._clock.now() - started > DRAFT_LIFETIME

    async def forget(self, person: Person) -> Person:
        """The person without their expired draft."""
        return (await self._ask(person, None, "")).person or person

    async def start(self, person: Person, name: str) -> Answer:
        """`new` or `new <name>`: the first question (the members, when a good name came)."""
        lang = person.language
        if not name.strip():
            return await self._ask(
                person, NewGroupDraft(DraftStep.NAME), say(lang, "dialog.ask_name")
            )
        try:
            checked = await self._groups.check_new_name(person, name)
        except Refused as refusal:
            line = say(lang, "dialog.name_again", reason=refusal.say(lang))
            return await self._ask(person, NewGroupDraft(DraftStep.NAME), line)
        draft = NewGroupDraft(DraftStep.MEMBERS, name=checked)
        return await self._ask(person, draft, say(lang, "dialog.ask_members", group=checked))

    async def answer(
        self,
        person: Person,
        draft: NewGroupDraft,
        typed: str,
        mentions: tuple[Mention, ...],
        activity_key: str,
    ) -> Answer:
        """The person's answer to the last question; `mentions` are those @mentioned in it,
        `activity_key` the Teams activity it came in (remembered if it ends the dialog)."""
        lang = person.language
        if is_cancel(typed):
            await self._end(person, activity_key)
            return Answer(say(lang, "cancelled"))
        match draft.step:
            case DraftStep.NAME:
                return await self.start(person, typed)
            case DraftStep.MEMBERS:
                members = parse_members(typed, mentions)
                try:
                    check_member_list(person, members)
                except Refused as refusal:
                    return Answer(say(lang, "dialog.members_again", reason=refusal.say(lang)))
                who = ", ".join([*members.addresses, *(m.display_name for m in members.mentions)])
                line = say(lang, "dialog.confirm", group=draft.name, who=who)
                confirming = replace(
                    draft, step=DraftStep.CONFIRM, members=typed, mentions=mentions
                )
                return replace(await self._ask(person, confirming, line), buttons=YesNo())
            case DraftStep.CONFIRM:
                return await self._confirm(person, draft, typed.strip().casefold(), activity_key)

    async def _confirm(
        self, person: Person, draft: NewGroupDraft, said: str, activity_key: str
    ) -> Answer:
        lang = person.language
        if said in NO_WORDS:
            await self._end(person, activity_key)
            return Answer(say(lang, "dialog.not_created"))
        if said not in YES_WORDS:
            return Answer(say(lang, "dialog.yes_or_no", group=draft.name), buttons=YesNo())
        try:
            members = parse_members(draft.members, draft.mentions)
            created = (await self._groups.create(person, draft.name, members)).text
        except Refused as refusal:
            created = refusal.say(lang)
        # Ended only once the group exists: if the store fails first, Teams sends the
        # "yes" again and it is read as a "yes" again, not as a message to a group.
        await self._end(person, activity_key)
        return Answer(created)

    async def _end(self, person: Person, activity_key: str) -> None:
        await update_person(
            self._store,
            person.tenant_id,
            person.person_id,
            lambda p: replace(p, new_group=None, new_group_ended_by=activity_key),
        )

    async def _ask(self, person: Person, draft: NewGroupDraft | None, line: str) -> Answer:
        """Keeps where the person now is (None: the dialog is over) and asks `line`."""
        if draft is not None:
            began = person.new_group.started_at if person.new_group is not None else None
            draft = replace(draft, started_at=began or self._clock.now())
        if person.new_group != draft:
            updated = await update_person(
                self._store,
                person.tenant_id,
                person.person_id,
                lambda p: replace(p, new_group=draft),
            )
            person = updated or person
        return Answer(line, person=person)
