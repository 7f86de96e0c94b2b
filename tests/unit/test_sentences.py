"""Sentences that start with a command word ("leave at 5?") are offered as messages, never
taken for a command this person cannot use, and never sent without a click."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.model import DraftStep, NewGroupDraft
from bot.core.texts import Language
from bot.core.turn.commands import help_text
from bot.core.turn.requests import (
    ActionKind,
    Answer,
    CardAction,
    GroupChoice,
    GroupPicker,
    SendAsMessage,
)
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import Core, build_core, email, personal
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


async def lunch_of_ann_and_bob(core: Core) -> GroupChoice:
    """Ann makes lunch with Bob; it is her active group."""
    answer = await core.say("new lunch: bob@x.com")
    assert answer.text.startswith("Created lunch"), answer.text
    lunch = await core.group("ann", "lunch")
    return GroupChoice(lunch.group_id, "lunch")


async def press(core: Core, answer: Answer, card_id: str = "offer-1", who: str = "ann") -> Answer:
    """The person presses the offered button, as the Teams edge reads it (a pick)."""
    assert isinstance(answer.buttons, SendAsMessage)
    offer = answer.buttons
    pick = CardAction(ActionKind.PICK, offer.group.group_id, offer.text, card_id)
    return await core.conversation.handle(personal(action=pick, who=who))


async def sent_texts(core: Core) -> list[str]:
    """What the group was sent: the messages of its Outlook thread (Bob is Outlook-only)."""
    await core.relayed()
    return [mail.recent[-1].text for mail in core.outlook.mails]


async def test_leave_with_a_group_they_do_not_have_sends_nothing_and_offers_one_button(
    core: Core,
) -> None:
    lunch = await lunch_of_ann_and_bob(core)

    answer = await core.say("leave at 5?")

    assert answer.text == (
        "“leave at 5?” is not a command you can use (you have no group called “at 5?”). "
        "Send it to lunch as a message?"
    )
    assert answer.buttons == SendAsMessage(lunch, "leave at 5?")
    assert await sent_texts(core) == [] and await core.relayed() == []
    assert (await core.group("ann", "lunch")).has_member(email("ann"))


async def test_pressing_the_button_twice_sends_the_words_as_typed_once(core: Core) -> None:
    await lunch_of_ann_and_bob(core)
    answer = await core.say("leave at 5?")

    first = await press(core, answer)
    second = await press(core, answer)  # the same card clicked again

    assert first.text == "Sent to lunch, now your active group."
    assert second.text == first.text
    assert await sent_texts(core) == ["leave at 5?"]  # once


async def test_a_pressed_button_is_refused_once_the_person_left_the_group(core: Core) -> None:
    await lunch_of_ann_and_bob(core)
    answer = await core.say("leave at 5?")
    await core.say("leave lunch")

    pressed = await press(core, answer)

    assert pressed.text == "That group no longer exists, or you are no longer a member of it."
    assert await sent_texts(core) == []


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("help me carry the boxes", "help takes nothing after it"),
        ("groups of four please", "groups takes nothing after it"),
        ("use the big room", "you have no group called “the big room”"),
        ("members of the board", "you have no group called “of the board”"),
        ("history repeats itself", "you have no group called “repeats itself”"),
        ("status update is late", "you have no group called “update is late”"),
        ("mute the TV please", "you have no group called “the TV please”"),
        ("unmute yourself Bob", "you have no group called “yourself Bob”"),
        (
            "delete the old slides before Friday",
            "you have no group called “the old slides before Friday”",
        ),
        ("rename the file: budget.xlsx", "you have no group called “the file”"),
        ("add more chairs to the room", "write it as add <group>: <members>"),
        ("to be honest I like it", "write it as to <group>: <text>"),
        ("poll results are in", "write it as poll <group>: <question> | <option> | <option> …"),
    ],
)
async def test_words_that_are_no_command_for_this_person_are_offered(
    core: Core, typed: str, why: str
) -> None:
    lunch = await lunch_of_ann_and_bob(core)
    before = await core.group("ann", "lunch")

    answer = await core.say(typed)

    assert answer.text == (
        f"“{typed}” is not a command you can use ({why}). Send it to lunch as a message?"
    )
    assert answer.buttons == SendAsMessage(lunch, typed)
    assert await sent_texts(core) == []
    assert await core.group("ann", "lunch") == before


@pytest.mark.parametrize(
    ("typed", "answered"),
    [
        ("help", help_text(language=Language.EN)),
        ("leave lunch", "You left lunch."),
        ("to lunch: hi", ""),
        ("to nowhere: hi", "You have no group named nowhere. Type groups to see yours."),
        ("add lunch bob@x.com", "Write it as add <group>: <members>."),
        ("add", "Write it as add <group>: <members>."),
        ("leave", "Which group? Add its name (type groups to see yours)."),
        ("delete lunch", "Only the owner of lunch (Ann) can delete it."),
    ],
)
async def test_commands_and_their_own_mistakes_are_answered_as_before(
    core: Core, typed: str, answered: str
) -> None:
    """Bob, a member of Ann's lunch, types a command: no offer, what it always answered."""
    await lunch_of_ann_and_bob(core)

    answer = await core.say(typed, who="bob")

    assert answer.text == answered
    assert answer.buttons is None


async def test_new_with_a_name_and_no_colon_still_starts_the_dialog(core: Core) -> None:
    await lunch_of_ann_and_bob(core)
    answer = await core.say("new menu at the canteen")
    assert answer.text.startswith("Who should be in menu at the canteen?")
    assert answer.buttons is None
    draft = (await core.person("ann")).new_group
    assert draft is not None
    assert replace(draft, started_at=None) == NewGroupDraft(
        DraftStep.MEMBERS, name="menu at the canteen"
    )


async def test_with_one_group_and_none_active_that_group_is_offered(core: Core) -> None:
    await core.say("new lunch: ann@x.com", who="bob")  # Ann's only group, never made active
    lunch = await core.group("bob", "lunch")
    assert (await core.person("ann")).active_group_id == ""

    answer = await core.say("leave at 5?")

    assert answer.buttons == SendAsMessage(GroupChoice(lunch.group_id, "lunch"), "leave at 5?")
    assert await sent_texts(core) == []
    await press(core, answer)
    assert await sent_texts(core) == ["leave at 5?"]


async def test_with_several_groups_and_none_active_the_picker_is_offered(core: Core) -> None:
    await core.say("new lunch: ann@x.com", who="bob")
    await core.say("new book club: ann@x.com", who="cy")

    answer = await core.say("help me carry the boxes")

    assert answer.text == (
        "“help me carry the boxes” is not a command you can use (help takes nothing after it). "
        "Send it as a message? Pick a group; nothing was sent yet."
    )
    assert isinstance(answer.buttons, GroupPicker)
    assert {c.name for c in answer.buttons.choices} == {"lunch", "book club"}
    assert answer.buttons.text == "help me carry the boxes"
    assert await sent_texts(core) == []


async def test_with_no_groups_only_the_commands_problem_is_said(core: Core) -> None:
    for typed, answered in (
        ("leave at 5?", "You have no group named at 5?. Type groups to see yours."),
        ("help me carry the boxes", "Type help alone, with nothing after it."),
        ("add more chairs", "Write it as add <group>: <members>."),
    ):
        answer = await core.say(typed)
        assert answer.text == answered
        assert answer.buttons is None


async def test_a_french_reader_gets_the_line_in_french(core: Core) -> None:
    await lunch_of_ann_and_bob(core)
    request = personal("quitter à 17h ?")
    french = replace(request, sender=replace(request.sender, locale="fr-FR"))

    answer = await core.conversation.handle(french)

    nbsp = "\u00a0"
    assert answer.text == (
        "«\u00a0quitter à 17h ?\u00a0» n'est pas une commande que vous pouvez utiliser "
        f"(vous n'avez pas de groupe nommé «\u00a0à 17h ?\u00a0»). L'envoyer à lunch comme message{nbsp}?"
    )
    assert isinstance(answer.buttons, SendAsMessage)
    assert answer.buttons.text == "quitter à 17h ?"
    assert answer.person is not None and answer.person.language.value == "fr"


async def test_a_long_sentence_is_shortened_in_the_line_and_kept_whole_on_the_button(
    core: Core,
) -> None:
    await lunch_of_ann_and_bob(core)
    typed = "help " + "with the move " * 20

    answer = await core.say(typed)

    assert isinstance(answer.buttons, SendAsMessage)
    assert answer.buttons.text == typed.strip()
    assert typed.strip() not in answer.text and "help with the move with" in answer.text
    assert answer.text.index("” is not a command") <= 81  # the quote, then 80 characters
