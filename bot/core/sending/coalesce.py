"""Work on one thing at a time per key, with what is asked meanwhile folded into one more run.

Cards updated in place (a poll's tally, a reaction's, an edited text, a sender's receipt)
show the message as it is when the update is made. So a burst of changes needs one update
after the burst, not one per change: while a run for a key is going (or pausing after
itself), asks for that key are noted once, and one more run follows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("send.coalesce")

Work = Callable[[], Awaitable[None]]


class Coalesced:
    def __init__(
        self,
        what: str,
        *,
        pause: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`what` names the work in logs; `pause`: seconds from the end of one run for a key
        to the start of the next (asks meanwhile are one more run, after the pause)."""
        self._what = what
        self._pause = pause
        self._sleep = sleep
        self._again: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._pauses: set[asyncio.Future[None]] = set()
        self._stopping = False

    def ask(self, key: str, work: Work) -> None:
        """Runs `work` now, or once more after the run going for `key`."""
        if key in self._running:
            self._again.add(key)
            return
        task = asyncio.create_task(self._runs(key, work))
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))

    async def drain(self, grace: float) -> None:
        """Waits up to `grace` seconds for runs under way; cancels what is left."""
        self._stopping = True
        tasks = set(self._running.values())
        if not tasks:
            return
        for pause in self._pauses:
            pause.cancel()  # a stop does not wait out pauses: what was asked runs at once
        _, left = await asyncio.wait(tasks, timeout=grace)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def _runs(self, key: str, work: Work) -> None:
        while True:
            self._again.discard(key)
            try:
                await work()
            except Exception:
                log.exception(f"{self._what} not updated", extra={"message_id": key})
            if self._pause and not self._stopping:
                # Asks during the pause are folded into the run after it.
                pause = asyncio.ensure_future(self._sleep(self._pause))
                self._pauses.add(pause)
                try:
                    await asyncio.wait({pause})  # a cancelled pause ends the wait, nothing more
                finally:
                    self._pauses.discard(pause)
            if key not in self._again:
                return
