"""What a Teams message looked like: its formatting, and the copy a Teams "Reply" quotes.

Teams sends every message twice: `text`, plain, and a `text/html` attachment with the
message as Teams drew it (bold, italic, strikethrough, links, lists, and a quoted message
as a `blockquote` of schema.skype.com's `Reply`). That HTML is someone's input: it goes
through an allow-list sanitiser (nh3, the Rust `ammonia`) first, keeping only those
elements and http(s) links; only then is it read, into `Styled` runs of plain text, which
the cards and the Outlook mail draw again with their own markup. No HTML received is ever
sent on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from bot.core.model import Styled

HTML_CONTENT_TYPE = "text/html"
REPLY_TYPE = "http://schema.skype.com/Reply"
MENTION_TYPE = "http://schema.skype.com/Mention"

_TAGS = {
    "b", "strong", "i", "em", "s", "strike", "del", "a", "br", "p", "div",
    "ul", "ol", "li", "blockquote", "span", "img",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href"}, "blockquote": {"itemtype", "itemid"}, "span": {"itemtype"}}
_BOLD, _ITALIC, _STRIKE = {"b", "strong"}, {"i", "em"}, {"s", "strike", "del"}
_BLOCKS = {"p", "div", "ul", "ol", "blockquote"}
# Elements that make the HTML say more than the plain text (formatting, lists, a quote).
_MEANINGFUL = re.compile(r"<(?:b|strong|i|em|s|strike|del|a|li|blockquote)[\s>]", re.IGNORECASE)
MAX_RUNS = 200
# How much of the attachment is read: a message is at most a few thousand characters.
MAX_HTML_CHARS = 100_000


@dataclass(frozen=True)
class ReadHtml:
    """The message as typed: its text, its runs (`()` when nothing in it is formatted),
    and the Teams activity id of the copy it quotes ("" when it quotes none)."""

    text: str
    styled: tuple[Styled, ...] = ()
    quoted: str = ""


def read_html(raw: str) -> ReadHtml | None:
    """The message the HTML shows; None when it says nothing more than the activity's
    `text` (no formatting, no quote: most messages, told by a glance), or cannot stand for
    it (mentions, pictures: those are read from the activity itself)."""
    if not _MEANINGFUL.search(raw):
        return None
    clean = nh3.clean(
        raw[:MAX_HTML_CHARS],
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel=None,
    )
    reader = _Reader()
    reader.feed(clean)
    reader.close()
    if reader.unusable:
        return None
    runs = _merged(_trimmed(reader.runs))
    text = "".join(r.text for r in runs)
    formatted = any(r.bold or r.italic or r.strike or r.link for r in runs)
    # A card holds about 28 KB: past MAX_RUNS pieces, the text is shown plain.
    styled = tuple(runs) if formatted and len(runs) <= MAX_RUNS else ()
    return ReadHtml(text, styled, reader.quoted)


class _Reader(HTMLParser):
    """Reads sanitised HTML into runs of text, each with the look of the elements it is in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[Styled] = []
        self.quoted = ""
        self.unusable = False
        self._open: list[str] = []
        self._links: list[str] = []
        self._lists: list[list[int]] = []  # per list: [its last number], or [] for bullets
        self._in_quote = 0  # depth inside a quoted message's blockquote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self._in_quote:
            self._in_quote += tag == "blockquote"
            return
        if tag == "blockquote" and found.get("itemtype") == REPLY_TYPE:
            self.quoted = self.quoted or (found.get("itemid") or "")
            self._in_quote = 1
            return
        if tag == "img" or (tag == "span" and found.get("itemtype") == MENTION_TYPE):
            self.unusable = True
        if tag == "br":
            self._text("\n")
            return
        if tag in _BLOCKS:
            self._break()
        if tag in ("ul", "ol"):
            self._lists.append([0] if tag == "ol" else [])
        elif tag == "li":
            self._break()
            marker = "• "
            if self._lists and self._lists[-1]:
                self._lists[-1][0] += 1
                marker = f"{self._lists[-1][0]}. "
            self._text(marker, plain=True)
        elif tag == "a":
            self._links.append(_web_link(found.get("href") or ""))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in_quote:
            self._in_quote -= tag == "blockquote"
            return
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        if tag == "a" and self._links:
            self._links.pop()
        if tag in self._open:
            # Close it and whatever was left open inside it (HTML forgives, so do we).
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]
        if tag in _BLOCKS or tag == "li":
            self._break()

    def handle_data(self, data: str) -> None:
        if self._in_quote:
            return
        text = re.sub(r"\s+", " ", data)
        if text == " " and (not self.runs or self.runs[-1].text.endswith("\n")):
            return  # the layout's white space between blocks
        self._text(text)

    def _break(self) -> None:
        if self.runs and not self.runs[-1].text.endswith("\n"):
            self._text("\n", plain=True)

    def _text(self, text: str, plain: bool = False) -> None:
        if not text:
            return
        if plain:
            self.runs.append(Styled(text))
            return
        self.runs.append(
            Styled(
                text,
                bold=any(t in _BOLD for t in self._open),
                italic=any(t in _ITALIC for t in self._open),
                strike=any(t in _STRIKE for t in self._open),
                link=next((link for link in reversed(self._links) if link), ""),
            )
        )


def _web_link(href: str) -> str:
    """`href` when it is an absolute http(s) address with a host, else "" (no link): nh3
    lets relative and scheme-relative ones through, which are nowhere in a card or a mail."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return ""
    return href.strip() if parts.scheme in ("http", "https") and parts.hostname else ""


def _trimmed(runs: list[Styled]) -> list[Styled]:
    """Spaces around each line break, and blank space at either end, removed (what Teams'
    layout of divs and paragraphs leaves around the text)."""
    text = "".join(r.text for r in runs)
    keep = [True] * len(text)
    for match in re.finditer(r"^\s+|\s+$| +(?=\n)|(?<=\n) +|(?<= ) +|(?<=\n\n)\n+", text):
        for i in range(match.start(), match.end()):
            keep[i] = False
    out, at = [], 0
    for run in runs:
        kept = "".join(c for i, c in enumerate(run.text, start=at) if keep[i])
        at += len(run.text)
        if kept:
            out.append(replace(run, text=kept))
    return out


def _merged(runs: list[Styled]) -> list[Styled]:
    """Neighbouring runs of the same look made one."""
    out: list[Styled] = []
    for run in runs:
        if out and _look(out[-1]) == _look(run):
            out[-1] = replace(run, text=out[-1].text + run.text)
        else:
            out.append(run)
    return out


def _look(run: Styled) -> tuple[bool, bool, bool, str]:
    return run.bold, run.italic, run.strike, run.link
