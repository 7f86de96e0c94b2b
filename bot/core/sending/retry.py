"""Read-modify-write against the store's etags, written once.

The store refuses a write when the item changed since it was read
(`ConcurrentUpdate`); the answer is always the same: read again, apply the change
again (so its rules are checked against the latest state), and write again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.core.model import Group, Message
from bot.core.ports import ConcurrentUpdate, GroupStore, MessageStore

T = TypeVar("T")

ATTEMPTS = 30


async def read_modify_write(
    first: T | None,
    read: Callable[[], Awaitable[T | None]],
    change: Callable[[T], T],
    save: Callable[[T], Awaitable[T]],
    what: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T | None:
    """Applies `change` and saves; None if the item is gone. `first` is a fresh read to
    start from (or None to read). When `change` returns its input unchanged, nothing is
    written. Retries spread out with jitter, since they race other writers."""
    current = first if first is not None else await read()
    for attempt in range(1, ATTEMPTS + 1):
        if current is None:
            return None
        changed = change(current)
        if changed is current:
            return current
        try:
            return await save(changed)
        except ConcurrentUpdate:
            await sleep(random.uniform(0, 0.005 * attempt))
            current = await read()
    raise ConcurrentUpdate(f"{what} keeps changing")


async def update_message(
    store: MessageStore, message: Message, change: Callable[[Message], Message]
) -> Message | None:
    """`read_modify_write` of a stored message; None if it is gone."""
    return await read_modify_write(
        message,
        lambda: store.get_message(message.group_id, message.message_id),
        change,
        store.save_message,
        f"message {message.message_id}",
    )


async def update_group(
    store: GroupStore, group: Group, change: Callable[[Group], Group]
) -> Group | None:
    """`read_modify_write` of a stored group; None if it is gone."""
    return await read_modify_write(
        group,
        lambda: store.get_group(group.tenant_id, group.group_id),
        change,
        store.save_group,
        f"group {group.group_id}",
    )
