"""Ids and names: what may become part of a path or a blob name, and what is only shown.

Paths and blob names are made of the tenant id, the group id and a generated media id,
each checked here. The sender's file name is never part of one: it is cleaned for
display and kept as a property of the item.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from urllib.parse import quote

from bot.core.model import MediaKind

# Entra tenant ids are GUIDs and group ids uuid4 hex; this admits both and nothing that
# could climb out of a folder (no separators, no "." or "..").
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MEDIA_ID = re.compile(r"[0-9a-f]{32}")
SHOWN_NAME_CHARS = 80
KEPT_NAME_CHARS = 200


def new_media_id() -> str:
    return uuid.uuid4().hex


def is_media_id(value: str) -> bool:
    return _MEDIA_ID.fullmatch(value) is not None


def check_component(value: str, what: str) -> str:
    """`value` if it can be one folder or blob-name segment; a ValueError otherwise (a bug
    in the caller: these ids are the app's own, never typed by a person)."""
    if not _COMPONENT.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} cannot be part of a storage path: {value!r}")
    return value


def item_key(tenant_id: str, group_id: str, media_id: str) -> str:
    """`<tenant>/<group>/<media id>`: the blob name, and the path under the media folder."""
    if not is_media_id(media_id):
        raise ValueError(f"not a media id: {media_id!r}")
    return "/".join(
        (check_component(tenant_id, "tenant id"), check_component(group_id, "group id"), media_id)
    )


def group_prefix(tenant_id: str, group_id: str) -> str:
    return f"{check_component(tenant_id, 'tenant id')}/{check_component(group_id, 'group id')}/"


def clean_name(name: str) -> str:
    """The sender's file name without any folder part or control characters, one line.

    Teams and Outlook hand over names like "C:\\Users\\x\\photo.png" or names with a
    newline in them; what people see must be one short line.
    """
    base = re.split(r"[\\/]", name)[-1]
    chars = (" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in base)
    text = " ".join("".join(chars).split())
    return text[:KEPT_NAME_CHARS].strip()


def shown_name(name: str) -> str:
    """The cleaned name shortened for a one-line answer, or a stand-in when it has none."""
    text = clean_name(name)
    if not text:
        return "This file"
    if len(text) > SHOWN_NAME_CHARS:
        return text[: SHOWN_NAME_CHARS - 1] + "…"
    return text


def extension(name: str) -> str:
    """The lower-case extension with its dot (".png"), or "" when the name has none."""
    text = clean_name(name)
    dot = text.rfind(".")
    if dot <= 0 or dot == len(text) - 1:
        return ""
    return text[dot:].lower()


def disposition(kind: MediaKind, name: str) -> str:
    """Content-Disposition: a picture opens in place, a file downloads under its name."""
    how = "inline" if kind is MediaKind.PHOTO else "attachment"
    return f"{how}; filename*=UTF-8''{quote(name, safe='')}"
