"""The document port's contract (tests/contracts) on MemoryDocuments, and what is its own."""

from __future__ import annotations

import pytest

from bot.store.documents import Contains, Eq, StoreError
from bot.store.memory_documents import MemoryDocuments
from tests.contracts.documents_contract import *  # noqa: F403


async def test_queries_answer_in_partition_and_id_order(documents: MemoryDocuments) -> None:
    for partition, doc_id in (("t2", "a"), ("t1", "b"), ("t1", "a")):
        await documents.create("directory", partition, doc_id, {"open": True})
    found = await documents.query("directory", None, [Eq("open", True)])
    assert [(d.partition, d.id) for d in found] == [("t1", "a"), ("t1", "b"), ("t2", "a")]


async def test_equality_is_typed_like_sqlite(documents: MemoryDocuments) -> None:
    await documents.create("directory", "t1", "g", {"n": 1, "s": "1", "yes": True, "list": ["1"]})

    async def matches(field: str, value: str | int | bool) -> bool:
        return bool(await documents.query("directory", "t1", [Eq(field, value)]))

    assert await matches("n", 1) and await matches("s", "1") and await matches("yes", True)
    assert await matches("yes", 1)  # SQLite keeps true as 1
    assert not await matches("n", "1") and not await matches("s", 1)
    assert not await matches("missing", False) and not await matches("list", "1")


async def test_contains_looks_into_arrays_only(documents: MemoryDocuments) -> None:
    await documents.create("directory", "t1", "g", {"memberIds": "x", "ids": [1, "x"]})
    assert await documents.query("directory", "t1", [Contains("memberIds", "x")]) == []
    assert await documents.query("directory", "t1", [Contains("ids", "1")]) == []
    assert len(await documents.query("directory", "t1", [Contains("ids", "x")])) == 1


async def test_field_names_are_checked(documents: MemoryDocuments) -> None:
    with pytest.raises(ValueError, match="plain field"):
        await documents.query("directory", "t1", [Eq("a.b') OR 1=1 --", "x")])


async def test_a_closed_store_refuses_work(documents: MemoryDocuments) -> None:
    await documents.close()
    with pytest.raises(StoreError):
        await documents.read("directory", "t1", "g")
    await documents.close()  # closing twice is harmless
