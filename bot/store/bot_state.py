"""Bot Framework `Storage` (for ConversationState and dialogs) over the document port.

Values are encoded with jsonpickle, as botbuilder's own Cosmos and Blob storages
do, because dialog state holds objects, not only dicts. `e_tag` follows
`MemoryStorage`: absent or "*" overwrites; any other value must match the stored
etag or the write fails, so two turns cannot silently overwrite each other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonpickle
from botbuilder.core import Storage

from bot.core.ports import ConcurrentUpdate
from bot.store.documents import AlreadyExists, Documents, NotFound, safe_id


class BotStateConflict(KeyError):
    """Raised like MemoryStorage's KeyError when an e_tag does not match."""


class DocumentBotStorage(Storage):  # type: ignore[misc]
    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self._docs = documents

    async def read(self, keys: Sequence[str]) -> dict[str, Any]:
        if keys is None:
            raise TypeError("Keys are required when reading")
        found: dict[str, Any] = {}
        for key in keys:
            doc_id = safe_id(f"bot:{key}")
            doc = await self._docs.read("state", doc_id, doc_id)
            if doc is None:
                continue
            value = jsonpickle.decode(json.dumps(doc.body["value"]))
            if isinstance(value, dict):
                value["e_tag"] = doc.etag
            elif hasattr(value, "e_tag"):
                value.e_tag = doc.etag
            found[key] = value
        return found

    async def write(self, changes: dict[str, Any]) -> None:
        if changes is None:
            raise TypeError("Changes are required when writing")
        if not changes:
            return
        for key, value in changes.items():
            doc_id = safe_id(f"bot:{key}")
            e_tag = value.get("e_tag") if isinstance(value, dict) else getattr(value, "e_tag", None)
            if e_tag == "":
                raise ValueError("bot state write: e_tag is empty")
            body = {"type": "botState", "value": json.loads(jsonpickle.encode(value))}
            if e_tag is None or e_tag == "*":
                await self._docs.upsert("state", doc_id, doc_id, body)
                continue
            try:
                await self._docs.replace("state", doc_id, doc_id, body, str(e_tag))
            except NotFound:
                try:
                    await self._docs.create("state", doc_id, doc_id, body)
                except AlreadyExists:
                    raise BotStateConflict(f"bot state {key!r} was written meanwhile") from None
            except ConcurrentUpdate:
                raise BotStateConflict(f"bot state {key!r}: e_tag conflict") from None

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            doc_id = safe_id(f"bot:{key}")
            await self._docs.delete("state", doc_id, doc_id)
