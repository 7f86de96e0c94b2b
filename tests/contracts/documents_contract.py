"""The document port's contract: every backend passes these tests unchanged.

Not collected itself: tests/test_documents_contract.py runs it on SQLite and Cosmos DB
(cosmosdb-server), tests/unit/test_memory_documents.py on MemoryDocuments. Each test
takes the `documents` fixture of the module that imports it.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.store.documents import (
    AlreadyExists,
    Before,
    ConcurrentUpdate,
    Contains,
    Doc,
    Documents,
    Eq,
    IdIn,
    JsonDict,
    NotFound,
    safe_id,
)


async def test_create_then_read(documents: Documents) -> None:
    created = await documents.create("directory", "t1", "g1", {"name": "lunch", "n": 1})
    read = await documents.read("directory", "t1", "g1")
    assert read is not None
    assert read.body["name"] == "lunch" and read.body["tenantId"] == "t1"
    assert read.etag == created.etag and read.etag


async def test_missing_document_reads_as_none(documents: Documents) -> None:
    assert await documents.read("directory", "t1", "nobody") is None


async def test_partitions_are_separate(documents: Documents) -> None:
    await documents.create("directory", "t1", "p", {"v": 1})
    await documents.create("directory", "t2", "p", {"v": 2})
    one, two = (
        await documents.read("directory", "t1", "p"),
        await documents.read("directory", "t2", "p"),
    )
    assert one is not None and two is not None
    assert (one.body["v"], two.body["v"]) == (1, 2)
    assert await documents.query("directory", "t1", [Eq("v", 2)]) == []


async def test_create_twice_is_refused(documents: Documents) -> None:
    await documents.create("directory", "t1", "g1", {"n": 1})
    with pytest.raises(AlreadyExists):
        await documents.create("directory", "t1", "g1", {"n": 2})
    read = await documents.read("directory", "t1", "g1")
    assert read is not None and read.body["n"] == 1


async def test_an_unflushed_create_is_a_create(documents: Documents) -> None:
    """`flush=False` changes durability against a machine crash, nothing a caller sees."""
    created = await documents.create("state", "m1", "m1", {"n": 1}, flush=False)
    with pytest.raises(AlreadyExists):
        await documents.create("state", "m1", "m1", {"n": 2}, flush=False)
    read = await documents.read("state", "m1", "m1")
    assert read is not None and read.body["n"] == 1 and read.etag == created.etag


async def test_replace_needs_the_current_etag(documents: Documents) -> None:
    first = await documents.create("directory", "t1", "g1", {"n": 1})
    second = await documents.replace("directory", "t1", "g1", {"n": 2}, first.etag)
    assert second.etag != first.etag
    with pytest.raises(ConcurrentUpdate):
        await documents.replace("directory", "t1", "g1", {"n": 3}, first.etag)
    read = await documents.read("directory", "t1", "g1")
    assert read is not None and read.body["n"] == 2


async def test_concurrent_read_modify_write_loses_nothing(documents: Documents) -> None:
    await documents.create("directory", "t1", "counter", {"n": 0})

    async def increment() -> None:
        while True:
            doc = await documents.read("directory", "t1", "counter")
            assert doc is not None
            try:
                await documents.replace(
                    "directory", "t1", "counter", {"n": doc.body["n"] + 1}, doc.etag
                )
                return
            except ConcurrentUpdate:
                continue

    await asyncio.gather(*(increment() for _ in range(10)))
    final = await documents.read("directory", "t1", "counter")
    assert final is not None and final.body["n"] == 10


async def test_callers_hold_copies_of_documents(documents: Documents) -> None:
    body: JsonDict = {"memberIds": ["x"], "settings": {"n": 1}}
    created = await documents.create("directory", "t1", "g1", body)
    body["memberIds"].append("changed after create")
    created.body["settings"]["n"] = 2
    read = await documents.read("directory", "t1", "g1")
    assert read is not None
    read.body["memberIds"].append("changed after read")
    (found,) = await documents.query("directory", "t1", [Contains("memberIds", "x")])
    found.body["settings"]["n"] = 3
    stored = await documents.read("directory", "t1", "g1")
    assert stored is not None
    assert stored.body["memberIds"] == ["x"] and stored.body["settings"] == {"n": 1}
    assert "id" not in body and "tenantId" not in body  # nothing is added to the caller's body


async def test_replace_of_missing_document(documents: Documents) -> None:
    with pytest.raises(NotFound):
        await documents.replace("directory", "t1", "nope", {"n": 1}, "etag")


async def test_upsert_creates_and_overwrites(documents: Documents) -> None:
    await documents.upsert("state", "k", "k", {"v": 1})
    await documents.upsert("state", "k", "k", {"v": 2})
    read = await documents.read("state", "k", "k")
    assert read is not None and read.body["v"] == 2


async def test_delete(documents: Documents) -> None:
    await documents.create("directory", "t1", "g1", {})
    assert await documents.delete("directory", "t1", "g1") is True
    assert await documents.read("directory", "t1", "g1") is None
    assert await documents.delete("directory", "t1", "g1") is False


async def test_queries_in_one_partition(documents: Documents) -> None:
    await documents.create(
        "directory", "t1", "a", {"memberIds": ["x", "y"], "kind": "g", "open": True}
    )
    await documents.create("directory", "t1", "b", {"memberIds": ["y"], "kind": "g", "open": False})
    await documents.create("directory", "t1", "c", {"memberIds": ["z"], "kind": "h", "open": True})
    await documents.create("directory", "t2", "d", {"memberIds": ["y"], "kind": "g", "open": True})

    def ids(docs: list[Doc]) -> set[str]:
        return {d.id for d in docs}

    assert ids(await documents.query("directory", "t1", [Contains("memberIds", "y")])) == {"a", "b"}
    assert ids(await documents.query("directory", "t1", [Eq("kind", "g"), Eq("open", True)])) == {
        "a"
    }
    assert ids(await documents.query("directory", "t1", [IdIn(("a", "c", "zz"))])) == {"a", "c"}
    assert await documents.query("directory", "t1", [IdIn(())]) == []
    assert ids(await documents.query("directory", None, [Eq("open", True)])) == {"a", "c", "d"}


async def test_before_compares_strings_only(documents: Documents) -> None:
    await documents.create("messages", "g1", "old", {"sentAt": "2025-01-01T09:00:00+00:00"})
    await documents.create("messages", "g1", "new", {"sentAt": "2026-01-01T09:00:00.5+00:00"})
    await documents.create("messages", "g2", "edge", {"sentAt": "2026-01-01T09:00:00+00:00"})
    await documents.create("messages", "g2", "number", {"sentAt": 5})
    await documents.create("messages", "g2", "none", {"text": "no time"})
    cutoff = Before("sentAt", "2026-01-01T09:00:00+00:00")
    assert {d.id for d in await documents.query("messages", None, [cutoff])} == {"old"}
    later = Before("sentAt", "2026-06-01")
    assert {d.id for d in await documents.query("messages", None, [later])} == {
        "old",
        "new",
        "edge",
    }
    assert {d.id for d in await documents.query("messages", "g2", [later])} == {"edge"}


async def test_delete_where_in_a_partition_and_across(documents: Documents) -> None:
    for group, n in (("g1", 3), ("g2", 2)):
        for i in range(n):
            await documents.create("messages", group, f"m{i}", {"sentAt": f"2026-0{i + 1}-01"})
    await documents.create("directory", "g1", "not-a-message", {"n": 1})
    assert await documents.delete_where("messages", "g1", []) == 3
    assert await documents.query("messages", "g1", []) == []
    assert len(await documents.query("messages", "g2", [])) == 2
    assert await documents.read("directory", "g1", "not-a-message") is not None
    assert await documents.delete_where("messages", None, [Before("sentAt", "2026-02")]) == 1
    assert [d.id for d in await documents.query("messages", None, [])] == ["m1"]
    assert await documents.delete_where("messages", None, [IdIn(())]) == 0
    assert await documents.delete_where("messages", "g9", []) == 0


@pytest.mark.slow
async def test_delete_where_takes_more_than_one_batch(documents: Documents) -> None:
    """More documents than any backend deletes in one go (Cosmos 100, SQLite 500)."""
    await asyncio.gather(
        *(documents.create("messages", "g1", f"m{i:03}", {"old": True}) for i in range(520))
    )
    await documents.create("messages", "g1", "keep", {"old": False})
    assert await documents.delete_where("messages", None, [Eq("old", True)]) == 520
    assert [d.id for d in await documents.query("messages", "g1", [])] == ["keep"]


async def test_text_survives_unchanged(documents: Documents) -> None:
    text = "</script><script>alert('x')</script> \"quotes\" 🎉 שלום \u202e end"
    await documents.create("messages", "g", "m", {"text": text})
    read = await documents.read("messages", "g", "m")
    assert read is not None and read.body["text"] == text


async def test_awkward_keys_become_valid_ids(documents: Documents) -> None:
    key = "msteams/conversations/a:1?x#y%z\\" + "k" * 300
    doc_id = safe_id(key)
    assert len(doc_id) <= 255 and not set("/\\?#") & set(doc_id)
    await documents.upsert("state", doc_id, doc_id, {"v": 1})
    assert await documents.read("state", doc_id, doc_id) is not None
    assert safe_id("a/b") != safe_id("a%2Fb")


async def test_ping(documents: Documents) -> None:
    await documents.ping()
