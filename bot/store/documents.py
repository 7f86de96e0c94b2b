"""A small document-store port: JSON documents in partitions, with etags.

Both backends (embedded SQLite, Azure Cosmos DB) implement exactly this, and the
domain repository is written once on top of it, so both behave the same. The
query shapes are deliberately few: each one maps to a single-partition Cosmos
query or an indexed SQLite lookup.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.ports import ConcurrentUpdate, StoreError

JsonDict = dict[str, Any]

# Each kind of document is a Cosmos container; this field holds its partition key.
PARTITION_KEYS: dict[str, str] = {
    # A tenant's people and groups together: a sender, their active group and its members
    # are one single-partition query, and a person's groups one query too.
    "directory": "tenantId",
    "messages": "groupId",  # a group's messages stay together; writes spread across groups
    "state": "key",  # bot state and de-duplication markers: point reads by key
}

# Earlier layouts kept people and groups in containers of their own; opening a store
# moves their documents into "directory" (ids cannot collide: person ids are addresses
# or `teams:` ids, group ids are hex, alias ids start with `teams-user:`).
LEGACY_DIRECTORY_KINDS = ("people", "groups")

_UNSAFE = re.compile(r"[/\\?#%]")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AlreadyExists(StoreError):
    pass


class NotFound(StoreError):
    pass


__all__ = ["AlreadyExists", "ConcurrentUpdate", "Doc", "Documents", "NotFound", "StoreError"]


class Doc:
    """One stored document: its id, partition, etag and body.

    A backend that keeps JSON text hands it over undecoded (`Doc.stored`): the body is
    decoded when first asked for, so a reader that already decoded this etag (the
    repository keeps what it decoded, by etag) never pays for it again."""

    __slots__ = ("_body", "_text", "etag", "id", "partition")

    def __init__(self, id: str, partition: str, body: JsonDict, etag: str) -> None:
        self.id = id
        self.partition = partition
        self.etag = etag
        self._body: JsonDict | None = body
        self._text = ""

    @classmethod
    def stored(cls, id: str, partition: str, text: str, etag: str) -> Doc:
        """A document from its stored JSON text, decoded when its body is first read."""
        doc = cls(id, partition, {}, etag)
        doc._body, doc._text = None, text
        return doc

    @property
    def body(self) -> JsonDict:
        if self._body is None:
            self._body = json.loads(self._text)
            self._text = ""
        return self._body

    def __repr__(self) -> str:
        return f"Doc(id={self.id!r}, partition={self.partition!r}, etag={self.etag!r})"


@dataclass(frozen=True)
class Eq:
    field: str
    value: str | int | bool


@dataclass(frozen=True)
class Contains:
    """The array `field` contains `value`."""

    field: str
    value: str


@dataclass(frozen=True)
class IdIn:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Before:
    """The string `field` sorts before `value` (ISO-8601 times in UTC sort as they happened).

    A missing field, or one that is not a string, never matches.
    """

    field: str
    value: str


Condition = Eq | Contains | IdIn | Before


def safe_id(key: str) -> str:
    """A document id Cosmos accepts: no / \\ ? #, at most 255 characters."""
    if len(key) <= 200 and not _UNSAFE.search(key):
        return key  # the usual id, as it is (read for every person of every message)
    escaped = "".join(f"%{ord(ch):02X}" if ch in "/\\?#%" else ch for ch in key)
    if len(escaped) <= 200:
        return escaped
    return escaped[:100] + "~" + hashlib.sha256(key.encode()).hexdigest()


def check_field(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"not a plain field name: {name!r}")
    return name


class Documents(Protocol):
    async def ping(self) -> None: ...

    async def read(self, kind: str, partition: str, doc_id: str) -> Doc | None: ...

    async def create(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, *, flush: bool = True
    ) -> Doc:
        """Raises AlreadyExists when the id is taken in that partition. `flush=False`: the
        write may be lost if the machine (not the process) stops before the next flushed
        write; for markers whose loss only repeats harmless work."""
        ...

    async def replace(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, etag: str
    ) -> Doc:
        """Raises ConcurrentUpdate when the stored etag differs, NotFound when it is gone."""
        ...

    async def upsert(self, kind: str, partition: str, doc_id: str, body: JsonDict) -> Doc: ...

    async def delete(self, kind: str, partition: str, doc_id: str) -> bool:
        """False when there was nothing to delete."""
        ...

    async def query(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[Doc]:
        """All documents matching every condition; partition None searches all partitions."""
        ...

    async def delete_where(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> int:
        """Deletes every document matching every condition (all of a partition when `where`
        is empty); how many were deleted. Works in batches: memory stays flat however many."""
        ...

    async def close(self) -> None: ...
