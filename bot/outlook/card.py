"""The Outlook e-mail of a group message: HTML body plus an Actionable Message card.

The card is an Adaptive Card 1.0 (what `Action.Http` needs) in a
`<script type="application/adaptivecard+json">` element of the HTML head. Text
people typed is escaped for HTML in the body, for markdown in the card, and `<`,
`>`, `&` are written as JSON escapes so nothing can close the script element.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.features.manage import Manage
from bot.core.features.one_tap import one_tap_answers
from bot.core.kept import keep
from bot.core.model import MediaKind, MessageSummary
from bot.core.ports import MailMedia, MailReaders, PollMail, ThreadMail
from bot.core.texts import Language, say, when
from bot.markdown import literal
from bot.media.rules import size_text
from bot.outlook.mail_body import BodyItem, Link, MailLinks, body_html, body_plain, picture_size
from bot.outlook.reply_address import ReplyAddresses, mailto
from bot.outlook.tokens import CardTokens

REPLY_INPUT = "reply"
# A mail for readers of whom nothing is known: English, times in UTC.
EVERYONE_IN_ENGLISH = MailReaders()
LINKS_KEPT = 4096  # threads whose mailto links are kept

Card = dict[str, Any]


class Shown(StrEnum):
    """How a photo or file travels in the mail."""

    INLINE = "inline"  # a picture shown in the body (an image part, `cid:` in the HTML)
    ATTACHED = "attached"  # an attachment of the mail
    LINKED = "linked"  # too large to carry: only our link


@dataclass(frozen=True)
class ManageState:
    """One reader's own settings for a group, as the card's manage section shows them."""

    muted: bool
    outlook_on: bool


@dataclass(frozen=True)
class MailItem:
    media: MailMedia
    shown: Shown
    content_id: str = ""  # INLINE: what the HTML's `cid:` names (no angle brackets)


def _when(m: MessageSummary, readers: MailReaders, now: datetime | None) -> str:
    return when(readers.language, m.sent_at, readers.time_zone, now or m.sent_at)


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
        self,
        originator: str,
        public_base_url: str,
        tokens: CardTokens,
        max_chars: int,
        replies: ReplyAddresses | None = None,
    ) -> None:
        self._replies = replies
        self._originator = originator
        self._action_url = f"{public_base_url.rstrip('/')}/api/outlook/actions"
        self._tokens = tokens
        self._max_chars = max_chars
        # A thread's links are the same in each of its mails (a poll's aside): made once.
        self._links: dict[tuple[str, str, str], MailLinks] = {}

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
        members: Sequence[str] = (),
        state: ManageState | None = None,
    ) -> Card:
        """The card, its words in `readers`' language and its times in their zone.
        `closed`: the thread's last mail (its group is deleted), with nothing to answer.
        `members`: the group's members by name; `state`: the reader's own settings, when
        the card is for one reader (an action's answer), for its manage section."""
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
                self._manage(token, lang, group_name, members, state),
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

    def _manage(
        self,
        token: str,
        lang: Language,
        group: str,
        members: Sequence[str],
        state: ManageState | None,
    ) -> Card:
        """The manage section, behind one button: the members, mute or unmute this group's
        Teams copies, Outlook copies off or on, and leave (behind a confirmation). Without
        a reader's `state` (the mail is the same for everyone) it offers the usual switches."""
        muted = state is not None and state.muted
        outlook_on = state is None or state.outlook_on
        body: list[Card] = []
        if state is not None:
            body.append(
                {
                    "type": "TextBlock",
                    "text": literal(
                        say(
                            lang,
                            "mail.state",
                            teams=say(lang, "mail.state_muted" if muted else "mail.state_on"),
                            outlook=say(
                                lang,
                                "mail.outlook_state_on" if outlook_on else "mail.outlook_state_off",
                            ),
                        )
                    ),
                    "wrap": True,
                }
            )
        if members:
            body.append(
                {
                    "type": "TextBlock",
                    "text": literal(say(lang, "mail.members", names=", ".join(members))),
                    "wrap": True,
                    "isSubtle": True,
                }
            )
        leave: Card = {
            "type": "Action.ShowCard",
            "title": say(lang, "mail.leave", group=group),
            "card": {
                "type": "AdaptiveCard",
                "body": [
                    {
                        "type": "TextBlock",
                        "text": literal(say(lang, "mail.leave_sure", group=group)),
                        "wrap": True,
                    }
                ],
                "actions": [
                    self._http(say(lang, "mail.leave_yes"), {"token": token, "manage": "leave"})
                ],
            },
        }
        return {
            "type": "Action.ShowCard",
            "title": say(lang, "mail.manage_title"),
            "card": {
                "type": "AdaptiveCard",
                "body": body,
                "actions": [
                    self._http(
                        say(lang, "mail.unmute" if muted else "mail.mute", group=group),
                        {"token": token, "manage": "unmute" if muted else "mute"},
                    ),
                    self._http(
                        say(lang, "mail.outlook_off" if outlook_on else "mail.outlook_on"),
                        {"token": token, "manage": "outlook_off" if outlook_on else "outlook_on"},
                    ),
                    leave,
                ],
            },
        }

    def closed_card(self, group_name: str, said: str) -> Card:
        """A card with nothing left to do: the group's name and one line (after leaving)."""
        return self._closed_card(
            [
                {
                    "type": "TextBlock",
                    "text": literal(group_name),
                    "weight": "bolder",
                    "size": "medium",
                    "wrap": True,
                },
                {"type": "TextBlock", "text": literal(said), "wrap": True},
            ]
        )

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

    def links(self, mail: ThreadMail) -> MailLinks:
        """The mail's answers as `mailto:` links to the group's reply addresses, for readers
        without the card: the one-tap answers (a poll's options instead, each its own
        address), and what the card's manage section does (an address each, the body
        worded as the Teams command for the person who sends it)."""
        if self._replies is None or mail.closed:
            return MailLinks()
        if mail.poll is not None:
            return self._made_links(mail, self._replies)
        key = (mail.group_id, mail.group_name, mail.readers.language)
        made = self._links.get(key)
        if made is None:
            made = keep(self._links, key, self._made_links(mail, self._replies), LINKS_KEPT)
        return made

    def _made_links(self, mail: ThreadMail, replies: ReplyAddresses) -> MailLinks:
        lang = mail.readers.language
        address = replies.address(mail.group_id)
        if not address:
            return MailLinks()
        subject = f"RE: [Send] {mail.group_name}"
        answers = tuple(
            Link(answer, mailto(address, subject, answer))
            for answer in one_tap_answers(language=lang)
        )
        poll: tuple[Link, ...] = ()
        if mail.poll is not None:
            poll = tuple(
                Link(c.text, mailto(address, subject, c.text))
                for n, c in enumerate(mail.poll.view.choices)
                if (address := replies.vote_address(mail.group_id, mail.poll.message_id, n))
            )
        group = mail.group_name
        # The address makes the change; the words are for the person who sends it.
        manage = tuple(
            Link(
                say(lang, key, group=group),
                mailto(
                    replies.change_address(mail.group_id, change),
                    subject,
                    say(lang, command, group=group),
                ),
            )
            for change, key, command in (
                (Manage.MUTE, "mail.mute", "mail.command_mute"),
                (Manage.OUTLOOK_OFF, "mail.outlook_off", "mail.command_outlook_off"),
                (Manage.LEAVE, "mail.leave", "mail.command_leave"),
            )
        )
        return MailLinks(answers, poll, manage)

    def mail_html(
        self,
        mail: ThreadMail,
        card: Card,
        items: Sequence[MailItem],
        now: datetime | None = None,
        contents: Sequence[bytes] = (),
    ) -> str:
        """The HTML body of one mail of a thread, its card in the head. `contents`: the
        bytes of the items carried (to give pictures their width and height)."""
        shown = body_items(mail, items, contents)
        return body_html(mail, shown, self.links(mail), script_json(card))

    def mail_plain(self, mail: ThreadMail, items: Sequence[MailItem]) -> str:
        return body_plain(mail, body_items(mail, items, ()), self.links(mail))


def body_items(
    mail: ThreadMail, items: Sequence[MailItem], contents: Sequence[bytes]
) -> tuple[BodyItem, ...]:
    """Each photo or file of the mail as its body shows it."""
    lang = mail.readers.language
    out = []
    for n, item in enumerate(items):
        data = contents[n] if n < len(contents) else b""
        width, height = picture_size(data) if item.shown is Shown.INLINE and data else (0, 0)
        size = size_text(item.media.item.size, language=lang)
        where = {
            Shown.INLINE: say(lang, "mail.shown_here"),
            Shown.ATTACHED: say(lang, "mail.attached"),
            Shown.LINKED: say(lang, "mail.too_large"),
        }[item.shown]
        out.append(
            BodyItem(
                name=item.media.item.name,
                kind=item.media.item.kind,
                source=f"cid:{item.content_id}" if item.shown is Shown.INLINE else "",
                link=item.media.link,
                note=f"{size}, {where}",
                width=width,
                height=height,
            )
        )
    return tuple(out)


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
