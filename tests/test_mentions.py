"""An @mention in a message keeps the person's name in every copy, and is a real Teams
mention in the cards where the person mentioned is a member of the group."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from tests.outlook_helpers import eml_files, eventually, read_eml
from tests.teams_world import TeamsWorld, card_text

Json = dict[str, Any]


def text_blocks(card: Json) -> list[str]:
    return [str(b["text"]) for b in card["body"] if b["type"] == "TextBlock"]


async def test_a_member_mentioned_is_a_real_mention_and_others_stay_names(
    world: TeamsWorld, settings: Settings
) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    dee = world.person("Dee")  # in Teams, but not in the group
    for person in (ann, bob, cy, dee):
        await world.install(person)
    await world.say(ann, f"new Slides: {bob.email}, {cy.email}")
    assert (
        await world.say(
            ann, "thanks <at>Bob</at> for the slides (and <at>Dee</at>) *really*", [bob, dee]
        )
        == 200
    )
    await world.wait_relayed(cy, 1)
    await world.wait_relayed(bob, 1)
    for reader in (bob, cy):
        card = world.relayed(reader)[-1]
        (shown,) = text_blocks(card)
        # Bob is a mention; Dee is no member, so her name is plain text; markdown typed
        # by Ann shows literally.
        assert shown == r"thanks <at>Bob</at> for the slides \(and Dee\) \*really\*"
        (entity,) = card["msteams"]["entities"]
        assert entity == {
            "type": "mention",
            "text": "<at>Bob</at>",
            "mentioned": {"id": bob.user_id, "name": "Bob"},
        }
    assert world.relayed(dee) == []

    # The Outlook thread and history have the names, with nothing erased.
    await eventually(lambda: bool(eml_files(settings.data_dir, cy.email)), "the mail")
    mail = read_eml(eml_files(settings.data_dir, cy.email)[0])
    assert "thanks Bob for the slides (and Dee)" in str(mail.get_body(("plain",)))
    await world.say(ann, "history")
    assert "thanks Bob for the slides (and Dee) *really*" in world.last_reply(ann)


async def test_at_tags_without_a_mention_entity_are_no_mention(world: TeamsWorld) -> None:
    """Only Teams' own mention entities make mentions: tags in the text alone do not."""
    ann, bob = world.person("Ann"), world.person("Bob")
    for person in (ann, bob):
        await world.install(person)
    await world.say(ann, f"new Pair: {bob.email}")
    await world.say(ann, "ask <at>Bob</at> later")
    await world.wait_relayed(bob, 1)
    card = world.relayed(bob)[-1]
    assert "msteams" not in card
    assert text_blocks(card) == []  # plain text, shown literally
    assert "ask Bob later" in card_text(card)


async def test_a_mention_claiming_a_colleagues_object_id_takes_over_nobody(
    world: TeamsWorld,
) -> None:
    """Mallory mentions her own second account with Vic's object id in the entity: what a
    client claims in a mention links nobody, so the second account stays itself and sees
    none of Vic's groups, history or copies."""
    vic, ann = world.person("Vic"), world.person("Ann")
    mallory, second = world.person("Mallory"), world.person("Mallory Two")
    for person in (vic, ann, mallory):
        await world.install(person)
    await world.say(vic, f"new Payroll: {ann.email}")
    await world.say(vic, "salaries are in")
    await world.wait_relayed(ann, 1)

    forged = {
        "type": "mention",
        "text": f"<at>{second.name}</at>",
        "mentioned": {
            "id": second.user_id,
            "name": "Vic",
            "aadObjectId": vic.aad_object_id,
        },
    }
    activity = world.activity(
        mallory, world.personal(mallory), text=f"hello <at>{second.name}</at>", entities=[forged]
    )
    assert await world.post(activity) == 200

    await world.install(second)
    await world.say(second, "groups")
    assert "Payroll" not in world.last_reply(second)
    await world.say(second, "history")
    assert "salaries" not in world.last_reply(second)
    await world.say(vic, "second round")
    await world.wait_relayed(ann, 2)
    assert world.relayed(second) == []
    await world.say(vic, "members Payroll")
    assert "Mallory" not in world.last_reply(vic)
