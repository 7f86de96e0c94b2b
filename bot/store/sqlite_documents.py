"""The embedded store: documents in one SQLite file under DATA_DIR.

WAL mode with synchronous=FULL, so a committed write survives a crash of the
process or the machine (a create with `flush=False`, such as a de-duplication marker,
survives a crash of the process, and of the machine once a later write is committed).
SQLite calls block, so they run on one dedicated thread and the event loop only awaits
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bot.store.documents import (
    LEGACY_DIRECTORY_KINDS,
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

T = TypeVar("T")

# Fields queried across partitions have a partial index (only the documents that have the
# field): pending deliveries (recovery at start), message times (the retention purge), the
# oldest summary on a group, de-duplication markers' expiry. Without them each of those
# scans reads every document of its kind. The equality index leads with the field, the
# range ones with the kind: the shapes SQLite's planner uses without statistics
# (tests/test_lifecycle.py checks the plans). Queries spell the expressions the same way.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    partition TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (kind, partition, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_pending ON documents (json_extract(body, '$.pending'))
    WHERE json_extract(body, '$.pending') IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_sent ON documents (kind, json_extract(body, '$.sentAt'))
    WHERE json_extract(body, '$.sentAt') IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_recent ON documents (kind, json_extract(body, '$.recentSince'))
    WHERE json_extract(body, '$.recentSince') IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_meeting ON documents (kind, json_extract(body, '$.meetingStart'))
    WHERE json_extract(body, '$.meetingStart') IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_expiry ON documents (kind, json_extract(body, '$.expiresAt'))
    WHERE json_extract(body, '$.expiresAt') IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_unfiled ON documents (kind, json_extract(body, '$.unfiledUntil'))
    WHERE json_extract(body, '$.unfiledUntil') IS NOT NULL;
"""
# How many documents one `delete_where` statement removes: other calls run in between.
_DELETE_BATCH = 500


class _Call:
    """One SQLite call for the store's thread, and where its outcome goes."""

    __slots__ = ("future", "loop", "work")

    def __init__(
        self,
        work: Callable[[], object],
        future: asyncio.Future[object],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.work = work
        self.future = future
        self.loop = loop


class _StoreThread:
    """The one thread that runs the store's SQLite calls, in the order they are asked.

    Leaner than `run_in_executor` (no concurrent.futures Future, no pool bookkeeping per
    call; that path cost about 0.1 ms of CPU per call): a call is a queue put, and its
    outcome one wake-up of the event loop that asked."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="sqlite", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._calls.put(_Call(work, future, loop))
        return await future  # type: ignore[return-value]

    def stop(self) -> None:
        self._calls.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                result = call.work()
            except BaseException as error:  # noqa: BLE001 - every outcome goes to the caller
                _answer(call, _failed, error)
            else:
                _answer(call, _done, result)


def _answer(
    call: _Call, settle: Callable[[asyncio.Future[object], Any], None], outcome: Any
) -> None:
    # A loop closed meanwhile has nobody waiting for the outcome.
    with contextlib.suppress(RuntimeError):
        call.loop.call_soon_threadsafe(settle, call.future, outcome)


def _done(future: asyncio.Future[object], result: object) -> None:
    if not future.done():  # the caller may have been cancelled
        future.set_result(result)


def _failed(future: asyncio.Future[object], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class SqliteDocuments:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread: _StoreThread | None = None
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = _StoreThread()
        await self._run(self._open)

    def _open(self) -> None:
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        legacy = ",".join("?" * len(LEGACY_DIRECTORY_KINDS))
        db.execute(
            f"UPDATE documents SET kind='directory' WHERE kind IN ({legacy})",
            LEGACY_DIRECTORY_KINDS,
        )
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.stop)  # what was asked before finishes first

    async def _run(self, work: Callable[[], T]) -> T:
        if self._thread is None:
            raise StoreError("the store is not open")
        try:
            return await self._thread.run(work)
        except sqlite3.Error as error:
            raise StoreError(f"sqlite: {error}") from error

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def ping(self) -> None:
        await self._run(lambda: self._conn.execute("SELECT 1").fetchone())

    async def read(self, kind: str, partition: str, doc_id: str) -> Doc | None:
        def work() -> Doc | None:
            row = self._conn.execute(
                "SELECT body, etag FROM documents WHERE kind=? AND partition=? AND id=?",
                (kind, partition, doc_id),
            ).fetchone()
            return None if row is None else _doc(doc_id, partition, row[0], row[1])

        return await self._run(work)

    async def create(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, *, flush: bool = True
    ) -> Doc:
        text, etag = _encode(kind, partition, doc_id, body)

        def work() -> Doc:
            conn = self._conn
            if not flush:
                # Committed without an fsync of its own: the next flushed commit's fsync of
                # the write-ahead log covers it too (WAL frames are written in order).
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute(
                    "INSERT INTO documents (kind, partition, id, body, etag) VALUES (?,?,?,?,?)",
                    (kind, partition, doc_id, text, etag),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"{kind}/{doc_id} exists") from None
            finally:
                if not flush:
                    conn.execute("PRAGMA synchronous=FULL")
            return _doc(doc_id, partition, text, etag)

        return await self._run(work)

    async def replace(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, etag: str
    ) -> Doc:
        text, new_etag = _encode(kind, partition, doc_id, body)

        def work() -> Doc:
            changed = self._conn.execute(
                "UPDATE documents SET body=?, etag=? WHERE kind=? AND partition=? AND id=? AND etag=?",
                (text, new_etag, kind, partition, doc_id, etag),
            ).rowcount
            if changed == 0:
                exists = self._conn.execute(
                    "SELECT 1 FROM documents WHERE kind=? AND partition=? AND id=?",
                    (kind, partition, doc_id),
                ).fetchone()
                if exists is None:
                    raise NotFound(f"{kind}/{doc_id} not found")
                raise ConcurrentUpdate(f"{kind}/{doc_id} changed since it was read")
            return _doc(doc_id, partition, text, new_etag)

        return await self._run(work)

    async def upsert(self, kind: str, partition: str, doc_id: str, body: JsonDict) -> Doc:
        text, etag = _encode(kind, partition, doc_id, body)

        def work() -> Doc:
            self._conn.execute(
                "INSERT INTO documents (kind, partition, id, body, etag) VALUES (?,?,?,?,?) "
                "ON CONFLICT (kind, partition, id) DO UPDATE SET body=excluded.body, etag=excluded.etag",
                (kind, partition, doc_id, text, etag),
            )
            return _doc(doc_id, partition, text, etag)

        return await self._run(work)

    async def delete(self, kind: str, partition: str, doc_id: str) -> bool:
        def work() -> bool:
            cursor = self._conn.execute(
                "DELETE FROM documents WHERE kind=? AND partition=? AND id=?",
                (kind, partition, doc_id),
            )
            return cursor.rowcount > 0

        return await self._run(work)

    async def query(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[Doc]:
        found = _where(kind, partition, where)
        if found is None:
            return []
        clause, params = found
        sql = f"SELECT id, partition, body, etag FROM documents WHERE {clause}"

        def work() -> list[Doc]:
            rows = self._conn.execute(sql, params).fetchall()
            return [_doc(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._run(work)

    async def explain(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[str]:
        """How SQLite finds what `query` (and `delete_where`) asks for: EXPLAIN QUERY
        PLAN's details, such as "SEARCH documents USING INDEX documents_pending (...)"."""
        found = _where(kind, partition, where)
        if found is None:
            return []
        clause, params = found
        sql = f"EXPLAIN QUERY PLAN SELECT id FROM documents WHERE {clause}"
        return await self._run(
            lambda: [str(row[-1]) for row in self._conn.execute(sql, params).fetchall()]
        )

    async def delete_where(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> int:
        found = _where(kind, partition, where)
        if found is None:
            return 0
        clause, params = found
        sql = (
            "DELETE FROM documents WHERE (kind, partition, id) IN "
            f"(SELECT kind, partition, id FROM documents WHERE {clause} LIMIT {_DELETE_BATCH})"
        )

        def work() -> int:
            return self._conn.execute(sql, params).rowcount

        deleted = 0
        while True:
            batch = await self._run(work)
            deleted += batch
            if batch < _DELETE_BATCH:
                return deleted


def _where(
    kind: str, partition: str | None, where: Sequence[Condition]
) -> tuple[str, list[Any]] | None:
    """The SQL condition and its parameters; None when nothing can match (an empty IdIn)."""
    sql = ["kind=?"]
    params: list[Any] = [kind]
    if partition is not None:
        sql.append("partition=?")
        params.append(partition)
    for condition in where:
        if isinstance(condition, Eq):
            sql.append(f"json_extract(body, '$.{check_field(condition.field)}') = ?")
            params.append(condition.value)
        elif isinstance(condition, Contains):
            sql.append(
                "EXISTS (SELECT 1 FROM json_each(body, "
                f"'$.{check_field(condition.field)}') WHERE value = ?)"
            )
            params.append(condition.value)
        elif isinstance(condition, IdIn):
            if not condition.ids:
                return None
            sql.append(f"id IN ({','.join('?' * len(condition.ids))})")
            params.extend(condition.ids)
        elif isinstance(condition, Before):
            field = check_field(condition.field)
            # Written exactly as the index is, so SQLite uses it; json_type keeps numbers
            # out (SQLite sorts every number before every string).
            sql.append(
                f"json_extract(body, '$.{field}') < ? AND json_type(body, '$.{field}') = 'text'"
            )
            params.append(condition.value)
    return " AND ".join(sql), params


def _encode(kind: str, partition: str, doc_id: str, body: JsonDict) -> tuple[str, str]:
    stored = {**body, "id": doc_id, PARTITION_KEYS[kind]: partition}
    return json.dumps(stored, separators=(",", ":"), ensure_ascii=False), uuid.uuid4().hex


def _doc(doc_id: str, partition: str, text: str, etag: str) -> Doc:
    # Its own copy for every caller: each Doc decodes the text itself, when asked.
    return Doc.stored(doc_id, partition, text, etag)
