"""Proactive-send pacing: at most N sends per second per tenant and 7 per conversation.

A sliding-window log per key. Reservations for a key are handed out in time
order, so "the r-th previous send was at least a second ago" is exactly "no
1-second window holds more than r sends". Bursts are queued, never refused.

Waiting sends of a tenant are served in turn by lane (the group they belong to):
one group flooding the tenant's allowance delays another group's copies by a few
sends, not by the whole backlog. A conversation at its own limit holds its turn
for at most a second.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

PER_CONVERSATION = 7  # Teams: about 7 messages per second into one conversation


@dataclass
class _Waiting:
    """A tenant's waiting sends: a queue per lane, and the lanes in turn order."""

    lanes: dict[str, deque[tuple[str, asyncio.Future[None]]]] = field(default_factory=dict)
    turns: deque[str] = field(default_factory=deque)
    dispatcher: asyncio.Task[None] | None = None
    # Who waits for every waiting send to have gone (`until_none_waits`).
    cleared: list[asyncio.Future[None]] = field(default_factory=list)


class RateLimiter:
    def __init__(
        self,
        per_tenant: int,
        per_conversation: int = PER_CONVERSATION,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_tenant = self._tenant_total = per_tenant
        self._per_conversation = self._conversation_total = per_conversation
        self._clock = clock
        self._sleep = sleep
        self._log: dict[str, deque[float]] = {}
        self._reservations = 0
        self._waiting: dict[str, _Waiting] = {}

    def share(self, instances: int) -> None:
        """Takes 1/`instances` of the allowances (every live instance does the same)."""
        instances = max(1, instances)
        self._per_tenant = max(1, self._tenant_total // instances)
        self._per_conversation = max(1, self._conversation_total // instances)

    def reserve(self, tenant_id: str, conversation_id: str) -> float:
        """Books the earliest allowed send time for both keys and returns it."""
        now = self._clock()
        self._reservations += 1
        if self._reservations % 1000 == 0:
            self.forget_idle()
        keys = (
            (f"t:{tenant_id}", self._per_tenant),
            (f"c:{conversation_id}", self._per_conversation),
        )
        at = now
        for key, limit in keys:
            log = self._log.setdefault(key, deque())
            while log and log[0] <= now - 1.0:
                log.popleft()
            if log:
                at = max(at, log[-1])
            if len(log) >= limit:
                at = max(at, log[-limit] + 1.0)
        for key, _ in keys:
            self._log[key].append(at)
        return at

    def spare_now(self, tenant_id: str, conversation_id: str) -> bool:
        """Books a send for right now if it takes only spare room: none of the tenant's
        sends is waiting its turn, the tenant's last second used at most half of its
        allowance, and the conversation has room; False, booking nothing, otherwise. For
        sends that can as well go a moment later (a sender's receipt): they never delay a
        copy, neither by taking the tenant's allowance nor by making its turns wait, as a
        send into a full conversation does."""
        waiting = self._waiting.get(tenant_id)
        if waiting is not None and waiting.turns:
            return False
        now = self._clock()
        keys = (
            (f"t:{tenant_id}", max(1, self._per_tenant // 2)),
            (f"c:{conversation_id}", self._per_conversation),
        )
        for key, limit in keys:
            log = self._log.get(key)
            while log and log[0] <= now - 1.0:
                log.popleft()
            if log and (log[-1] > now or len(log) >= limit):
                return False  # booked ahead already, or no spare room this second
        for key, _ in keys:
            self._log.setdefault(key, deque()).append(now)
        return True

    async def until_none_waits(self, tenant_id: str) -> None:
        """Returns once none of the tenant's sends waits its turn (at once when none does):
        what takes only spare room (`spare_now`) waits here through a burst instead of
        asking again and again while copies queue."""
        waiting = self._waiting.get(tenant_id)
        if waiting is None or not waiting.turns:
            return
        if waiting.dispatcher is None or waiting.dispatcher.done():
            return  # nothing serves the queue any more: no end to wait for
        cleared: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.cleared.append(cleared)
        await cleared

    def stop_waiting_for_room(self) -> None:
        """Lets whatever waits in `until_none_waits` go on now (the app is stopping)."""
        for waiting in self._waiting.values():
            _let_go(waiting)

    async def wait(self, tenant_id: str, conversation_id: str, lane: str = "") -> None:
        """Returns when a send into `conversation_id` may go; lanes of a tenant take turns."""
        waiting = self._waiting.get(tenant_id)
        if waiting is None:  # not `setdefault`: that would make a `_Waiting` every send
            waiting = self._waiting[tenant_id] = _Waiting()
        if lane not in waiting.lanes:
            waiting.lanes[lane] = deque()
            waiting.turns.append(lane)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.lanes[lane].append((conversation_id, turn))
        if waiting.dispatcher is None or waiting.dispatcher.done():
            waiting.dispatcher = asyncio.create_task(self._dispatch(tenant_id, waiting))
        await turn

    async def _dispatch(self, tenant_id: str, waiting: _Waiting) -> None:
        try:
            await self._serve(tenant_id, waiting)
        finally:
            _let_go(waiting)  # however serving ended

    async def _serve(self, tenant_id: str, waiting: _Waiting) -> None:
        # Runs while the tenant has waiting sends. It only yields in `sleep`, so a send
        # queued meanwhile is always seen before it ends.
        while waiting.turns:
            lane = waiting.turns.popleft()
            queue = waiting.lanes[lane]
            conversation_id, turn = queue.popleft()
            if queue:
                waiting.turns.append(lane)
            else:
                del waiting.lanes[lane]
            if turn.done():
                continue  # the sender gave up (cancelled): its turn is skipped
            delay = self.reserve(tenant_id, conversation_id) - self._clock()
            if delay > 0:
                try:
                    await self._sleep(delay)
                except asyncio.CancelledError:
                    turn.cancel()  # closed while this send waited: it never goes
                    raise
            if not turn.done():
                turn.set_result(None)
        if self._waiting.get(tenant_id) is waiting:
            del self._waiting[tenant_id]

    async def close(self) -> None:
        """Stops serving turns (at shutdown); waiting sends are cancelled."""
        for waiting in list(self._waiting.values()):
            for queue in waiting.lanes.values():
                for _, turn in queue:
                    turn.cancel()
            for cleared in waiting.cleared:
                cleared.cancel()
            if waiting.dispatcher is not None:
                waiting.dispatcher.cancel()
                await asyncio.gather(waiting.dispatcher, return_exceptions=True)
        self._waiting.clear()

    def forget_idle(self) -> None:
        """Drops keys with no recent sends, so memory does not grow with conversations."""
        horizon = self._clock() - 1.0
        for key in [k for k, log in self._log.items() if not log or log[-1] <= horizon]:
            del self._log[key]


def _let_go(waiting: _Waiting) -> None:
    """Whoever waits for the tenant's queue to clear (`until_none_waits`) goes on now."""
    for cleared in waiting.cleared:
        if not cleared.done():
            cleared.set_result(None)
    waiting.cleared.clear()
