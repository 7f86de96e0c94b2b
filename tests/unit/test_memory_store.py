"""The Store port's contract (tests/contracts) on DocumentStore over MemoryDocuments."""

from tests.contracts.store_contract import *  # noqa: F403
