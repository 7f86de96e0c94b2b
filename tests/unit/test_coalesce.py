"""Work per key, one run at a time, what is asked meanwhile folded into one more run."""

from __future__ import annotations

import asyncio

from bot.core.sending.coalesce import Coalesced


async def test_asks_during_a_run_are_one_more_run_with_the_latest_work() -> None:
    ran: list[str] = []
    gate = asyncio.Event()
    updates = Coalesced("test")

    def work(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            ran.append(name)
            await gate.wait()

        return run

    updates.ask("m", work("first"))
    await asyncio.sleep(0)
    for name in ("second", "third", "fourth"):
        updates.ask("m", work(name))
    gate.set()
    await updates.settled()
    assert ran == ["first", "fourth"]


async def test_an_ask_as_the_last_run_ends_is_not_lost() -> None:
    ran: list[str] = []
    updates = Coalesced("test")

    async def first() -> None:
        ran.append("first")

    async def second() -> None:
        ran.append("second")

    updates.ask("m", first)
    await asyncio.sleep(0)  # the run ends in this step; its task is done
    updates.ask("m", second)
    await updates.settled()
    assert ran == ["first", "second"]
