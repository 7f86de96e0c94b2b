"""How many photo and file downloads one instance serves at once.

Each download holds a connection and a chunk of memory for as long as its reader takes.
Bounding them per instance keeps memory flat whatever the readers do; bounding them per
link keeps one leaked or scripted link from taking every slot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

# A download's reader must take each chunk within this many seconds, or it is dropped.
MEDIA_WRITE_TIMEOUT_SECONDS = 30.0
AT_ONCE = 64
PER_LINK = 4


class Busy(StrEnum):
    """Why a download cannot start now (the web layer says it with 503 or 429)."""

    INSTANCE = "this server is sending as many photos and files as it can; try again in a minute"
    LINK = "this link is being downloaded several times at once already; try again in a minute"


class Transfers:
    def __init__(self, at_once: int = AT_ONCE, per_link: int = PER_LINK) -> None:
        self._at_once = at_once
        self._per_link = per_link
        self._open: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return self._open.total()

    @contextmanager
    def slot(self, link: str) -> Iterator[Busy | None]:
        """Yields None with a slot held for `link` until the block ends, or why not."""
        if self.open >= self._at_once:
            yield Busy.INSTANCE
            return
        if self._open[link] >= self._per_link:
            yield Busy.LINK
            return
        self._open[link] += 1
        try:
            yield None
        finally:
            self._open[link] -= 1
            if not self._open[link]:
                del self._open[link]
