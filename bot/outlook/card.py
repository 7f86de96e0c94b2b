"""The Outlook e-mail of a group message: HTML body plus an Actionable Message card.

The card is an Adaptive Card 1.0 (what `Action.Http` needs) in a
`<script type="application/adaptivecard+json">` element of the HTML head. Text
people typed is escaped for HTML in the body, for markdown in the card, and `<`,
`>`, `&` are written as JSON escapes so nothing can close the script element.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.features.one_tap import one_tap_answers
from bot.core.model import MediaKind, MessageSummary, Styled
from bot.core.ports import MailMedia, MailReaders, PollMail, ThreadMail
from bot.core.texts import Language, say, when
from bot.markdown import literal
from bot.media.rules import size_text
from bot.outlook.tokens import CardTokens

REPLY_INPUT = "reply"
# A mail for readers of whom nothing is known: English, times in UTC.
EVERYONE_IN_ENGLISH = MailReaders()

Card = dict[str, Any]


class Shown(StrEnum):
    """How a photo or file travels in the mail."""

    INLINE = "inline"  # a picture shown in the body (an image part, `cid:` in the HTML)
    ATTACHED = "attached"  # an attachment of the mail
    LINKED = "linked"  # too large to carry: only our link


@dataclass(frozen=True)
class MailItem:
    media: MailMedia
    shown: Shown
    content_id: str = ""  # INLINE: what the HTML's `cid:` names (no angle brackets)


def _when(m: MessageSummary, readers: MailReaders, now: datetime | None) -> str:
    return when(readers.language, m.sent_at, readers.time_zone, now or m.sent_at)


def _item_html(item: MailItem, lang: Language) -> str:
    name = html.escape(item.media.item.name)
    link = html.escape(item.media.link, quote=True)
    if item.shown is Shown.INLINE:
        cid = html.escape(item.content_id, quote=True)
        return (
            f'<p style="margin:8px 0"><img src="cid:{cid}" alt="{name}" style="max-width:100%"></p>'
        )
    size = size_text(item.media.item.size, language=lang)
    where = say(lang, "mail.attached" if item.shown is Shown.ATTACHED else "mail.too_large")
    return f'<p style="margin:8px 0"><a href="{link}">{name}</a> ({size}, {where})</p>'


def _item_plain(item: MailItem, lang: Language) -> str:
    what = say(lang, "mail.photo" if item.media.item.kind is MediaKind.PHOTO else "mail.file")
    size = size_text(item.media.item.size, language=lang)
    if item.shown is Shown.INLINE:
        shown = say(lang, "mail.shown_here")
        return f"[{what}] {item.media.item.name} ({size}, {shown}): {item.media.link}"
    if item.shown is Shown.ATTACHED:
        attached = say(lang, "mail.attached")
        return f"[{what}] {item.media.item.name} ({size}, {attached}): {item.media.link}"
    return f"[{what}] {item.media.item.name} ({size}): {item.media.link}"


def _text_html(text: str, styled: Sequence[Styled]) -> str:
    """A message's text in HTML, with its formatting when `styled` is that text in pieces;
    every character people typed escaped."""
    if not styled or "".join(s.text for s in styled) != text:
        return html.escape(text).replace("\n", "<br>")
    out = []
    for piece in styled:
        part = html.escape(piece.text).replace("\n", "<br>")
        for on, tag in ((piece.bold, "b"), (piece.italic, "i"), (piece.strike, "s")):
            if on:
                part = f"<{tag}>{part}</{tag}>"
        if piece.link:
            part = f'<a href="{html.escape(piece.link, quote=True)}">{part}</a>'
        out.append(part)
    return "".join(out)


def _poll_blocks(poll: PollMail, lang: Language) -> list[Card]:
    blocks: list[Card] = [
        {
            "type": "TextBlock",
            "text": f"**{say(lang, 'mail.poll', question=literal(poll.question))}**",
            "wrap": True,
            "spacing": "large",
        }
    ]
    for choice in poll.view.choices:
        who = f": {', '.join(choice.voters)}" if choice.voters else ""
        blocks.append(
            {
                "type": "TextBlock",
                "text": literal(f"{choice.text} — {len(choice.voters)}{who}"),
                "wrap": True,
                "spacing": "none",
            }
        )
    waiting = ", ".join(poll.view.waiting) or say(lang, "nobody")
    blocks.append(
        {
            "type": "TextBlock",
            "text": literal(say(lang, "poll.waiting", names=waiting)),
            "isSubtle": True,
            "wrap": True,
        }
    )
    return blocks


def script_json(card: Card) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' characters at all."""
    text = json.dumps(card, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class OutlookCards:
    def __init__(
        self, originator: str, public_base_url: str, tokens: CardTokens, max_chars: int
    ) -> None:
        self._originator = originator
        self._action_url = f"{public_base_url.rstrip('/')}/api/outlook/actions"
        self._tokens = tokens
        self._max_chars = max_chars

    def card(
        self,
        tenant_id: str,
        group_id: str,
        group_name: str,
        recent: Sequence[MessageSummary],
        now: datetime,
        poll: PollMail | None = None,
        media: Sequence[MailMedia] = (),
        readers: MailReaders = EVERYONE_IN_ENGLISH,
        closed: bool = False,
    ) -> Card:
        """The card, its words in `readers`' language and its times in their zone.
        `closed`: the thread's last mail (its group is deleted), with nothing to answer."""
        lang = readers.language
        token = self._tokens.sign(tenant_id, group_id, now)
        body: list[Card] = [
            {
                "type": "TextBlock",
                "text": literal(group_name),
                "weight": "bolder",
                "size": "medium",
                "wrap": True,
            }
        ]
        for message in recent:
            body.append(
                {
                    "type": "TextBlock",
                    "text": f"**{literal(message.sender_name)}** · {_when(message, readers, now)}",
                    "isSubtle": True,
                    "spacing": "medium",
                    "wrap": True,
                }
            )
            body.append(
                {
                    "type": "TextBlock",
                    "text": literal(message.text),
                    "wrap": True,
                    "spacing": "none",
                }
            )
        for item in media:
            # The card hides the body, so it shows the items too, through our links.
            if item.item.kind is MediaKind.PHOTO:
                body.append({"type": "Image", "url": item.link, "altText": item.item.name})
            else:
                body.append(
                    {
                        "type": "TextBlock",
                        "text": f"[{literal(item.item.name)}]({item.link}) "
                        f"({size_text(item.item.size, language=lang)})",
                        "wrap": True,
                    }
                )
        if poll is not None:
            body += _poll_blocks(poll, lang)
        if closed:
            return self._closed_card(body)
        body.append(
            {
                "type": "Input.Text",
                "id": REPLY_INPUT,
                "placeholder": say(lang, "mail.reply_to", group=group_name),
                "isMultiline": True,
                "maxLength": self._max_chars,
            }
        )
        action_body = json.dumps({"token": token, "reply": "{{" + REPLY_INPUT + ".value}}"})
        # One click each: the body carries the fixed answer and no input.
        answers = [
            {
                "type": "Action.Http",
                "title": answer,
                "method": "POST",
                "url": self._action_url,
                "body": json.dumps({"token": token, "answer": answer}),
                "headers": [{"name": "Content-Type", "value": "application/json"}],
            }
            for answer in one_tap_answers(language=lang)
        ]
        if poll is not None:
            # A poll's answers instead of the ready ones; each is one click too.
            answers = [
                self._http(choice.text, {"token": token, "poll": poll.message_id, "vote": i})
                for i, choice in enumerate(poll.view.choices)
            ]
        card: Card = {
            "type": "AdaptiveCard",
            "version": "1.0",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "hideOriginalBody": True,
            "body": body,
            "actions": [
                {
                    "type": "Action.Http",
                    "title": say(lang, "mail.send_reply"),
                    "method": "POST",
                    "url": self._action_url,
                    "body": action_body,
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                },
                *answers,
            ],
        }
        if poll is not None:
            # Outlook calls this when the mail is opened: the card then shows today's tally.
            card["autoInvokeAction"] = self._http(
                say(lang, "mail.refresh"),
                {"token": token, "poll": poll.message_id, "refresh": True},
            )
        if self._originator:
            card["originator"] = self._originator
        return card

    def _closed_card(self, body: list[Card]) -> Card:
        card: Card = {
            "type": "AdaptiveCard",
            "version": "1.0",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "hideOriginalBody": True,
            "body": body,
        }
        if self._originator:
            card["originator"] = self._originator
        return card

    def _http(self, title: str, body: dict[str, Any]) -> Card:
        return {
            "type": "Action.Http",
            "title": title,
            "method": "POST",
            "url": self._action_url,
            "body": json.dumps(body),
            "headers": [{"name": "Content-Type", "value": "application/json"}],
        }

    def html(
        self,
        group_name: str,
        recent: Sequence[MessageSummary],
        card: Card,
        items: Sequence[MailItem] = (),
        readers: MailReaders = EVERYONE_IN_ENGLISH,
        now: datetime | None = None,
        closed: bool = False,
        *,
        styled: Sequence[Styled] = (),
    ) -> str:
        """`styled`: the formatting of the last of `recent` (the message the mail is for)."""
        lang = readers.language
        shown = "".join(_item_html(i, lang) for i in items)
        rows = "\n".join(
            f'<p style="margin:12px 0"><b>{html.escape(m.sender_name)}</b> '
            f'<span style="color:#666">{html.escape(_when(m, readers, now))}</span><br>'
            f"{_text_html(m.text, styled if n == len(recent) - 1 else ())}</p>"
            for n, m in enumerate(recent)
        )
        note = ""
        if readers.mixed:
            note = f'<p style="color:#666">{html.escape(say(lang, "mail.language"))}</p>'
        reply_all = f'<p style="color:#666">{html.escape(say(lang, "mail.reply_all_html"))}</p>'
        return (
            "<html><head>"
            '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f'<script type="application/adaptivecard+json">{script_json(card)}</script>'
            "</head><body>"
            f"<h3>{html.escape(group_name)}</h3>\n{rows}\n{shown}"
            f"{'' if closed else reply_all}{note}</body></html>"
        )

    def mail_html(
        self, mail: ThreadMail, card: Card, items: Sequence[MailItem], now: datetime | None
    ) -> str:
        """`html` for one mail of a thread."""
        return self.html(
            mail.group_name,
            mail.recent,
            card,
            items,
            mail.readers,
            now,
            mail.closed,
            styled=mail.styled,
        )

    def plain(
        self,
        group_name: str,
        recent: Sequence[MessageSummary],
        items: Sequence[MailItem] = (),
        readers: MailReaders = EVERYONE_IN_ENGLISH,
        now: datetime | None = None,
        closed: bool = False,
    ) -> str:
        lang = readers.language
        lines = [group_name, ""]
        for m in recent:
            lines += [f"{m.sender_name} ({_when(m, readers, now)}):", m.text, ""]
        if items:
            lines += [*(_item_plain(i, lang) for i in items), ""]
        if not closed:
            lines.append(say(lang, "mail.reply_all"))
        if readers.mixed:
            lines.append(say(lang, "mail.language"))
        return "\n".join(lines)


def mail_items(
    media: Sequence[MailMedia], *, attach_each: int, attach_total: int, domain: str
) -> tuple[MailItem, ...]:
    """How each item goes in a mail: pictures meant to be seen inline, others attached,
    while each is at most `attach_each` bytes and all together at most `attach_total`;
    the rest are links only. An inline picture's content id is its media id at `domain`."""
    out: list[MailItem] = []
    total = 0
    for medium in media:
        size = medium.item.size
        if size > attach_each or total + size > attach_total:
            out.append(MailItem(medium, Shown.LINKED))
            continue
        total += size
        if medium.inline:
            out.append(MailItem(medium, Shown.INLINE, f"{medium.item.media_id}@{domain}"))
        else:
            out.append(MailItem(medium, Shown.ATTACHED))
    return tuple(out)
