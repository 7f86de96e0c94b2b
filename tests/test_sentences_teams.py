"""Sentences that start with a command word, through the real app: nothing is sent until
the one button is pressed, and then once."""

from __future__ import annotations

from tests.fakes.connector import TeamsPerson, is_receipt
from tests.teams_world import Json, TeamsWorld, card_text
from tests.test_cards import validate


async def lunch(world: TeamsWorld, owner: TeamsPerson, *members: TeamsPerson) -> None:
    for person in (owner, *members):
        await world.install(person)
    await world.say(owner, f"new Lunch: {', '.join(m.email for m in members)}")
    assert world.last_reply(owner).startswith("Created Lunch"), world.last_reply(owner)


def offer(world: TeamsWorld, person: TeamsPerson) -> tuple[str, Json]:
    """(activity id, card) of the last card the bot answered the person with (not a
    receipt, which may arrive after it)."""
    chat = world.connector.chat_of(person.user_id)
    cards = [
        (item.id, att["content"])
        for item in world.connector.received
        if item.conversation_id == chat
        for att in item.activity.get("attachments") or []
        if att.get("contentType") == "application/vnd.microsoft.card.adaptive"
        and not is_receipt(item.activity)
    ]
    assert cards, f"no card to {person.name}"
    return cards[-1]


async def press(world: TeamsWorld, person: TeamsPerson, title: str) -> None:
    card_id, card = offer(world, person)
    (button,) = [a for a in card["actions"] if a["title"] == title]
    assert await world.submit(person, dict(button["data"]), card_id) == 200


async def test_leave_at_5_sends_nothing_and_its_button_sends_it_once(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await lunch(world, ann, bob, cy)

    assert await world.say(ann, "leave at 5?") == 200

    assert world.last_reply(ann) == (
        "“leave at 5?” is not a command you can use (you have no group called “at 5?”). "
        "Send it to Lunch as a message?"
    )
    _, card = offer(world, ann)
    validate(card)
    assert [a["title"] for a in card["actions"]] == ["Send to Lunch"]
    assert "leave at 5?" in card_text(card)
    await world.say(ann, "groups")
    assert "- Lunch: 3 members (active, owner)" in world.last_reply(ann)  # still in it

    await press(world, ann, "Send to Lunch")
    await press(world, ann, "Send to Lunch")  # a double click
    assert world.last_reply(ann) == "Sent to Lunch, now your active group."
    await world.say(ann, "see you")
    for member in (bob, cy):
        await world.wait_relayed(member, 2)
        texts = [card_text(c) for c in world.relayed(member)]
        assert len(texts) == 2 and "leave at 5?" in texts[0] and "see you" in texts[1]
    assert world.relayed(ann) == []


async def test_help_with_words_after_it_is_a_sentence_and_help_alone_is_help(
    world: TeamsWorld,
) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await lunch(world, ann, bob)

    await world.say(ann, "help me carry the boxes")
    assert world.last_reply(ann) == (
        "“help me carry the boxes” is not a command you can use (help takes nothing after it). "
        "Send it to Lunch as a message?"
    )
    await press(world, ann, "Send to Lunch")
    await world.wait_relayed(bob, 1)
    assert "help me carry the boxes" in card_text(world.relayed(bob)[0])

    await world.say(ann, "help")
    assert "- leave <group>" in world.last_reply(ann)


async def test_several_groups_and_none_active_offer_the_picker(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(bob, f"new Lunch: {ann.email}")
    await world.say(cy, f"new Run: {ann.email}")

    await world.say(ann, "use the big room")

    assert world.last_reply(ann).startswith(
        "“use the big room” is not a command you can use (you have no group called “the big room”)."
    )
    _, picker = offer(world, ann)
    assert [a["title"] for a in picker["actions"]] == ["Lunch", "Run"]
    await press(world, ann, "Run")
    await world.wait_relayed(cy, 1)
    assert "use the big room" in card_text(world.relayed(cy)[0])
    assert world.relayed(bob) == []


async def test_leave_lunch_still_leaves(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await lunch(world, ann, bob)
    await world.say(bob, "leave Lunch")
    assert world.last_reply(bob) == "You left Lunch."


async def test_a_french_member_gets_the_french_line_and_button(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    world.client(ann, "fr-FR", "Europe/Paris")
    for person in (ann, bob):
        await world.install(person)
    await world.say(ann, f"nouveau Cantine : {bob.email}")

    await world.say(ann, "quitter à 17h ?")

    assert world.last_reply(ann) == (
        "«\u00a0quitter à 17h ?\u00a0» n'est pas une commande que vous pouvez utiliser "
        "(vous n'avez pas de groupe nommé «\u00a0à 17h ?\u00a0»). L'envoyer à Cantine comme message\u00a0?"
    )
    await press(world, ann, "Envoyer à Cantine")
    await world.wait_relayed(bob, 1)
    assert "quitter à 17h ?" in card_text(world.relayed(bob)[0])
    assert world.last_reply(ann) == "Envoyé à Cantine, qui est maintenant votre groupe actif."
