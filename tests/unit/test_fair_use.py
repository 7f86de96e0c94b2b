"""Fair use: one person's messages per minute are limited; nothing refused is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import Refused
from bot.core.sending.fair_use import SenderAllowance
from bot.core.texts import Language
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import FakeQueue, add_group, add_person, relay_over
from tests.unit.fakes import FakeClock


def test_a_sender_gets_the_allowance_per_minute_then_again(clock: FakeClock) -> None:
    allowance = SenderAllowance(per_minute=3)
    for _ in range(3):
        assert allowance.refusal("t1", "ann", clock.now(), language=Language.EN) is None
        allowance.record("t1", "ann", clock.now())
        clock.advance(1)
    refusal = allowance.refusal("t1", "ann", clock.now(), language=Language.EN)
    assert refusal is not None and "3 messages in the last minute" in refusal
    assert (
        allowance.refusal("t1", "bob", clock.now(), language=Language.EN) is None
    )  # others are not affected
    assert (
        allowance.refusal("t2", "ann", clock.now(), language=Language.EN) is None
    )  # nor another tenant's ann
    clock.advance(57)  # the first message is now a minute old
    assert allowance.refusal("t1", "ann", clock.now(), language=Language.EN) is None


async def test_the_relay_refuses_a_flood_and_stores_nothing_of_it(
    store: DocumentStore, clock: FakeClock
) -> None:
    queue = FakeQueue()
    relay = relay_over(store, clock, queue, 2000, allowance=SenderAllowance(per_minute=2))
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    lunch = await add_group(store, clock, "lunch", ann, bob)
    for n in range(2):
        assert await relay.from_teams(ann, lunch, f"hi {n}", f"m{n}") is not None
    # Teams sending the same activity again is not a new message: it does not count.
    assert await relay.from_teams(ann, lunch, "hi 1", "m1") is None
    with pytest.raises(Refused, match="wait a moment"):
        await relay.from_teams(ann, lunch, "one more", "m2")
    assert await store.get_message(lunch.group_id, "m2") is None
    assert await relay.from_teams(bob, lunch, "me too", "b1") is not None
    clock.advance(timedelta(minutes=1).total_seconds())
    assert await relay.from_teams(ann, lunch, "later", "m3") is not None
