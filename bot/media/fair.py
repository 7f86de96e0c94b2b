"""A few slots for expensive work, shared fairly between the people who ask for them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FairGate:
    """At most `slots` holders at once. When a slot frees, it goes to the next person in
    turn (round robin over the people waiting, each person's own requests in order), so
    one person's slow pictures never hold back another's: they wait behind at most one of
    each other person's."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @asynccontextmanager
    async def slot(self, person: str) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(person, deque()).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._hand_on()  # the slot came just as the wait was cancelled
                raise
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        """The freed slot to the next person waiting, else back to the pool."""
        while self._waiting:
            person, turns = next(iter(self._waiting.items()))
            turn = turns.popleft()
            if turns:
                self._waiting.move_to_end(person)  # their next request waits its turn
            else:
                del self._waiting[person]
            if not turn.done():  # a cancelled wait is skipped
                turn.set_result(None)
                return
        self._free += 1
