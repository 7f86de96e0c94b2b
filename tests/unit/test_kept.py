"""What an instance remembers is bounded: the oldest entry goes first."""

from __future__ import annotations

from bot.core.kept import keep


def test_the_oldest_entries_go_once_there_are_too_many() -> None:
    kept: dict[str, int] = {}
    assert keep(kept, "a", 1, 2) == 1
    keep(kept, "b", 2, 2)
    keep(kept, "c", 3, 2)
    assert kept == {"b": 2, "c": 3}
    keep(kept, "b", 4, 2)  # written again: it keeps its place, the oldest
    keep(kept, "d", 5, 2)
    assert kept == {"c": 3, "d": 5}
