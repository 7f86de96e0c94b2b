"""Markdown that shows text literally: for Teams messages and Adaptive Card text blocks."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def literal(text: str) -> str:
    """`text` with every markdown character escaped: shown as typed, never as formatting."""
    return _SPECIAL.sub(r"\\\1", text)
