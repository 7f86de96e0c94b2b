"""The step-by-step `new`: name, members, confirmation, each checked where it is given,
kept with the person between turns (any instance carries on), ended by cancel."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.model import DraftStep, NewGroupDraft
from bot.core.ports import StoreError
from bot.core.texts import Language, say
from bot.core.turn.requests import Answer, MentionedUser, YesNo
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import Core, StoreSpy, build_core, email, personal, user_id
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


async def draft_of(core: Core, name: str = "ann") -> NewGroupDraft | None:
    """The person's draft, without when it was started (compared on its own)."""
    draft = (await core.person(name)).new_group
    return None if draft is None else replace(draft, started_at=None)


async def at_confirmation(core: Core) -> Answer:
    """Ann has answered the name (lunch) and the members (Bob, and Cy by @mention)."""
    await core.say("new")
    await core.say("lunch")
    cy = MentionedUser(user_id("cy"), "Cy")
    return await core.conversation.handle(personal("bob@x.com,", mentions=(cy,)))


async def test_new_alone_asks_for_the_name_and_keeps_the_step_with_the_person(
    core: Core,
) -> None:
    answer = await core.say("new")
    assert answer.text == say(Language.EN, "dialog.ask_name") and answer.buttons is None
    assert answer.person is not None and answer.person.new_group is not None
    assert answer.person.new_group.started_at == core.clock.now()
    assert await draft_of(core) == NewGroupDraft(DraftStep.NAME)


async def test_a_bad_name_is_asked_again_with_the_reason(core: Core) -> None:
    await core.say("new taken: bob@x.com")
    await core.say("new")
    too_long = await core.say("x" * 61)
    assert too_long.text == (
        "Group names have at most 60 characters; that one has 61. What should it be called?"
    )
    taken = await core.say("Taken")
    assert taken.text.startswith("You already have a group named taken")
    assert await draft_of(core) == NewGroupDraft(DraftStep.NAME)


async def test_a_good_name_asks_for_the_members(core: Core) -> None:
    await core.say("new")
    answer = await core.say("  Book club ")
    assert answer.text.startswith("Who should be in Book club?")
    assert await draft_of(core) == NewGroupDraft(DraftStep.MEMBERS, name="Book club")


async def test_new_with_a_taken_name_asks_for_another(core: Core) -> None:
    await core.say("new lunch: bob@x.com")
    answer = await core.say("new lunch")
    assert answer.text.startswith("You already have a group named lunch")
    assert answer.text.endswith("What should it be called?")
    assert await draft_of(core) == NewGroupDraft(DraftStep.NAME)


async def test_bad_members_are_asked_again_and_good_ones_are_confirmed_with_yes_and_no(
    core: Core,
) -> None:
    await core.say("new lunch")
    wrong = await core.say("bob@x.com, nonsense")
    assert wrong.text.startswith("nonsense is not an e-mail address.")
    assert (await draft_of(core)) == NewGroupDraft(DraftStep.MEMBERS, name="lunch")

    answer = await at_confirmation(core)

    assert answer.text == "Create lunch with bob@x.com, Cy?"
    assert answer.buttons == YesNo()
    draft = await draft_of(core)
    assert draft is not None and draft.step is DraftStep.CONFIRM
    assert draft.members == "bob@x.com,"
    assert [m.teams_user_id for m in draft.mentions] == [user_id("cy")]


async def test_yes_creates_the_group_ends_the_dialog_and_makes_it_active(core: Core) -> None:
    await at_confirmation(core)

    answer = await core.say("Yes")

    assert answer.text == "Created lunch with Cy, bob@x.com. Anything you type now goes to lunch."
    assert await draft_of(core) is None
    lunch = await core.group("ann", "lunch")
    assert lunch.has_member(email("bob")) and len(lunch.members) == 3
    assert (await core.say("first course?")).text == ""
    await core.relayed()
    assert [mail.recent[-1].text for mail in core.outlook.mails] == ["first course?"]


async def test_no_creates_nothing(core: Core) -> None:
    await at_confirmation(core)
    answer = await core.say("no")
    assert answer.text == "OK, no group was created."
    assert await draft_of(core) is None
    assert await core.store.groups_of("t1", email("ann")) == []


async def test_anything_else_at_the_confirmation_asks_for_yes_or_no(core: Core) -> None:
    await at_confirmation(core)
    answer = await core.say("maybe later")
    assert answer.text == "Create lunch? Answer yes or no (or cancel)."
    assert answer.buttons == YesNo()
    draft = await draft_of(core)
    assert draft is not None and draft.step is DraftStep.CONFIRM
    assert await core.store.groups_of("t1", email("ann")) == []


@pytest.mark.parametrize("step", ["name", "members", "confirmation"])
async def test_cancel_at_any_step_ends_it_with_nothing_created(core: Core, step: str) -> None:
    await core.say("new")
    if step != "name":
        await core.say("lunch")
    if step == "confirmation":
        await core.say("bob@x.com")
    answer = await core.say("Cancel")
    assert answer.text == say(Language.EN, "cancelled")
    assert await draft_of(core) is None
    assert await core.store.groups_of("t1", email("ann")) == []
    assert (await core.say("help")).text.startswith(say(Language.EN, "help.intro"))


async def test_what_looks_like_a_command_is_an_answer_during_the_dialog(core: Core) -> None:
    await core.say("new")
    answer = await core.say("groups")
    assert answer.text.startswith("Who should be in groups?")


async def test_the_next_answer_is_taken_by_another_instance(
    store: DocumentStore, clock: FakeClock
) -> None:
    first, second = build_core(store, clock), build_core(store, clock)
    await first.say("new")
    await second.say("lunch")
    await first.say("bob@x.com")
    assert (await second.say("yes")).text.startswith("Created lunch")


async def test_an_answer_teams_sends_again_is_answered_once(core: Core) -> None:
    await at_confirmation(core)
    first = await core.say("yes", key="yes-1")
    again = await core.say("yes", key="yes-1")
    assert first.text.startswith("Created lunch") and again.text == ""
    assert len(await core.store.groups_of("t1", email("ann"))) == 1
    # Nor is the resent "yes" a message to the new group.
    assert await core.relayed() == []


async def test_a_store_outage_at_yes_keeps_the_dialog_so_the_resent_yes_creates(
    clock: FakeClock,
) -> None:
    spy = StoreSpy(DocumentStore(MemoryDocuments()))
    core = build_core(spy, clock)
    await at_confirmation(core)
    spy.fail("save_group")
    with pytest.raises(StoreError):
        await core.say("yes", key="yes-1")
    draft = await draft_of(core)
    assert draft is not None and draft.step is DraftStep.CONFIRM
    answer = await core.say("yes", key="yes-1")
    assert answer.text.startswith("Created lunch")
    assert await draft_of(core) is None


async def test_a_french_reader_is_asked_in_french_and_answers_oui(core: Core) -> None:
    async def french(text: str) -> Answer:
        request = personal(text)
        sender = replace(request.sender, locale="fr-FR")
        return await core.conversation.handle(replace(request, sender=sender))

    assert (await french("nouveau")).text == say(Language.FR, "dialog.ask_name")
    assert (await french("déjeuner")).text.startswith("Qui doit faire partie de déjeuner")
    assert (await french("bob@x.com")).text == "Créer déjeuner avec bob@x.com\u00a0?"
    assert (await french("peut-être")).text.startswith("Créer déjeuner\u00a0? Répondez oui ou non")
    created = await french("Oui")
    assert created.text == say(Language.FR, "group.created", group="déjeuner", who="bob@x.com")
    assert [g.name for g in await core.store.groups_of("t1", email("ann"))] == ["déjeuner"]


async def test_a_draft_left_for_a_day_is_forgotten(core: Core) -> None:
    await core.say("new lunch: bob@x.com")  # a group, so words have somewhere to go
    await core.say("new")
    core.clock.advance(12 * 3600)
    assert (await core.say("book club")).text.startswith("Who should be in book club?")
    core.clock.advance(13 * 3600)  # a day after `new`: forgotten, read as a message
    answer = await core.say("see you at noon")
    assert answer.text == "" and await draft_of(core) is None
    await core.relayed()
    assert core.outlook.mails[-1].recent[-1].text == "see you at noon"
