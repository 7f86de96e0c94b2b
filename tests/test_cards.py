"""Every Adaptive Card the bot sends to Teams validates against the Adaptive Card 1.5 schema."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.core.ports import PollChoice, PollView, RelayedMessage
from bot.core.texts import Language
from bot.core.turn.requests import GroupChoice
from bot.teams.cards import answered_card, group_picker_card, poll_card, relayed_message_card
from tests.teams_world import TeamsWorld

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "adaptive-card-1.5.json").read_text())


def validate(card: dict[str, Any]) -> None:
    jsonschema.Draft6Validator(SCHEMA).validate(card)


def test_the_schema_refuses_a_broken_card() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextRun"}]})


@pytest.mark.parametrize(
    "text", ["plain", "</script><script>alert(1)</script>", 'quote " and \\', "🎉 שלום مرحبا", ""]
)
def test_cards_built_from_any_text_validate(text: str) -> None:
    message = RelayedMessage("g1", "Lunch", "Ann", text or "x", "m1")
    validate(relayed_message_card(message, 2000))
    validate(answered_card(message, text or "On my way"))
    view = PollView((PollChoice(text or "yes", ("Ann",)), PollChoice("no", ())), ("Bob",))
    validate(poll_card(replace(message, poll=view)))
    validate(
        group_picker_card(
            [GroupChoice("g1", "Lunch"), GroupChoice("g2", text or "Run")],
            "hi",
            language=Language.EN,
        )
    )


async def test_cards_sent_in_a_conversation_validate(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}")
    await world.say(cy, f"new Run: {bob.email}")
    await world.say(ann, "hello <b>Bob</b>")
    await world.wait_relayed(bob, 1)
    await world.say(bob, "which group gets this?")  # two groups, none active: the picker
    await world.connector.wait_for(lambda: bool(world.receipts(ann)), what="Ann's receipt")
    cards = [
        card
        for chat in world.connector.rosters
        for card in world.connector.cards_to(chat, receipts=True)
    ]
    assert len(cards) >= 2
    for card in cards:
        validate(card)
