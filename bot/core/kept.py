"""Bounded maps of what one instance remembers (cards made, chats known, threads): the
oldest entry goes first once there are too many."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def keep(kept: dict[K, V], key: K, value: V, most: int) -> V:
    """`value` kept under `key`, the oldest entries dropped past `most`; returns `value`."""
    kept[key] = value
    while len(kept) > most:
        kept.pop(next(iter(kept)))
    return value
