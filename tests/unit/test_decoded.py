"""What the repository keeps of decoded documents: by version, bounded, never stale; and
document ids made without work when there is nothing to escape."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from bot.store.decoded import Decoded
from bot.store.documents import Doc, safe_id


def stored(doc_id: str, etag: str, **body: object) -> Doc:
    return Doc.stored(doc_id, "t1", json.dumps(body), etag)


def counting() -> tuple[Decoded[str], list[str]]:
    decoded: list[str] = []

    def decode(doc: Doc) -> str | None:
        decoded.append(doc.id)
        name = doc.body.get("name")
        return None if name is None else str(name)

    return Decoded(decode, size=2), decoded


def test_a_version_read_again_is_not_decoded_again() -> None:
    kept, decoded = counting()
    assert kept(stored("a", "e1", name="Ann")) == "Ann"
    again = stored("a", "e1", name="Ann")
    assert kept(again) == "Ann"
    assert decoded == ["a"]
    assert again._body is None  # its JSON text was not even parsed


def test_a_new_version_is_decoded() -> None:
    kept, decoded = counting()
    kept(stored("a", "e1", name="Ann"))
    assert kept(stored("a", "e2", name="Anne")) == "Anne"
    assert kept(stored("a", "e1", name="Ann")) == "Ann"  # an older copy read elsewhere
    assert decoded == ["a", "a", "a"] and len(kept) == 1


def test_what_is_not_of_the_kind_is_not_kept() -> None:
    kept, decoded = counting()
    assert kept(stored("alias", "e1", personId="a")) is None
    assert kept(stored("alias", "e1", personId="a")) is None
    assert decoded == ["alias", "alias"] and len(kept) == 0


def test_the_least_recently_used_goes_first() -> None:
    kept, decoded = counting()
    kept(stored("a", "e1", name="Ann"))
    kept(stored("b", "e1", name="Bob"))
    kept(stored("a", "e1", name="Ann"))  # used: Bob is now the oldest
    kept(stored("c", "e1", name="Cy"))
    assert len(kept) == 2
    kept(stored("a", "e1", name="Ann"))
    kept(stored("b", "e1", name="Bob"))
    assert decoded == ["a", "b", "c", "b"]


def test_what_was_written_is_kept_as_given() -> None:
    kept, decoded = counting()
    kept.keep("t1", "a", "e9", "Ann as written")
    assert kept(stored("a", "e9", name="Ann")) == "Ann as written"
    assert decoded == []


def test_a_stored_document_decodes_its_own_copy() -> None:
    first, second = stored("a", "e1", tags=["x"]), stored("a", "e1", tags=["x"])
    first.body["tags"].append("changed")
    assert second.body == {"tags": ["x"]}
    assert first.body["tags"] == ["x", "changed"]  # the same body every time it is asked


def _safe_id_escaping_every_key(key: str) -> str:
    """safe_id as it was before its shortcut for ids with nothing to escape."""
    escaped = "".join(f"%{ord(ch):02X}" if ch in "/\\?#%" else ch for ch in key)
    if len(escaped) <= 200:
        return escaped
    return escaped[:100] + "~" + hashlib.sha256(key.encode()).hexdigest()


@given(st.text(alphabet=st.sampled_from("ab/\\?#%é:@.-~"), max_size=260) | st.text(max_size=260))
def test_the_usual_id_is_kept_as_it_is_and_others_escaped_as_before(key: str) -> None:
    assert safe_id(key) == _safe_id_escaping_every_key(key)
    assert len(safe_id(key)) <= 255 and not set("/\\?#") & set(safe_id(key))


def test_a_read_of_many_uses_what_is_kept_and_pushes_nothing_out() -> None:
    kept, decoded = counting()
    kept(stored("a", "e1", name="Ann"))
    history = [stored("a", "e1", name="Ann"), stored("b", "e1", name="Bob")]
    history += [stored("c", "e1", name="Cy")]
    assert [kept(d, keep=False) for d in history] == ["Ann", "Bob", "Cy"]
    assert decoded == ["a", "b", "c"] and len(kept) == 1  # Ann was not decoded again
