"""A stored message or group reads back as exactly the one written: the store answers a
write with what it was given (and its new version), without decoding what it wrote."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.model import (
    Channel,
    Delivery,
    DeliveryState,
    Group,
    MediaKind,
    MeetingLink,
    Member,
    Mentioned,
    Message,
    MessageSummary,
    Poll,
    Quote,
    Receipt,
    Source,
    StoredMedia,
    Styled,
)
from bot.store.bodies import _group, _message, group_body, message_body
from bot.store.documents import Doc

SENT = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=UTC)

PLAIN = Message(
    tenant_id="t1",
    group_id="g1",
    message_id="m1",
    sender_id="ann",
    sender_name="Ann",
    text="Lunch?",
    sent_at=SENT,
    source=Source.TEAMS,
    deliveries=(Delivery("bob", Channel.TEAMS),),
)

EVERYTHING = replace(
    PLAIN,
    text="Are you in for Friday? 👍 «déjà»",
    deliveries=(
        Delivery(
            "bob",
            Channel.TEAMS,
            DeliveryState.SENT,
            attempts=2,
            last_error="429",
            activity_id="1:abc",
            seen=True,
        ),
        Delivery(
            "cy",
            Channel.TEAMS,
            DeliveryState.PENDING,
            attempts=1,
            next_attempt_at=SENT + timedelta(seconds=7, microseconds=5),
            retract=True,
            activity_id="1:def",
        ),
        Delivery(
            "outlook",
            Channel.OUTLOOK,
            DeliveryState.FAILED,
            addresses=("bob@contoso.com", "cy@contoso.com"),
        ),
    ),
    claimed_by="host:8080",
    claimed_until=SENT + timedelta(minutes=2),
    poll=Poll("Friday?", ("Yes", "No"), votes=(("bob", 0), ("cy", 1))),
    media=(StoredMedia("p1", "g1", "t1", "image/png", 2048, "a.png", MediaKind.PHOTO, "ab" * 32),),
    mentions=(Mentioned("bob", "Bob"),),
    edited_at=SENT + timedelta(minutes=1),
    deleted_at=SENT + timedelta(minutes=3),
    reactions=(("bob", "like"), ("cy", "heart")),
    reply_to=Quote("m0", "Cy", "Pizza?"),
    styled=(Styled("Are you in ", bold=True), Styled("for Friday?", link="https://contoso.com")),
    receipt=Receipt("1:rcpt", "Sent to Lunch · delivered 1 of 2"),
)


@pytest.mark.parametrize("message", [PLAIN, EVERYTHING], ids=["plain", "everything"])
def test_a_written_message_reads_back_the_same(message: Message) -> None:
    stored = json.loads(json.dumps(message_body(message)))  # as a store keeps it
    assert _message(Doc(id="m1", partition="g1", body=stored, etag="e2")) == replace(
        message, version="e2"
    )


def test_times_in_another_zone_read_back_as_the_same_instants() -> None:
    paris = timezone(timedelta(hours=1))
    message = replace(EVERYTHING, sent_at=SENT.astimezone(paris))
    stored = json.loads(json.dumps(message_body(message)))
    assert _message(Doc(id="m1", partition="g1", body=stored, etag="e")) == replace(
        message, version="e"
    )


MEETING = MeetingLink("040000008200E0", "Friday planning", SENT, "ann@contoso.com", "m9")

GROUP = Group(
    tenant_id="t1",
    group_id="g1",
    name="Friday «planning» 👍",
    owner_id="ann",
    members=(
        Member("ann", "Ann", SENT),
        Member("bob", "Bob", SENT + timedelta(days=1), muted=True),
    ),
    created_at=SENT,
    recent=(
        MessageSummary("m0", "ann", "Ann", "Pizza?", SENT, Source.TEAMS),
        MessageSummary(
            "m1", "bob", "Bob", "Yes «sure»", SENT, Source.OUTLOOK, True, (("👍", 2), ("❤️", 1))
        ),
    ),
    outlook_thread="<thread@send>",
    outlook_conversation="AAQkAD=",
    meeting=MEETING,
)


@pytest.mark.parametrize(
    "group",
    [
        GROUP,
        replace(GROUP, recent=(), meeting=replace(MEETING, cancelled=True, ended=True)),
        # Held until filed, written small: what is not at its default still reads back
        # (a copy stopped for a forgotten person stays stopped).
        replace(
            GROUP,
            unfiled=(replace(PLAIN, claimed_by="host:8080", claimed_until=SENT), EVERYTHING),
            accepted=("m0", "m1"),
        ),
    ],
    ids=["everything", "no history, meeting over", "holding messages"],
)
def test_a_written_group_reads_back_the_same(group: Group) -> None:
    """`save_group` answers with the group it was given and its new version (it keeps
    that for the next read of this version), so every field must read back as written."""
    stored = json.loads(json.dumps(group_body(group)))
    assert _group(Doc(id="g1", partition="t1", body=stored, etag="e2")) == replace(
        group, version="e2"
    )
