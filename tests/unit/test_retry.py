"""Read-modify-write against etags: re-read and re-apply on a conflict, with no real waiting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from bot.core.ports import ConcurrentUpdate
from bot.core.sending.retry import ATTEMPTS, read_modify_write
from tests.unit.fakes import FakeSleep


@dataclass(frozen=True)
class Team:
    members: tuple[str, ...]
    version: int = 1


class OneItem:
    """One item behind an etag, as the store keeps it; `rivals` writers get in first."""

    def __init__(self, item: Team | None) -> None:
        self.item = item
        self.rivals: list[str] = []
        self.reads = 0
        self.saves = 0

    async def read(self) -> Team | None:
        self.reads += 1
        return self.item

    async def save(self, team: Team) -> Team:
        self.saves += 1
        if self.rivals and self.item is not None:
            joined = self.rivals.pop(0)
            self.item = replace(
                self.item, members=(*self.item.members, joined), version=self.item.version + 1
            )
        # The store refuses a stale write, and one to an item deleted meanwhile, alike.
        if self.item is None or self.item.version != team.version:
            raise ConcurrentUpdate("changed since it was read")
        self.item = replace(team, version=team.version + 1)
        return self.item


def adding(person: str, seen: list[Team]) -> Callable[[Team], Team]:
    """The change: add `person` unless they are in already; records what it was applied to."""

    def change(team: Team) -> Team:
        seen.append(team)
        if person in team.members:
            return team  # nothing to do: the rule holds already
        return replace(team, members=(*team.members, person))

    return change


async def test_an_unchanged_item_is_not_written(sleep: FakeSleep) -> None:
    box = OneItem(Team(("ann",)))
    seen: list[Team] = []
    result = await read_modify_write(
        box.item, box.read, adding("ann", seen), box.save, "team", sleep=sleep
    )
    assert result == Team(("ann",)) and box.saves == 0 and box.reads == 0


async def test_it_reads_when_given_nothing_to_start_from(sleep: FakeSleep) -> None:
    box = OneItem(Team(("ann",)))
    result = await read_modify_write(None, box.read, adding("bob", []), box.save, "t", sleep=sleep)
    assert result == Team(("ann", "bob"), version=2) and box.reads == 1 and box.saves == 1


async def test_a_conflict_reapplies_the_change_to_the_latest_state(sleep: FakeSleep) -> None:
    box = OneItem(Team(("ann",)))
    box.rivals = ["cy"]
    seen: list[Team] = []
    result = await read_modify_write(
        box.item, box.read, adding("bob", seen), box.save, "team", sleep=sleep
    )
    assert result == box.item == Team(("ann", "cy", "bob"), version=3)
    assert [t.members for t in seen] == [("ann",), ("ann", "cy")]
    assert len(sleep.delays) == 1 and 0 <= sleep.delays[0] <= 0.005


async def test_the_rule_is_checked_again_after_a_conflict(sleep: FakeSleep) -> None:
    box = OneItem(Team(("ann",)))
    box.rivals = ["bob"]  # somebody else adds bob first
    result = await read_modify_write(
        box.item, box.read, adding("bob", []), box.save, "team", sleep=sleep
    )
    assert result == Team(("ann", "bob"), version=2) and box.saves == 1


async def test_a_gone_item_gives_none(sleep: FakeSleep) -> None:
    never = OneItem(None)
    assert await read_modify_write(None, never.read, adding("bob", []), never.save, "t") is None
    box = OneItem(Team(("ann",)))
    first, box.item = box.item, None  # deleted after it was read
    result = await read_modify_write(first, box.read, adding("bob", []), box.save, "t", sleep=sleep)
    assert result is None and box.saves == 1


async def test_it_gives_up_after_so_many_attempts(sleep: FakeSleep) -> None:
    box = OneItem(Team(()))
    box.rivals = [f"rival{n}" for n in range(ATTEMPTS + 5)]
    with pytest.raises(ConcurrentUpdate, match="team keeps changing"):
        await read_modify_write(
            box.item, box.read, adding("bob", []), box.save, "team", sleep=sleep
        )
    assert box.saves == ATTEMPTS
    # Retries spread out a little more each time, since they race other writers.
    assert all(0 <= d <= 0.005 * n for n, d in enumerate(sleep.delays, 1))
