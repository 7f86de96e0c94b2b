"""Fast fixtures for the core: documents in memory, a fake clock, a sleep that does not wait.

They override the `documents` and `store` fixtures of tests/conftest.py (SQLite and
Cosmos DB) for the tests in this folder, so no server, process or thread is started.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import stop_cores
from tests.unit.fakes import FakeClock, FakeSleep


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """As in tests/conftest.py, but only among objects made during the test.

    What was alive before it is frozen meanwhile: a full collection takes about 0.1 s
    and would cost this folder more than all its tests do.
    """
    gc.freeze()
    try:
        yield
        gc.collect()
    finally:
        gc.unfreeze()


@pytest.fixture(autouse=True)
def starts_no_threads() -> Iterator[None]:
    """This layer runs on the event loop alone: no server, no thread-pool store."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before, "a unit test left a thread running"


@pytest.fixture(autouse=True)
async def stop_built_cores() -> AsyncIterator[None]:
    yield
    await stop_cores()


@pytest.fixture
def documents() -> MemoryDocuments:
    return MemoryDocuments()


@pytest.fixture
def store(documents: MemoryDocuments) -> DocumentStore:
    return DocumentStore(documents)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep(clock: FakeClock) -> FakeSleep:
    return FakeSleep(clock)
