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

from bot.core.answers import ONE_TAP_ANSWERS
from bot.core.model import MediaKind, MessageSummary
from bot.core.ports import MailMedia, PollMail
from bot.markdown import literal
from bot.outlook.tokens import CardTokens

REPLY_INPUT = "reply"

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


def size_text(size: int) -> str:
    """A size as people read it: "840 KB", "4.2 MB"."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _item_html(item: MailItem) -> str:
    name = html.escape(item.media.item.name)
    link = html.escape(item.media.link, quote=True)
    if item.shown is Shown.INLINE:
        cid = html.escape(item.content_id, quote=True)
        return (
            f'<p style="margin:8px 0"><img src="cid:{cid}" alt="{name}" style="max-width:100%"></p>'
        )
    size = size_text(item.media.item.size)
    where = "attached" if item.shown is Shown.ATTACHED else "too large to attach"
    return f'<p style="margin:8px 0"><a href="{link}">{name}</a> ({size}, {where})</p>'


def _item_plain(item: MailItem) -> str:
    what = "photo" if item.media.item.kind is MediaKind.PHOTO else "file"
    size = size_text(item.media.item.size)
    if item.shown is Shown.INLINE:
        return f"[{what}] {item.media.item.name} ({size}, shown in this mail): {item.media.link}"
    if item.shown is Shown.ATTACHED:
        return f"[{what}] {item.media.item.name} ({size}, attached): {item.media.link}"
    return f"[{what}] {item.media.item.name} ({size}): {item.media.link}"


def _poll_blocks(poll: PollMail) -> list[Card]:
    blocks: list[Card] = [
        {
            "type": "TextBlock",
            "text": f"**Poll: {literal(poll.question)}**",
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
    waiting = ", ".join(poll.view.waiting) or "nobody"
    blocks.append(
        {
            "type": "TextBlock",
            "text": literal(f"Not answered yet: {waiting}"),
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
    ) -> Card:
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
                    "text": f"**{literal(message.sender_name)}** · "
                    f"{message.sent_at:%d %b %H:%M} UTC",
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
                        f"({size_text(item.item.size)})",
                        "wrap": True,
                    }
                )
        if poll is not None:
            body += _poll_blocks(poll)
        body.append(
            {
                "type": "Input.Text",
                "id": REPLY_INPUT,
                "placeholder": f"Reply to {group_name}",
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
            for answer in ONE_TAP_ANSWERS
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
                    "title": "Send reply",
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
                "Refresh", {"token": token, "poll": poll.message_id, "refresh": True}
            )
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
    ) -> str:
        shown = "".join(_item_html(i) for i in items)
        rows = "\n".join(
            f'<p style="margin:12px 0"><b>{html.escape(m.sender_name)}</b> '
            f'<span style="color:#666">{m.sent_at:%d %b %H:%M} UTC</span><br>'
            f"{html.escape(m.text).replace(chr(10), '<br>')}</p>"
            for m in recent
        )
        return (
            "<html><head>"
            '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f'<script type="application/adaptivecard+json">{script_json(card)}</script>'
            "</head><body>"
            f"<h3>{html.escape(group_name)}</h3>\n{rows}\n{shown}"
            '<p style="color:#666">Reply All to answer the group; your answer reaches it in Teams too.</p>'
            "</body></html>"
        )

    def plain(
        self, group_name: str, recent: Sequence[MessageSummary], items: Sequence[MailItem] = ()
    ) -> str:
        lines = [group_name, ""]
        for m in recent:
            lines += [f"{m.sender_name} ({m.sent_at:%d %b %H:%M} UTC):", m.text, ""]
        if items:
            lines += [*(_item_plain(i) for i in items), ""]
        lines.append("Reply All to answer the group.")
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
