"""One Teams pace for the whole deployment, however many instances serve it.

Teams allows an app a number of sends per second per tenant, not per process. Each
instance announces itself in the store with a short lease and counts the live
ones; it then takes an equal share of the allowance (`RateLimiter.share`). An
instance that stops withdraws at once; one that dies drops out when its lease ends,
and until then the others only send more slowly, never too fast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.ports import Clock, InstanceStore, StoreError
from bot.core.sending.ratelimit import RateLimiter

log = logging.getLogger("send.instances")

# How often instances announce themselves. An instance joining makes the others slow
# down at their next heartbeat: until then the deployment may send up to one extra
# share for a few seconds (the default TEAMS_SENDS_PER_SECOND leaves Teams' headroom).
HEARTBEAT_SECONDS = 5.0


class InstanceRegistry:
    def __init__(
        self,
        store: InstanceStore,
        instance_id: str,
        clock: Clock,
        limiter: RateLimiter,
        every: float = HEARTBEAT_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._instance_id = instance_id
        self._clock = clock
        self._limiter = limiter
        self._every = every
        # Long enough to survive two missed heartbeats.
        self._lease = timedelta(seconds=3 * every)
        self._sleep = sleep
        self.live = 1  # instances seen at the last heartbeat

    async def beat(self) -> int:
        """Announces this instance, and takes its share of the pace; the live count."""
        now = self._clock.now()
        await self._store.announce_instance(self._instance_id, now + self._lease)
        self.live = max(1, await self._store.live_instances(now))
        self._limiter.share(self.live)
        return self.live

    async def keep_beating(self) -> None:
        while True:
            await self._sleep(self._every)
            try:
                await self.beat()
            except StoreError:
                log.warning("heartbeat failed: store unavailable")

    async def leave(self) -> None:
        try:
            await self._store.withdraw_instance(self._instance_id)
        except StoreError:
            log.warning("instance not withdrawn: its lease will end by itself")
