"""Send's replies are written to JSON without msrest's serializer: the same JSON, for
every shape Send writes, and msrest's for anything else."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    Attachment,
    ChannelAccount,
    Mention,
)
from hypothesis import given
from hypothesis import strategies as st

from bot.core.texts import Language
from bot.teams.activity import plain_message
from bot.teams.wire import _plain, activity_from_json, activity_json
from dialogs.new_group import yes_no_question
from tests.teams_activities import inbound_message

CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Lunch? <b>é</b> 👍", "wrap": True}],
    "actions": [{"type": "Action.Submit", "title": "Yes", "data": {"answer": 1}}],
}


def _as_reply(activity: Activity, inbound: Activity | None = None) -> Activity:
    reference = TurnContext.get_conversation_reference(inbound or inbound_message())
    return TurnContext.apply_conversation_reference(activity, reference)


def _card_line() -> Activity:
    line = plain_message("Send to which group?\n<script>")
    line.attachments = [
        Attachment(content_type="application/vnd.microsoft.card.adaptive", content=CARD)
    ]
    return line


def _update() -> Activity:
    return Activity(
        id="1:card",
        type="message",
        attachments=[
            Attachment(content_type="application/vnd.microsoft.card.adaptive", content=CARD)
        ],
    )


def _wire(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "make",
    [
        lambda: _as_reply(plain_message("Groups:\nLunch & co")),
        lambda: _as_reply(_card_line()),
        lambda: _as_reply(yes_no_question("Make it?", channel_id="msteams", language=Language.FR)),
        _update,
    ],
    ids=["text", "card", "yes-no", "update"],
)
def test_the_same_json_as_msrest(make: Any) -> None:
    activity = make()
    assert _wire(activity_json(activity)) == _wire(activity.serialize())
    assert _wire(_plain(activity)) == _wire(activity.serialize())  # not msrest's fallback


def test_other_values_are_left_to_msrest() -> None:
    """A date, an entity with extra properties: msrest's own result (not a half-written one)."""
    activity = _as_reply(plain_message("hi"))
    activity.timestamp = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    activity.entities = [Mention(text="<at>Ann</at>", mentioned=ChannelAccount(id="29:ann"))]
    written = activity_json(activity)
    assert written == activity.serialize()
    assert written["timestamp"].startswith("2026-12-07T12:00:00")


# Inbound: the payload shapes Teams sends (Microsoft's published examples, as the fakes use).
TEAMS = {
    "channelId": "msteams",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
    "timestamp": "2026-12-07T10:00:00.1234567Z",
    "localTimestamp": "2026-12-07T11:00:00.123+01:00",
    "localTimezone": "Europe/Paris",
    "from": {"id": "29:1ann", "name": "Ann", "aadObjectId": "0000-1111"},
    "recipient": {"id": "28:send", "name": "Send"},
    "conversation": {"id": "a:1chat", "conversationType": "personal", "tenantId": "t1"},
    "channelData": {"tenant": {"id": "t1"}},
    "locale": "fr-FR",
}
INBOUND: dict[str, dict[str, Any]] = {
    "message": {
        **TEAMS,
        "type": "message",
        "id": "1701",
        "textFormat": "plain",
        "text": "Lunch <at>Bob</at>?",
        "attachments": [{"contentType": "text/html", "content": "<p>Lunch?</p>"}],
        "entities": [
            {
                "type": "mention",
                "text": "<at>Bob</at>",
                "mentioned": {"id": "29:bob", "name": "Bob"},
            },
            {"type": "clientInfo", "locale": "fr-FR", "country": "FR", "timezone": "Europe/Paris"},
        ],
    },
    "card-action": {**TEAMS, "type": "message", "replyToId": "1:card", "value": {"a": [1, None]}},
    "install": {**TEAMS, "type": "conversationUpdate", "membersAdded": [{"id": "28:send"}]},
    "reaction": {
        **TEAMS,
        "type": "messageReaction",
        "replyToId": "1:copy",
        "reactionsAdded": [{"type": "like"}],
    },
    "edit": {
        **TEAMS,
        "type": "messageUpdate",
        "text": "new words",
        "channelData": {"eventType": "editMessage", "tenant": {"id": "t1"}},
    },
    "read": {
        **TEAMS,
        "type": "event",
        "name": "application/vnd.microsoft.readReceipt",
        "value": {"lastReadMessageId": "1701"},
    },
    "invoke": {**TEAMS, "type": "invoke", "name": "adaptiveCard/action", "value": {"x": 1}},
}


def _seen(value: Any) -> Any:
    """What the bot can read of a deserialized value: models as their attributes."""
    if isinstance(value, list):
        return [_seen(v) for v in value]
    if isinstance(value, dict):
        return {k: _seen(v) for k, v in value.items()}
    if hasattr(value, "_attribute_map"):
        return (type(value).__name__, {k: _seen(v) for k, v in vars(value).items()})
    if isinstance(value, dt.datetime):
        return (value, value.utcoffset())
    return value


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_an_inbound_activity_reads_as_msrest_reads_it(name: str) -> None:
    body = INBOUND[name]
    assert _seen(activity_from_json(body)) == _seen(Activity().deserialize(body))


def test_a_reply_to_what_teams_sent_is_msrests_json() -> None:
    """Read from Teams' JSON, a conversation keeps "tenantId" as an extra property (its
    model's key is "tenantID"), which msrest does not write back: nor does this."""
    inbound = activity_from_json(INBOUND["message"])
    assert inbound.conversation.additional_properties == {"tenantId": "t1"}
    reply = _as_reply(plain_message("Groups:\nLunch"), inbound)
    assert _wire(activity_json(reply)) == _wire(reply.serialize())
    assert _wire(_plain(reply)) == _wire(reply.serialize())  # not msrest's fallback


@pytest.mark.parametrize(
    "odd",
    [{"text": 5}, {"from": "ann"}, {"timestamp": "yesterday"}, {"entities": {"a": 1}}],
    ids=["number-text", "string-account", "bad-time", "entities-object"],
)
def test_other_values_are_read_by_msrest(odd: dict[str, Any]) -> None:
    """Not of the declared type: msrest's answer, whatever it is (a coerced value, or the
    error the route turns into a 400)."""
    body = {**INBOUND["message"], **odd}
    try:
        expected: Any = _seen(Activity().deserialize(body))
    except Exception as error:  # noqa: BLE001 - whichever msrest raises, the same is expected
        with pytest.raises(type(error)):
            activity_from_json(body)
        return
    assert _seen(activity_from_json(body)) == expected


@given(st.text())
def test_a_plain_line_is_the_text_escaped_with_each_line_break_a_br(text: str) -> None:
    shown = plain_message(text).text
    assert "<" not in shown.replace("<br>", "") and ">" not in shown.replace("<br>", "")
    assert html.unescape(shown.replace("<br>", "\n")) == text
