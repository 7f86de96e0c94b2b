"""Time for fast tests: a clock that moves only when told, and a sleep that moves it.

`FakeClock` is both kinds of clock the core takes: `now()` (the `Clock` port, wall
time) and `monotonic()` (a `time.monotonic` stand-in, seconds). `FakeSleep` records
each delay asked for and advances the clock by it instead of waiting. Tasks that
sleep at the same time each move the clock, so time may run ahead, never backwards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start  # wall time; a test may set it, even backwards
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._elapsed += seconds
        self.current += timedelta(seconds=seconds)


class FakeSleep:
    """An `asyncio.sleep` replacement: `await sleep(delay)` returns at once, time moved on."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.clock.advance(max(delay, 0.0))
        # A real sleep lets other tasks run; so does this one, without waiting.
        await asyncio.sleep(0)
