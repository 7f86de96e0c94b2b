"""Reading a request body as JSON, with every way it can be bad mapped to one reason.

`json.loads` alone has failure modes a client can pick: deep nesting raises
RecursionError, a number of thousands of digits raises ValueError (Python 3.11's
limit on int conversion), a repeated key silently keeps the last value, so two
readers of one body could disagree on what it says, and a `\\ud800` escape decodes to
a lone surrogate, which no encoder (UTF-8, SQLite, hmac) accepts later. `parse_json`
turns each of these into a `JsonBodyError` whose reason the endpoint answers with a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonBodyError(ValueError):
    """The body cannot be used as JSON; `reason` says why, for the 400 answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotJson(JsonBodyError):
    """The body is UTF-8 but not JSON syntax (Outlook's action bodies can be like this)."""


class _DuplicateKey(Exception):
    """Raised from the pairs hook; not a ValueError, so it cannot be mistaken for one."""


class _NonStandardNumber(Exception):
    """NaN and Infinity (also 1e999, which float() makes infinite): not JSON numbers."""


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(_: str) -> Any:
    raise _NonStandardNumber


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonStandardNumber
    return value


def has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in `value` (a key or a value) holds a lone surrogate.

    Paired escapes (a high then a low surrogate) are decoded by json into one character,
    and UTF-8 text cannot hold surrogates: any left in a decoded string is a lone one.
    """
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`; raises `JsonBodyError` (or `NotJson`) with the reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("the body is not valid JSON (not UTF-8)") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise JsonBodyError("the JSON is nested too deeply") from None
    except _DuplicateKey:
        raise JsonBodyError("the JSON has a duplicate key") from None
    except _NonStandardNumber:
        raise JsonBodyError("a number in the JSON is NaN or infinite") from None
    except json.JSONDecodeError:
        raise NotJson("the body is not valid JSON") from None
    except ValueError:
        # After JSONDecodeError (a subclass): what is left is int()'s digit limit.
        raise JsonBodyError("a number in the JSON has too many digits") from None
    # Only an escape can make a surrogate (UTF-8 text holds none): most bodies skip the walk.
    if "\\u" in text and has_lone_surrogate(value):
        raise JsonBodyError("the body has a lone surrogate (invalid Unicode)")
    return value
