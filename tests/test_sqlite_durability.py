"""The embedded store flushes every write but a marker's: a marker's commit skips the
fsync (the next flushed commit covers it), and the writes after it are flushed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.documents import AlreadyExists
from bot.store.sqlite_documents import SqliteDocuments


async def _synchronous(documents: SqliteDocuments) -> int:
    # The connection's own setting is the fact tested.
    rows = await documents._run(lambda: documents._conn.execute("PRAGMA synchronous").fetchone())
    return int(rows[0])


async def test_only_the_unflushed_create_skips_the_fsync(tmp_path: Path) -> None:
    documents = SqliteDocuments(tmp_path / "send.db")
    await documents.open()
    try:
        full = 2
        assert await _synchronous(documents) == full
        await documents.create("state", "once:a", "once:a", {"type": "once"}, flush=False)
        assert await _synchronous(documents) == full
        with pytest.raises(AlreadyExists):
            await documents.create("state", "once:a", "once:a", {"type": "once"}, flush=False)
        assert await _synchronous(documents) == full  # after a refused one too
        await documents.create("directory", "t1", "p1", {"type": "person"})
        assert await _synchronous(documents) == full
    finally:
        await documents.close()


async def test_an_unflushed_marker_survives_a_restart(tmp_path: Path) -> None:
    documents = SqliteDocuments(tmp_path / "send.db")
    await documents.open()
    await documents.create("state", "once:b", "once:b", {"type": "once"}, flush=False)
    await documents.close()
    reopened = SqliteDocuments(tmp_path / "send.db")
    await reopened.open()
    try:
        assert await reopened.read("state", "once:b", "once:b") is not None
    finally:
        await reopened.close()
