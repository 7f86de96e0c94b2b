"""The readable part of a thread's mail: HTML for every mail client, and plain text.

The new message comes first and large (sender, day and time, what it answers, its
words, its photos and files), then a poll's tally, the answers as links, and the
group's last few messages under "Earlier in <group>", newest first and quieter.

Email-safe HTML: tables and inline CSS only (clients drop most of <head>), a system
sans-serif, at most 600 px wide and fluid below that, colours that read in light and
dark mode (a `prefers-color-scheme` block for the clients that honour it), no external
resource, no script. Every picture has its alt text and its width and height, scaled
to the column. Links are the mail's answers without a card: `mailto:` replies to the
group's reply address (`bot.outlook.reply_address`), which Send relays.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.core.model import MediaKind, MessageSummary, Styled
from bot.core.ports import PollMail, ThreadMail
from bot.core.texts import Language, say, when_dated

COLUMN = 560  # 600 px less the padding: the widest a picture is drawn
_FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_TEXT = "#242424"
_QUIET = "#616161"
_LINE = "#d1d1d1"
_LINK = "#0f6cbd"
_DARK = (
    "@media (prefers-color-scheme: dark){"
    ".send-page{background:#141414!important}"
    ".send-sheet{background:#1f1f1f!important;border-color:#3d3d3d!important}"
    ".send-text{color:#f0f0f0!important}"
    ".send-quiet{color:#adadad!important}"
    ".send-link{color:#6cb8f6!important;border-color:#5a5a5a!important}"
    ".send-bar{background:#3d3d3d!important}"
    ".send-fill{background:#6cb8f6!important}}"
)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class MailLinks:
    """What a reader without a card can do, as `mailto:` links (empty: no links)."""

    answers: tuple[Link, ...] = ()
    poll: tuple[Link, ...] = ()
    manage: tuple[Link, ...] = ()


@dataclass(frozen=True)
class BodyItem:
    """A photo or file as the mail body shows it: `source` is the picture's `cid:` for
    one carried inline (else ""), `link` our link to it, `note` its size and where it is."""

    name: str
    kind: MediaKind
    source: str
    link: str
    note: str
    width: int = 0
    height: int = 0


def picture_size(data: bytes) -> tuple[int, int]:
    """A picture's width and height from its header (nothing decoded); (0, 0) if unknown."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
    except (UnidentifiedImageError, OSError, ValueError):
        return 0, 0
    return int(width), int(height)


def scaled(width: int, height: int, most: int = COLUMN) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        return most, 0
    if width <= most:
        return width, height
    return most, max(1, round(height * most / width))


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _lines(text: str) -> str:
    return _e(text).replace("\n", "<br>")


def styled_html(text: str, styled: Sequence[Styled]) -> str:
    """A message's text in HTML, with its formatting when `styled` is that text in pieces;
    every character people typed escaped."""
    if not styled or "".join(s.text for s in styled) != text:
        return _lines(text)
    out = []
    for piece in styled:
        part = _lines(piece.text)
        for on, tag in ((piece.bold, "b"), (piece.italic, "i"), (piece.strike, "s")):
            if on:
                part = f"<{tag}>{part}</{tag}>"
        if piece.link:
            part = f'<a href="{_e(piece.link)}" style="color:{_LINK}" class="send-link">{part}</a>'
        out.append(part)
    return "".join(out)


def reactions_text(line: MessageSummary) -> str:
    """A message's reactions as Teams shows them under it: "👍 2 ❤️ 1"."""
    return " ".join(f"{emoji} {count}" for emoji, count in line.reactions)


def _row(cells: str, padding: str = "0 20px") -> str:
    return f'<tr><td style="padding:{padding}">{cells}</td></tr>'


def _button(link: Link) -> str:
    return (
        f'<a href="{_e(link.url)}" class="send-link" style="display:inline-block;'
        f"margin:0 6px 8px 0;padding:6px 14px;border:1px solid {_LINE};border-radius:16px;"
        f'color:{_LINK};text-decoration:none;font-size:14px">{_e(link.label)}</a>'
    )


def _quiet(text: str, size: int = 13) -> str:
    return f'<span class="send-quiet" style="color:{_QUIET};font-size:{size}px">{text}</span>'


def _item_html(item: BodyItem) -> str:
    if item.source:
        width, height = scaled(item.width, item.height)
        sized = f' width="{width}"' + (f' height="{height}"' if height else "")
        return _row(
            f'<img src="{_e(item.source)}" alt="{_e(item.name)}"{sized} style="display:block;'
            f"width:100%;max-width:{width}px;height:auto;border:1px solid {_LINE};"
            f'border-radius:6px">',
            "4px 20px 8px",
        )
    icon = "🖼" if item.kind is MediaKind.PHOTO else "📎"
    return _row(
        f'{icon} <a href="{_e(item.link)}" class="send-link" style="color:{_LINK}">'
        f"{_e(item.name)}</a> {_quiet(_e(item.note))}",
        "4px 20px 8px",
    )


def _poll_html(poll: PollMail, lang: Language) -> str:
    total = sum(len(c.voters) for c in poll.view.choices) or 1
    rows = []
    for choice in poll.view.choices:
        share = round(100 * len(choice.voters) / total)
        who = _quiet(_e(", ".join(choice.voters))) if choice.voters else ""
        rows.append(
            f'<tr><td style="padding:4px 0">{_e(choice.text)} <b>{len(choice.voters)}</b> {who}'
            f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'border="0"><tr><td class="send-bar" style="background:#ebebeb;height:6px;'
            f'border-radius:3px"><table role="presentation" width="{max(share, 1)}%" '
            f'cellpadding="0" cellspacing="0" border="0"><tr><td class="send-fill" '
            f'style="background:{_LINK};height:6px;border-radius:3px;font-size:0;'
            f'line-height:0">&nbsp;</td></tr></table></td></tr></table></td></tr>'
        )
    waiting = ", ".join(poll.view.waiting) or say(lang, "nobody")
    return _row(
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f"{''.join(rows)}</table>"
        f'<p style="margin:4px 0 8px">{_quiet(_e(say(lang, "poll.waiting", names=waiting)))}</p>',
        "4px 20px 8px",
    )


def _earlier_html(earlier: Sequence[MessageSummary], mail: ThreadMail) -> str:
    lang = mail.readers.language
    title = _e(say(lang, "mail.earlier", group=mail.group_name))
    rows = [_row(f'<p style="margin:16px 0 4px;font-size:13px"><b>{title}</b></p>')]
    for m in earlier:
        edited = f" {_quiet(_e(say(lang, 'mail.edited')), 12)}" if m.edited else ""
        edited += f" {_quiet(_e(reactions_text(m)), 12)}" if m.reactions else ""
        rows.append(
            _row(
                f'<p class="send-quiet" style="margin:0 0 8px;color:{_QUIET};font-size:14px">'
                f"<b>{_e(m.sender_name)}</b> · {_e(when_dated(lang, m.sent_at, mail.readers.time_zone))}"
                f"<br>{_lines(m.text)}{edited}</p>"
            )
        )
    return "".join(rows)


def headline(mail: ThreadMail) -> str:
    """The words the mail is for: a poll's question, else the message's own words (its
    line in `recent` for a line from Send, which has no words of its own)."""
    if mail.poll is not None:
        return say(mail.readers.language, "mail.poll", question=mail.poll.question)
    return mail.text or mail.recent[-1].text


def body_html(mail: ThreadMail, items: Sequence[BodyItem], links: MailLinks, card_json: str) -> str:
    """The mail's HTML, with the card (already made safe for a <script> element) in its head."""
    lang = mail.readers.language
    new = mail.recent[-1]
    earlier = list(reversed(mail.recent[:-1]))
    words = headline(mail)
    rows = [
        _row(
            _quiet(
                _e(say(lang, "mail.group_line", group=mail.group_name, count=len(mail.members)))
                if mail.members
                else _e(mail.group_name)
            ),
            "16px 20px 4px",
        ),
        _row(
            f'<b style="font-size:16px">{_e(new.sender_name)}</b> '
            f"{_quiet(_e(when_dated(lang, new.sent_at, mail.readers.time_zone)))}",
            "4px 20px",
        ),
    ]
    if mail.reply_to is not None:
        rows.append(
            _row(
                f'<div class="send-quiet" style="border-left:3px solid {_LINE};padding:2px 10px;'
                f'color:{_QUIET};font-size:13px"><b>{_e(mail.reply_to.sender_name)}</b>: '
                f"{_e(mail.reply_to.text)}</div>",
                "4px 20px",
            )
        )
    if words:
        edited = f" {_quiet(_e(say(lang, 'mail.edited')))}" if new.edited else ""
        shown = styled_html(words, mail.styled if words == mail.text else ())
        rows.append(_row(f'<div style="font-size:17px">{shown}{edited}</div>', "4px 20px 12px"))
    rows += [_item_html(i) for i in items]
    if mail.poll is not None:
        rows.append(_poll_html(mail.poll, lang))
    offered = links.poll if mail.poll is not None else links.answers
    if offered and not mail.closed:
        rows.append(_row("".join(_button(link) for link in offered), "4px 20px 4px"))
    if earlier:
        rows.append(_earlier_html(earlier, mail))
    rows.append(_row(_footer_html(mail, links), "12px 20px 16px"))
    table = (
        f'<table role="presentation" class="send-sheet send-text" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="max-width:600px;width:100%;background:#ffffff;'
        f"border:1px solid {_LINE};border-radius:8px;font-family:{_FONT};font-size:15px;"
        f'line-height:1.45;color:{_TEXT}">{"".join(rows)}</table>'
    )
    return (
        f'<!DOCTYPE html><html lang="{lang.value}"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="supported-color-schemes" content="light dark">'
        f'<script type="application/adaptivecard+json">{card_json}</script>'
        f"<style>{_DARK}</style></head>"
        f'<body class="send-page" style="margin:0;padding:0;background:#f5f5f5">'
        f'<table role="presentation" class="send-page" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="background:#f5f5f5"><tr><td align="center" '
        f'style="padding:16px 8px">{table}</td></tr></table></body></html>'
    )


def _footer_html(mail: ThreadMail, links: MailLinks) -> str:
    lang = mail.readers.language
    parts = []
    if not mail.closed:
        parts.append(_e(say(lang, "mail.reply_all_html")))
        if links.manage:
            managed = " · ".join(
                f'<a href="{_e(link.url)}" class="send-link" style="color:{_LINK}">'
                f"{_e(link.label)}</a>"
                for link in links.manage
            )
            parts.append(f"{_e(say(lang, 'mail.manage'))} {managed}")
    if mail.members:
        parts.append(_e(say(lang, "mail.members", names=", ".join(mail.members))))
    if mail.readers.mixed:
        parts.append(_e(say(lang, "mail.language")))
    return "".join(f'<p style="margin:4px 0">{_quiet(p, 12)}</p>' for p in parts)


def body_plain(mail: ThreadMail, items: Sequence[BodyItem], links: MailLinks) -> str:
    """The same mail in plain text: the new message first, links in angle brackets."""
    lang = mail.readers.language
    zone = mail.readers.time_zone
    new = mail.recent[-1]
    words = headline(mail)
    lines = [mail.group_name, "", f"{new.sender_name} · {when_dated(lang, new.sent_at, zone)}"]
    if mail.reply_to is not None:
        lines.append(f"> {mail.reply_to.sender_name}: {mail.reply_to.text}")
    if words:
        lines.append(words + (f" ({say(lang, 'mail.edited')})" if new.edited else ""))
    for item in items:
        lines.append(f"[{item.name}] ({item.note}): {item.link}")
    if mail.poll is not None:
        lines.append("")
        for choice in mail.poll.view.choices:
            who = f": {', '.join(choice.voters)}" if choice.voters else ""
            lines.append(f"  {choice.text} — {len(choice.voters)}{who}")
        waiting = ", ".join(mail.poll.view.waiting) or say(lang, "nobody")
        lines.append(say(lang, "poll.waiting", names=waiting))
    offered = links.poll if mail.poll is not None else links.answers
    if offered and not mail.closed:
        lines += ["", say(lang, "mail.answer_by_mail")]
        lines += [f"  {link.label} <{link.url}>" for link in offered]
    earlier = list(reversed(mail.recent[:-1]))
    if earlier:
        lines += ["", say(lang, "mail.earlier", group=mail.group_name)]
        for m in earlier:
            edited = f" ({say(lang, 'mail.edited')})" if m.edited else ""
            edited += f" {reactions_text(m)}" if m.reactions else ""
            lines.append(f"{m.sender_name} · {when_dated(lang, m.sent_at, zone)}: {m.text}{edited}")
    lines.append("")
    if not mail.closed:
        lines.append(say(lang, "mail.reply_all"))
        if links.manage:
            lines.append(say(lang, "mail.manage"))
            lines += [f"  {link.label} <{link.url}>" for link in links.manage]
    if mail.members:
        lines.append(say(lang, "mail.members", names=", ".join(mail.members)))
    if mail.readers.mixed:
        lines.append(say(lang, "mail.language"))
    return "\n".join(lines)
