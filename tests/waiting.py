"""Waiting in tests for something to happen, by checking for it rather than sleeping.

A timeout here is a guard against a test hanging, not a statement about speed: it is
generous because a loaded 2-core machine can be many times slower than a laptop.
How fast things happen is measured (and printed) by `bench/`, not asserted in tests.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

DEFAULT_TIMEOUT = 30.0


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    interval: float = 0.02,
) -> None:
    """Polls `predicate` (plain or async) until it is true; fails naming `what` did not happen.

    For things that send no signal: files, fake mailboxes, a process's port. Fakes that
    record what they receive have their own `wait_for`, woken by each arrival.
    """
    deadline = time.monotonic() + timeout
    while True:
        outcome = predicate()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)
