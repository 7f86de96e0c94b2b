"""A group managed from its Outlook card: mute, Outlook copies off, leave (behind a
confirmation) and the members, each the same change as the Teams command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.outlook_helpers import card_in, eml_files, eventually
from tests.test_outlook_actions import Scene
from tests.test_outlook_actions import scene as lunch_scene

# The actions' scene: Ann and Bob in Lunch, Bob's first mail's card at hand.
scene = pytest.fixture(lunch_scene.__wrapped__, name="scene")  # type: ignore[attr-defined]

Card = dict[str, Any]


def manage_section(card: Card) -> Card:
    (section,) = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    inner: Card = section["card"]
    return inner


def button(card: Card, title: str) -> Card:
    """An Action.Http of the manage section (or of the leave confirmation inside it)."""
    section = manage_section(card)
    for action in section["actions"]:
        if action["title"] == title:
            return dict(action)
        if action["type"] == "Action.ShowCard":
            for inner in action["card"]["actions"]:
                if inner["title"] == title:
                    return dict(inner)
    raise AssertionError(f"no {title!r} in {[a['title'] for a in section['actions']]}")


async def press(scene: Scene, card: Card, title: str) -> tuple[int, dict[str, str], Card | None]:
    action = button(card, title)
    status, headers, body = await scene.act("", scene.token(), body=str(action["body"]))
    shown = (
        card_in(f'<script type="application/adaptivecard+json">{body}</script>') if body else None
    )
    return status, headers, shown


def texts(card: Card) -> list[str]:
    """The section's lines as Outlook shows them (markdown escapes gone)."""
    return [str(b.get("text")).replace("\\", "") for b in manage_section(card)["body"]]


async def test_the_card_shows_the_members_and_the_usual_switches(scene: Scene) -> None:
    section = manage_section(scene.card)
    assert "Members: Ann, Bob" in texts(scene.card)
    titles = [a["title"] for a in section["actions"]]
    assert titles == ["Mute Lunch in Teams", "Stop Outlook copies", "Leave Lunch"]
    leave = section["actions"][2]
    assert leave["type"] == "Action.ShowCard"  # a confirmation first, never one click
    assert [a["title"] for a in leave["card"]["actions"]] == ["Yes, leave"]
    assert json.loads(button(scene.card, "Yes, leave")["body"])["manage"] == "leave"


async def test_mute_from_outlook_is_the_teams_mute_and_the_card_shows_it(scene: Scene) -> None:
    world = scene.world
    ann, bob = world.person("Ann"), world.person("Bob")
    status, headers, card = await press(scene, scene.card, "Mute Lunch in Teams")
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    assert card is not None
    assert "Teams copies of this group: muted. Outlook copies: on." in texts(card)
    assert manage_section(card)["actions"][0]["title"] == "Unmute Lunch in Teams"
    # Exactly what `mute Lunch` does in Teams: `members` says so, and no Teams copy comes.
    await world.say(bob, "members Lunch")
    assert "- Bob <bob@contoso.com>: Outlook\n" in world.last_reply(bob) + "\n"  # Teams muted
    before = len(world.relayed(bob))
    await world.say(ann, "Anyone?")
    await eventually(lambda: len(eml_files(scene.data, bob.email)) == 2, "Bob's mail")
    # Ann's receipt says the delivery is over: Bob's copy went by Outlook only.
    await eventually(
        lambda: "1 by Outlook only" in (world.receipts(ann) or [""])[-1], "Ann's receipt"
    )
    assert len(world.relayed(bob)) == before
    status, _, card = await press(scene, card, "Unmute Lunch in Teams")
    assert status == 200 and card is not None
    assert "Teams copies of this group: on. Outlook copies: on." in texts(card)


async def test_outlook_copies_off_from_the_card_stops_the_mails(scene: Scene) -> None:
    world = scene.world
    ann, bob = world.person("Ann"), world.person("Bob")
    status, _, card = await press(scene, scene.card, "Stop Outlook copies")
    assert status == 200 and card is not None
    assert "Teams copies of this group: on. Outlook copies: off." in texts(card)
    assert [a["title"] for a in manage_section(card)["actions"]][1] == "Outlook copies on"
    await world.say(ann, "Still on?")
    await world.wait_relayed(bob, 2)
    await eventually(lambda: len(eml_files(scene.data, ann.email)) == 2, "Ann's own mail")
    assert len(eml_files(scene.data, bob.email)) == 1  # none for Bob any more
    await world.say(bob, "members Lunch")
    assert "- Bob <bob@contoso.com>: Teams\n" in world.last_reply(bob) + "\n"  # no Outlook


async def test_leave_from_the_card_leaves_the_group_and_closes_the_card(scene: Scene) -> None:
    world = scene.world
    ann = world.person("Ann")
    status, headers, card = await press(scene, scene.card, "Yes, leave")
    assert status == 200
    assert headers["CARD-ACTION-STATUS"] == "You left Lunch."
    assert card is not None and "actions" not in card  # nothing left to do on it
    await world.say(ann, "members Lunch")
    assert "Bob" not in world.last_reply(ann)
    # Pressed again (an old mail): Bob is no longer a member, and nothing changes.
    status, _, _ = await press(scene, scene.card, "Mute Lunch in Teams")
    assert status == 403


async def test_a_manage_body_send_does_not_offer_is_refused(scene: Scene) -> None:
    body = json.loads(button(scene.card, "Mute Lunch in Teams")["body"])
    body["manage"] = "delete"
    status, _, _ = await scene.act("", scene.token(), body=json.dumps(body))
    assert status == 400
