"""Limits that hold: groups per person, group changes and downloads counted in the
sender's allowance, notices a person gets from others' actions, media bytes in flight."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.core.errors import MediaNotTaken
from bot.core.features.media import Media
from bot.core.turn.requests import IncomingMedia
from bot.store.repository import DocumentStore
from tests.contracts.media_contract import png_bytes
from tests.unit.core_fakes import build_core, email, personal
from tests.unit.fakes import FakeClock
from tests.unit.media_fakes import FakeAttachments, FakeLinks, MemoryVault

URL = "https://smba.example.test/v3/attachments/{}/views/original"


def photo(n: int) -> IncomingMedia:
    return IncomingMedia(URL.format(n), "", "image/png", needs_bot_token=True)


async def test_nobody_joins_more_groups_than_the_setting_allows(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, max_groups=2)
    await core.say("new one: bob@x.com")
    await core.say("new two: cy@x.com")
    full = await core.say("new three: dan@x.com")
    assert (
        full.text == "You are in 2 groups already, the most one person can be in; leave one first."
    )
    assert len(await store.groups_of("t1", email("ann"))) == 2
    # Bob is in two groups now (Ann's and his own): nobody can add him to a third.
    await core.say("new mine: eve@x.com", who="bob")
    refused = await core.say("new four: bob@x.com", who="cy")
    assert refused.text == "Bob is in as many groups as one person can be in."
    await core.say("add two: bob@x.com")
    assert not (await core.group("ann", "two")).has_member(email("bob"))


async def test_new_and_add_count_in_the_senders_allowance(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, per_minute=3)
    await core.say("new a: bob@x.com")
    await core.say("add a: cy@x.com")
    await core.say("hello")
    flood = await core.say("new b: dan@x.com")
    assert flood.text == (
        "You have sent many messages and group changes in the last minute; wait a moment, "
        "then try again. Nothing was changed."
    )
    assert [g.name for g in await store.groups_of("t1", email("ann"))] == ["a"]
    clock.advance(61)
    assert (await core.say("new b: dan@x.com")).text.startswith("Created b")


async def test_the_allowance_is_checked_before_any_download(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, per_minute=2)
    await core.say("new a: bob@x.com")
    await core.say("hello")
    core.attachments.files[URL.format(1)] = png_bytes()
    answer = await core.conversation.handle(replace(personal("look"), media=(photo(1),)))
    assert answer.text.startswith("You have sent 2 messages in the last minute")
    assert core.attachments.fetched == []


async def test_a_person_gets_at_most_20_notices_an_hour_from_others_actions(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, per_minute=1000)
    await core.say("help", who="bob")  # Bob has his chat with Send
    await core.say("new a: cy@x.com")
    for _ in range(30):
        await core.say(f"add a: {email('bob')}")
        await core.say(f"remove a: {email('bob')}")
    await core.built.chats.drain(5)
    told = [t for who, t in core.teams.notices if who == email("bob")]
    # Welcomes and "removed you" alike: the first 20, then nothing for the hour.
    assert len(told) == 20 and told[:2] == [told[0], "Ann removed you from a."]
    clock.advance(3601)
    await core.say(f"add a: {email('bob')}")
    await core.built.chats.drain(5)
    told = [t for who, t in core.teams.notices if who == email("bob")]
    assert len(told) == 21 and told[-1].startswith("Ann added you to a")


async def test_media_in_flight_past_the_cap_waits_for_a_minute(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await core.say("new a: bob@x.com")
    group = await core.group("ann", "a")
    attachments = FakeAttachments()
    attachments.files[URL.format(1)] = png_bytes()
    attachments.files[URL.format(2)] = png_bytes()
    attachments.files[URL.format(3)] = png_bytes()
    first_done = asyncio.Event()

    class Slow(FakeAttachments):
        async def fetch(self, item: IncomingMedia, service_url: str, max_bytes: int) -> bytes:
            data = await attachments.fetch(item, service_url, max_bytes)
            if item.url == URL.format(2):
                await first_done.wait()
            return data

    media = Media(
        store, MemoryVault(), FakeLinks(), Slow(), b"k" * 32, 10_000_000, in_flight_bytes=10
    )
    taking = asyncio.create_task(media.fetch(group, [photo(1), photo(2)], "", by="ann"))
    for _ in range(10):
        await asyncio.sleep(0)
    with pytest.raises(MediaNotTaken) as refused:
        await media.fetch(group, [photo(3)], "", by="bob")
    assert str(refused.value) == (
        "Send is taking in many photos and files right now; try again in a minute. "
        "Nothing was sent."
    )
    first_done.set()
    assert len(await taking) == 2
    assert len(await media.fetch(group, [photo(3)], "", by="bob")) == 1
