"""The document port in memory, for fast tests of the core: no file, no thread, no server.

It behaves like `SqliteDocuments`: bodies are kept as the same JSON text (with `id`
and the partition field added), so callers never share objects with the store;
every write makes a new etag; queries return documents in (partition, id) order.
Each call yields to the event loop once, as an awaited database call does, so
concurrent writers interleave and meet `ConcurrentUpdate` as they would there.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

from bot.store.documents import (
    PARTITION_KEYS,
    AlreadyExists,
    Before,
    ConcurrentUpdate,
    Condition,
    Contains,
    Doc,
    Eq,
    IdIn,
    JsonDict,
    NotFound,
    StoreError,
    check_field,
)

# (kind, partition, id) -> (body as JSON text, etag)
_Key = tuple[str, str, str]


class MemoryDocuments:
    def __init__(self) -> None:
        self._rows: dict[_Key, tuple[str, str]] = {}
        self._closed = False

    async def _turn(self) -> None:
        await asyncio.sleep(0)
        if self._closed:
            raise StoreError("the store is not open")

    async def ping(self) -> None:
        await self._turn()

    async def close(self) -> None:
        self._closed = True

    async def read(self, kind: str, partition: str, doc_id: str) -> Doc | None:
        await self._turn()
        row = self._rows.get((kind, partition, doc_id))
        return None if row is None else _doc(doc_id, partition, *row)

    async def create(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, *, flush: bool = True
    ) -> Doc:
        row = _encode(kind, partition, doc_id, body)
        await self._turn()
        key = (kind, partition, doc_id)
        if key in self._rows:
            raise AlreadyExists(f"{kind}/{doc_id} exists")
        self._rows[key] = row
        return _doc(doc_id, partition, *row)

    async def replace(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, etag: str
    ) -> Doc:
        row = _encode(kind, partition, doc_id, body)
        await self._turn()
        key = (kind, partition, doc_id)
        stored = self._rows.get(key)
        if stored is None:
            raise NotFound(f"{kind}/{doc_id} not found")
        if stored[1] != etag:
            raise ConcurrentUpdate(f"{kind}/{doc_id} changed since it was read")
        self._rows[key] = row
        return _doc(doc_id, partition, *row)

    async def upsert(self, kind: str, partition: str, doc_id: str, body: JsonDict) -> Doc:
        row = _encode(kind, partition, doc_id, body)
        await self._turn()
        self._rows[(kind, partition, doc_id)] = row
        return _doc(doc_id, partition, *row)

    async def delete(self, kind: str, partition: str, doc_id: str) -> bool:
        await self._turn()
        return self._rows.pop((kind, partition, doc_id), None) is not None

    async def query(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[Doc]:
        if not _checked(where):
            return []
        await self._turn()
        return [doc for _, doc in self._matching(kind, partition, where)]

    async def delete_where(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> int:
        if not _checked(where):
            return 0
        await self._turn()
        keys = [key for key, _ in self._matching(kind, partition, where)]
        for key in keys:
            del self._rows[key]
        return len(keys)

    def _matching(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[tuple[_Key, Doc]]:
        found: list[tuple[_Key, Doc]] = []
        for key, row in sorted(self._rows.items()):
            row_kind, row_partition, doc_id = key
            if row_kind != kind or partition not in (None, row_partition):
                continue
            doc = _doc(doc_id, row_partition, *row)
            if all(_matches(doc, condition) for condition in where):
                found.append((key, doc))
        return found


def _checked(where: Sequence[Condition]) -> bool:
    """False when nothing can match (an empty IdIn); field names refused as elsewhere."""
    for condition in where:
        if isinstance(condition, IdIn):
            if not condition.ids:
                return False
        else:
            check_field(condition.field)  # refused here as the other backends refuse it
    return True


def _matches(doc: Doc, condition: Condition) -> bool:
    if isinstance(condition, Eq):
        # Plain equality, like SQLite's json_extract: a missing field matches nothing.
        return condition.field in doc.body and _equal(doc.body[condition.field], condition.value)
    if isinstance(condition, Contains):
        # Arrays only, as the port says (SQLite's json_each would also look into a scalar).
        values = doc.body.get(condition.field)
        return isinstance(values, list) and any(_equal(v, condition.value) for v in values)
    if isinstance(condition, Before):
        stored = doc.body.get(condition.field)
        return isinstance(stored, str) and stored < condition.value
    return doc.id in condition.ids


def _equal(stored: Any, wanted: str | int | bool) -> bool:
    # As in SQLite: true/false are 1/0 (Python's == agrees) and a string never equals a
    # number. An array or object matches nothing (SQLite would compare its JSON text).
    if isinstance(stored, list | dict) or isinstance(stored, str) != isinstance(wanted, str):
        return False
    return bool(stored == wanted)


def _encode(kind: str, partition: str, doc_id: str, body: JsonDict) -> tuple[str, str]:
    # The JSON text is the copy: what the caller keeps mutating is not what is stored.
    stored = {**body, "id": doc_id, PARTITION_KEYS[kind]: partition}
    return json.dumps(stored, separators=(",", ":"), ensure_ascii=False), uuid.uuid4().hex


def _doc(doc_id: str, partition: str, text: str, etag: str) -> Doc:
    body: JsonDict = json.loads(text)
    return Doc(id=doc_id, partition=partition, body=body, etag=etag)
