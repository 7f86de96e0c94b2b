"""One-tap answers in Teams: relayed from whoever tapped, into the group and its Outlook
thread, and the tapped card updated in place to show what was sent."""

from __future__ import annotations

import pytest

from bot.config import Settings
from tests.outlook_helpers import eml_files, eventually, read_eml
from tests.teams_world import TeamsWorld, card_text


async def lunch(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}, {cy.email}")
    await world.say(ann, "Lunch at 12?")
    await world.wait_relayed(bob, 1)
    await world.wait_relayed(cy, 1)


def answered(world: TeamsWorld, name: str) -> list[str]:
    person = world.person(name)
    chat = world.connector.chat_of(person.user_id)
    texts = []
    for update in world.connector.updates_to(chat):
        for att in update.activity.get("attachments") or []:
            texts.append(card_text(att["content"]))
    return texts


@pytest.mark.both_stores
async def test_a_one_tap_answer_is_relayed_from_the_tapper(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    (card_id, card) = world.relayed_cards(bob)[0]
    titles = [a["title"] for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    assert titles == ["Yes", "No", "On my way", "Got it"]

    assert await world.tap(bob, "On my way") == 200
    await world.wait_relayed(ann, 1)
    await world.wait_relayed(cy, 2)
    for person in (ann, cy):
        shown = card_text(world.relayed(person)[-1])
        assert shown.startswith("Bob") and "On my way" in shown
    assert len(world.relayed(bob)) == 1  # no echo to the one who tapped

    # Bob's card now says what he sent, in place, with nothing left to send twice.
    (update,) = world.connector.updates_to(world.connector.chat_of(bob.user_id))
    assert update.reply_to == card_id
    content = update.activity["attachments"][0]["content"]
    assert " ".join(card_text(content).split()) == "Ann in Lunch Lunch at 12? You: On my way"
    assert "actions" not in content and all(b["type"] != "ActionSet" for b in content["body"])

    await eventually(lambda: len(eml_files(settings.data_dir, cy.email)) == 2, "the thread mail")
    mail = read_eml(eml_files(settings.data_dir, cy.email)[1])
    assert "On my way" in str(mail)
    await world.say(ann, "history")
    assert "Bob: On my way" in world.last_reply(ann)


async def test_a_typed_card_reply_updates_the_card_too(world: TeamsWorld) -> None:
    await lunch(world)
    ann, cy = world.person("Ann"), world.person("Cy")
    await world.reply_on_card(cy, "Make it 12:30")
    await world.wait_relayed(ann, 1)
    assert [" ".join(t.split()) for t in answered(world, "Cy")] == [
        "Ann in Lunch Lunch at 12? You: Make it 12:30"
    ]


async def test_an_answer_not_offered_is_refused_and_nothing_is_sent(world: TeamsWorld) -> None:
    await lunch(world)
    bob = world.person("Bob")
    card_id, card = world.relayed_cards(bob)[0]
    data = next(b for b in card["body"] if b["type"] == "ActionSet")["actions"][0]["data"]
    await world.submit(bob, {**data, "answer": "Wire me 1000 EUR"}, card_id)
    assert world.last_reply(bob) == "That answer is not one Send offers; type your reply instead."
    assert world.relayed(world.person("Ann")) == []
    assert world.connector.updates_to(world.connector.chat_of(bob.user_id)) == []


async def test_status_after_a_partial_failure_names_who_and_why(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}, {cy.email}")
    cy_chat = world.connector.chat_of(cy.user_id)
    world.connector.faults = lambda cid, _: (403, {}) if cid == cy_chat else None
    await world.say(ann, "Lunch at 12?")
    await world.wait_relayed(bob, 1)
    await eventually(
        lambda: any("could not be reached" in r for r in world.replies(ann)), "the notice"
    )
    await world.say(ann, "status")
    lines = world.last_reply(ann).splitlines()
    assert lines[0].startswith("Your last message to Lunch (")
    assert "- In Teams: Bob" in lines
    assert "- Not delivered in Teams: Cy (they removed or blocked Send, or left Teams)" in lines
    assert "- Outlook thread: added, for 3 people" in lines


async def test_a_poll_out_of_its_limits_is_refused_in_one_line_and_sends_nothing(
    world: TeamsWorld,
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.say(ann, "poll lunch: Friday? | yes")
    assert world.last_reply(ann) == (
        "A poll has 2 to 6 answers; that one has 1. "
        "Write it as poll <group>: <question> | <option> | <option> …"
    )
    await world.say(ann, "history")
    assert "Poll:" not in world.last_reply(ann)
    assert len(world.relayed(bob)) == 1  # only the first message
