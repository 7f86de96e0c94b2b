"""Proactive-send pacing: at most N sends per second per tenant and 7 per conversation.

A sliding-window log per key. Reservations for a key are handed out in time
order, so "the r-th previous send was at least a second ago" is exactly "no
1-second window holds more than r sends". Bursts are queued, never refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

PER_CONVERSATION = 7  # Teams: about 7 messages per second into one conversation


class RateLimiter:
    def __init__(
        self,
        per_tenant: int,
        per_conversation: int = PER_CONVERSATION,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_tenant = per_tenant
        self._per_conversation = per_conversation
        self._clock = clock
        self._sleep = sleep
        self._log: dict[str, deque[float]] = {}
        self._reservations = 0

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

    async def wait(self, tenant_id: str, conversation_id: str) -> None:
        delay = self.reserve(tenant_id, conversation_id) - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def forget_idle(self) -> None:
        """Drops keys with no recent sends, so memory does not grow with conversations."""
        horizon = self._clock() - 1.0
        for key in [k for k, log in self._log.items() if not log or log[-1] <= horizon]:
            del self._log[key]
