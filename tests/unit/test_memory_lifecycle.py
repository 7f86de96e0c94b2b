"""The data lifecycle (tests/contracts/lifecycle_contract.py) on MemoryDocuments, and the
retention loop with a sleep that does not wait."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.core.features.lifecycle import PURGE_EVERY_SECONDS, Retention
from bot.core.ports import StoreError
from bot.store.documents import Condition
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.contracts.lifecycle_contract import *  # noqa: F403
from tests.contracts.lifecycle_contract import (
    BOB,
    DAY,
    FixedClock,
    NoPictures,
    message_ids,
    said,
    team,
)


class Stop(Exception):
    """Ends the loop under test from inside its sleep."""


class FlakyDocuments(MemoryDocuments):
    """The first bulk delete fails as an unreachable store does; the next ones work."""

    def __init__(self) -> None:
        super().__init__()
        self.bulk_deletes = 0

    async def delete_where(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> int:
        self.bulk_deletes += 1
        if self.bulk_deletes == 1:
            raise StoreError("scripted outage")
        return await super().delete_where(kind, partition, where)


async def test_the_loop_purges_at_once_then_daily_and_outlives_a_failure() -> None:
    documents = FlakyDocuments()
    store = DocumentStore(documents)
    lunch = await store.save_group(team("lunch", BOB))
    await store.add_message(said(lunch, "old", BOB, -31 * DAY))
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 2:
            raise Stop

    with pytest.raises(Stop):
        await Retention(store, FixedClock(), 30, NoPictures(), sleep=sleep).keep_purging()
    assert delays == [PURGE_EVERY_SECONDS, PURGE_EVERY_SECONDS]
    assert documents.bulk_deletes == 2 and await message_ids(documents) == set()
