"""Proactive-send pacing on a fake clock: limits per tenant and per conversation, bursts queued."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from bot.core.sending.ratelimit import PER_CONVERSATION, RateLimiter
from tests.unit.fakes import FakeClock, FakeSleep


def limiter(clock: FakeClock, sleep: FakeSleep, per_tenant: int) -> RateLimiter:
    return RateLimiter(per_tenant, clock=clock.monotonic, sleep=sleep)


def at_most_per_second(times: list[float], limit: int) -> bool:
    """No 1-second window [t, t+1) holds more than `limit` of these (time-ordered) sends."""
    # Written as the limiter computes it (earlier + 1.0), so float rounding cannot differ.
    return all(times[i + limit] >= times[i] + 1.0 for i in range(len(times) - limit))


async def send_burst(
    pacing: RateLimiter, clock: FakeClock, sends: list[tuple[str, str]]
) -> list[float]:
    """Waits for each send in turn, as one delivery loop does; returns the send times."""
    sent: list[float] = []
    for tenant, conversation in sends:
        await pacing.wait(tenant, conversation)
        sent.append(clock.monotonic())
    return sent


async def test_a_tenant_burst_is_queued_within_its_limit(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    pacing = limiter(clock, sleep, per_tenant=5)
    sent = await send_burst(pacing, clock, [("t1", f"c{n}") for n in range(12)])
    assert len(sent) == 12  # queued, none refused
    assert sent == [0.0] * 5 + [1.0] * 5 + [2.0] * 2
    assert at_most_per_second(sent, 5)
    assert sleep.delays == [1.0, 1.0]  # only the sends over the limit wait


async def test_one_conversation_gets_at_most_seven_a_second(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    pacing = limiter(clock, sleep, per_tenant=100)
    sent = await send_burst(pacing, clock, [("t1", "c1")] * 20)
    assert PER_CONVERSATION == 7
    assert sent == [0.0] * 7 + [1.0] * 7 + [2.0] * 6
    assert at_most_per_second(sent, 7)


def test_reservations_are_in_time_order_and_never_in_the_past(clock: FakeClock) -> None:
    pacing = RateLimiter(2, clock=clock.monotonic)
    booked = [pacing.reserve("t1", "c1") for _ in range(5)]
    assert booked == sorted(booked) == [0.0, 0.0, 1.0, 1.0, 2.0]
    clock.advance(0.5)
    assert pacing.reserve("t1", "c1") == 2.0  # behind the queue, not at "now"
    clock.advance(10)
    assert pacing.reserve("t1", "c1") == 10.5  # an idle key starts again at once


def test_tenants_are_independent(clock: FakeClock) -> None:
    pacing = RateLimiter(2, clock=clock.monotonic)
    assert [pacing.reserve("t1", f"a{n}") for n in range(3)] == [0.0, 0.0, 1.0]
    assert [pacing.reserve("t2", f"b{n}") for n in range(3)] == [0.0, 0.0, 1.0]


def test_forget_idle_drops_only_idle_keys(clock: FakeClock) -> None:
    pacing = RateLimiter(100, clock=clock.monotonic)
    pacing.reserve("t1", "quiet")
    for _ in range(10):
        pacing.reserve("t2", "busy")  # queued until 1.0
    clock.advance(1.5)
    pacing.forget_idle()
    # Looking inside: what is forgotten shows only in memory, never in the pacing.
    assert set(pacing._log) == {"t:t2", "c:busy"}
    assert pacing.reserve("t2", "busy") == 1.5
    clock.advance(5)
    pacing.forget_idle()
    assert pacing._log == {}


def test_idle_keys_are_forgotten_as_reservations_go_by(clock: FakeClock) -> None:
    pacing = RateLimiter(10_000, clock=clock.monotonic)
    for n in range(999):
        pacing.reserve("t1", f"c{n}")
    clock.advance(2)
    pacing.reserve("t2", "last")  # the 1000th reservation tidies up
    assert set(pacing._log) == {"t:t2", "c:last"}


# A send: seconds since the previous one (in eighths, so all sums are exact), tenant, conversation.
sends = st.lists(
    st.tuples(
        st.integers(0, 12).map(lambda eighths: eighths / 8),
        st.sampled_from(["t1", "t2"]),
        st.integers(0, 3),
    ),
    max_size=120,
)


@given(per_tenant=st.integers(1, 12), burst=sends)
def test_no_window_ever_holds_more_than_the_limits(
    per_tenant: int, burst: list[tuple[float, str, int]]
) -> None:
    clock = FakeClock()
    pacing = RateLimiter(per_tenant, clock=clock.monotonic)
    by_tenant: dict[str, list[float]] = defaultdict(list)
    by_conversation: dict[str, list[float]] = defaultdict(list)
    for gap, tenant, n in burst:
        clock.advance(gap)
        conversation = f"{tenant}-c{n}"
        at = pacing.reserve(tenant, conversation)
        assert at >= clock.monotonic()
        by_tenant[tenant].append(at)
        by_conversation[conversation].append(at)
    for times in (*by_tenant.values(), *by_conversation.values()):
        assert times == sorted(times)
    assert all(at_most_per_second(times, per_tenant) for times in by_tenant.values())
    assert all(at_most_per_second(times, 7) for times in by_conversation.values())


async def test_a_flooding_group_does_not_hold_back_another_group(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    pacing = limiter(clock, sleep, per_tenant=10)
    released: list[str] = []

    async def send(lane: str, n: int) -> None:
        await pacing.wait("t1", f"{lane}-chat-{n}", lane=lane)
        released.append(lane)

    flood = [asyncio.create_task(send("flood", n)) for n in range(200)]
    await asyncio.sleep(0)  # the flood is queued first
    quiet = [asyncio.create_task(send("quiet", n)) for n in range(5)]
    await asyncio.gather(*flood, *quiet)
    # Lanes take turns: the quiet group's copies go out among the first sends after
    # they were queued (after the allowance's first burst), not after the 200 of the flood.
    last_quiet = max(i for i, lane in enumerate(released) if lane == "quiet")
    assert last_quiet < 30 and len(released) == 205
    assert at_most_per_second(sleep_times(sleep), 10)


async def test_cancelled_waits_are_skipped_and_close_stops_serving(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    pacing = limiter(clock, sleep, per_tenant=1)
    waits = [asyncio.create_task(pacing.wait("t1", f"c{n}", lane="g")) for n in range(5)]
    await waits[0]  # the first goes at once
    waits[1].cancel()
    await pacing.close()
    results = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results[1:])
    assert results[0] is None


def sleep_times(sleep: FakeSleep) -> list[float]:
    """The moments the fake clock reached after each sleep (for window checks)."""
    total, times = 0.0, []
    for delay in sleep.delays:
        total += delay
        times.append(total)
    return times


async def test_instances_share_the_allowances(clock: FakeClock, sleep: FakeSleep) -> None:
    pacing = limiter(clock, sleep, per_tenant=10)
    pacing.share(2)
    sent = await send_burst(pacing, clock, [("t1", f"c{n}") for n in range(12)])
    assert at_most_per_second(sent, 5) and not at_most_per_second(sent, 4)
    one_chat = await send_burst(pacing, clock, [("t2", "c1")] * 8)
    assert at_most_per_second(one_chat, PER_CONVERSATION // 2)
    pacing.share(1)  # the other instance left: the whole allowance again
    clock.advance(5)
    again = await send_burst(pacing, clock, [("t3", f"c{n}") for n in range(10)])
    assert again == [again[0]] * 10


async def test_what_waits_for_spare_room_wakes_once_the_burst_has_gone(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    """A receipt with no room waits for the tenant's queue to empty, once, instead of
    asking again every few seconds while a long burst goes out."""
    pacing = limiter(clock, sleep, per_tenant=5)
    await asyncio.wait_for(pacing.until_none_waits("t1"), 1)  # nothing waits: at once
    sent: list[float] = []

    async def copy(n: int) -> None:
        await pacing.wait("t1", f"c{n}")
        sent.append(clock.monotonic())

    burst = [asyncio.create_task(copy(n)) for n in range(12)]
    cleared = asyncio.create_task(pacing.until_none_waits("t1"))
    other = asyncio.create_task(pacing.until_none_waits("t2"))
    await asyncio.wait_for(other, 1)  # another tenant's burst holds nothing up
    await asyncio.wait_for(cleared, 5)
    assert len(sent) == 12 and not any(not b.done() for b in burst)  # after the last turn
    await asyncio.gather(*burst)


async def test_waiting_for_spare_room_ends_however_the_queue_is_left(clock: FakeClock) -> None:
    """Serving a tenant's queue failing (here its sleep) still lets go whoever waits for
    the queue to clear: a receipt never waits for a queue nobody serves."""

    async def broken(delay: float) -> None:
        raise RuntimeError("sleep failed")

    pacing = RateLimiter(1, clock=clock.monotonic, sleep=broken)
    burst = [asyncio.create_task(pacing.wait("t1", f"c{n}")) for n in range(3)]
    await asyncio.sleep(0)
    await asyncio.wait_for(pacing.until_none_waits("t1"), 5)  # a hang guard, not a timing
    await asyncio.wait_for(pacing.until_none_waits("t1"), 5)  # and later asks: at once
    await pacing.close()
    for send in burst:
        send.cancel()  # the send whose sleep failed has nobody to let it go
    await asyncio.gather(*burst, return_exceptions=True)


async def test_waiting_for_spare_room_ends_when_the_limiter_closes(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    pacing = limiter(clock, sleep, per_tenant=1)
    burst = [asyncio.create_task(pacing.wait("t1", f"c{n}")) for n in range(3)]
    await asyncio.sleep(0)
    cleared = asyncio.create_task(pacing.until_none_waits("t1"))
    await asyncio.sleep(0)
    await pacing.close()
    await asyncio.gather(cleared, *burst, return_exceptions=True)
    assert cleared.cancelled()


async def test_a_send_that_can_wait_takes_only_spare_room(
    clock: FakeClock, sleep: FakeSleep
) -> None:
    """A receipt goes only while the tenant used at most half its allowance this second
    and its chat has room; refused, it books nothing (the copies keep all of it)."""
    pacing = limiter(clock, sleep, per_tenant=10)
    assert pacing.spare_now("t1", "sender")
    await send_burst(pacing, clock, [("t1", f"c{n}") for n in range(4)])
    assert not pacing.spare_now("t1", "sender")  # 5 of 10 used this second
    sent = await send_burst(pacing, clock, [("t1", f"d{n}") for n in range(5)])
    assert sent == [clock.monotonic()] * 5  # the refused receipt took nothing from them
    roomy = limiter(clock, sleep, per_tenant=100)
    for _ in range(PER_CONVERSATION):
        clock.advance(0.01)
        roomy.reserve("t1", "sender")
    clock.advance(0.01)
    assert not roomy.spare_now("t1", "sender")  # the chat's second is full
    assert roomy.spare_now("t1", "another chat")
