"""What stored documents decoded to, kept by their etag.

An etag names one version of one document: the same etag read again decodes to the same
person, group or message, so the repository keeps what it decoded and builds it again
only when the document changed. A message read for every member's copy, a sender's
group and its twenty members read with every message: in steady state none of them is
decoded twice. What is kept is immutable (frozen dataclasses of tuples), so every
caller can hold it. Bounded: the least recently used goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from bot.store.documents import Doc

T = TypeVar("T")


class Decoded(Generic[T]):
    def __init__(self, decode: Callable[[Doc], T | None], size: int) -> None:
        self._decode = decode
        self._size = size
        # (partition, id) -> (etag, what that version decoded to): one entry a document.
        self._kept: OrderedDict[tuple[str, str], tuple[str, T]] = OrderedDict()

    def __call__(self, doc: Doc, *, keep: bool = True) -> T | None:
        """What `doc` decodes to (None when it is not one of the kind kept); its body is
        not even parsed when this version was decoded before. `keep=False` for reads of
        many at once (a whole history): they use what is kept but push nothing out."""
        key = (doc.partition, doc.id)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == doc.etag:
            self._kept.move_to_end(key)
            return kept[1]
        value = self._decode(doc)
        if value is not None and keep:
            self.keep(doc.partition, doc.id, doc.etag, value)
        return value

    def keep(self, partition: str, doc_id: str, etag: str, value: T) -> None:
        """Keeps what a version is known to decode to (written just now, as given)."""
        key = (partition, doc_id)
        self._kept[key] = (etag, value)
        self._kept.move_to_end(key)
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
