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
from datetime import datetime
from typing import Any

from bot.core.answers import ONE_TAP_ANSWERS
from bot.core.model import MessageSummary
from bot.core.ports import PollMail
from bot.markdown import literal
from bot.outlook.tokens import CardTokens

REPLY_INPUT = "reply"

Card = dict[str, Any]


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

    def html(self, group_name: str, recent: Sequence[MessageSummary], card: Card) -> str:
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
            f"<h3>{html.escape(group_name)}</h3>\n{rows}\n"
            '<p style="color:#666">Reply All to answer the group; your answer reaches it in Teams too.</p>'
            "</body></html>"
        )

    def plain(self, group_name: str, recent: Sequence[MessageSummary]) -> str:
        lines = [group_name, ""]
        for m in recent:
            lines += [f"{m.sender_name} ({m.sent_at:%d %b %H:%M} UTC):", m.text, ""]
        lines.append("Reply All to answer the group.")
        return "\n".join(lines)
