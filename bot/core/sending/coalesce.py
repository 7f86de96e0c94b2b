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
        self._work: dict[str, Work] = {}  # the latest work asked for each key
        self._pauses: set[asyncio.Future[None]] = set()
        self._stopping = False

    def ask(self, key: str, work: Work) -> None:
        """Runs `work` now, or once more after the run going for `key` (the latest work
        asked for then, which knows the most)."""
        self._work[key] = work
        if key in self._running:
            self._again.add(key)
            return
        self._running[key] = asyncio.create_task(self._runs(key))

    def busy(self, key: str) -> bool:
        """Whether a run for `key` is going (or pausing after itself)."""
        return key in self._running

    def again(self, key: str) -> None:
        """The run going for `key` is to be made once more, after the pause (it could not
        do its work now)."""
        if key in self._running:
            self._again.add(key)

    async def settled(self) -> None:
        """Returns once no run is going (what is asked meanwhile included)."""
        while self._running:
            await asyncio.wait(set(self._running.values()))

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

    async def _runs(self, key: str) -> None:
        try:
            await self._loop(key)
        finally:
            # Let go of the key as the last run ends, in the same step (an ask in between
            # would otherwise be noted as "again" for a run that is over, and lost).
            self._running.pop(key, None)
            self._work.pop(key, None)
            self._again.discard(key)

    async def _loop(self, key: str) -> None:
        after_stop = False
        while True:
            self._again.discard(key)
            try:
                await self._work[key]()
            except Exception:
                log.exception(f"{self._what} not updated", extra={"message_id": key})
            if self._stopping:
                # Stopping: what was asked before the stop runs once more, then no more.
                if after_stop or key not in self._again:
                    return
                after_stop = True
                continue
            if self._pause:
                # Asks during the pause are folded into the run after it.
                pause = asyncio.ensure_future(self._sleep(self._pause))
                self._pauses.add(pause)
                try:
                    await asyncio.wait({pause})  # a cancelled pause ends the wait, nothing more
                finally:
                    self._pauses.discard(pause)
            else:
                await asyncio.sleep(0)  # another run at once, but others go first
            if key not in self._again:
                return
