"""Replies sent through `ReplyingTurnContext` (shallow copies) reach the adapter exactly as
botbuilder's own TurnContext (deep copies) sends them, and leave the caller's activity as
it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    Attachment,
    DeliveryModes,
    ResourceResponse,
)

from bot.core.texts import Language
from bot.teams.activity import plain_message
from bot.teams.turn_context import ReplyingTurnContext
from dialogs.new_group import yes_no_question
from tests.teams_activities import inbound_message

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Hi"}]}


class Recording(BotAdapter):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Activity] = []

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        self.sent += activities
        return [ResourceResponse(id=f"sent-{len(self.sent)}-{n}") for n in range(len(activities))]

    async def update_activity(self, context: TurnContext, activity: Activity) -> None:
        raise NotImplementedError

    async def delete_activity(self, context: TurnContext, reference: Any) -> None:
        raise NotImplementedError


def card_line() -> Activity:
    line = plain_message("Pick a group\nor type one")
    line.attachments = [
        Attachment(content_type="application/vnd.microsoft.card.adaptive", content=CARD)
    ]
    return line


REPLIES: list[Callable[[], Activity]] = [
    lambda: plain_message("Hello <Ann>\nsecond line"),
    card_line,
    lambda: yes_no_question("Start the group?", channel_id="msteams", language=Language.EN),
    lambda: Activity(text="no type given"),
    lambda: Activity(type="trace", name="trace only"),
]

Context = Callable[[BotAdapter, Activity], TurnContext]


async def send_with(
    make: Context, reply: Callable[[], Activity], mode: str | None = None
) -> tuple[TurnContext, Recording, Activity, list[Activity]]:
    adapter = Recording()
    received = inbound_message()
    received.delivery_mode = mode
    context = make(adapter, received)
    seen: list[Activity] = []

    async def handler(
        ctx: TurnContext, activities: list[Activity], next_handler: Callable[[], Awaitable[None]]
    ) -> None:
        seen.extend(activities)
        await next_handler()

    context.on_send_activities(handler)
    activity = reply()
    await context.send_activities([activity])
    return context, adapter, activity, seen


@pytest.mark.parametrize("reply", REPLIES)
async def test_a_reply_reaches_the_adapter_as_the_stock_context_sends_it(
    reply: Callable[[], Activity],
) -> None:
    stock, stock_adapter, _, stock_seen = await send_with(TurnContext, reply)
    ours, our_adapter, _, our_seen = await send_with(ReplyingTurnContext, reply)
    assert [a.serialize() for a in our_adapter.sent] == [a.serialize() for a in stock_adapter.sent]
    assert [a.serialize() for a in our_seen] == [a.serialize() for a in stock_seen]
    assert ours.responded == stock.responded == (reply().type != "trace")
    sent = our_adapter.sent[0]
    assert sent.conversation.id == "a:1chat"
    assert sent.recipient.id == "29:ann" and sent.from_property.id == "28:send"
    assert sent.reply_to_id == "1:abc" and sent.id is None


@pytest.mark.parametrize("reply", REPLIES)
async def test_the_callers_activity_is_left_as_it_was(reply: Callable[[], Activity]) -> None:
    _, adapter, activity, _ = await send_with(ReplyingTurnContext, reply)
    assert activity.serialize() == reply().serialize()
    assert adapter.sent[0] is not activity


async def test_expected_replies_are_buffered_as_the_stock_context_does() -> None:
    expect = DeliveryModes.expect_replies
    stock, stock_adapter, _, _ = await send_with(TurnContext, REPLIES[0], expect)
    ours, our_adapter, _, _ = await send_with(ReplyingTurnContext, REPLIES[0], expect)
    assert our_adapter.sent == stock_adapter.sent == []
    assert [a.serialize() for a in ours.buffered_reply_activities] == [
        a.serialize() for a in stock.buffered_reply_activities
    ]
    assert len(ours.buffered_reply_activities) == 1 and ours.responded
