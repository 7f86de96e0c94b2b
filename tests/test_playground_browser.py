"""What Alex sees, in the Agents Playground drawn by a real browser (Debian's Chromium):
answers with nothing escaped (in the chat and in the chat list), the receipt under his
message, Megan's Teams Reply with its quote and her formatting, and her edit in place.

With SEND_SCREENSHOTS=<folder> the screenshots go there (docs/images is made this way:
`SEND_SCREENSHOTS=docs/images scripts/test.sh tests/test_playground_browser.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser_page
from tests.fakes.connector import is_receipt
from tests.playground import Playground
from tests.teams_world import card_text
from tests.waiting import DEFAULT_TIMEOUT, wait_until

pytestmark = [pytest.mark.playground, pytest.mark.slow]

Json = dict[str, Any]


def copy_recorded(data: Path, activity_id: str) -> bool:
    """Whether the store holds a message with a copy Teams gave `activity_id`: what a Teams
    Reply to that copy is matched by. It is written with the round's outcome, just after the
    receipt says delivered; a person answers seconds later, a test at once."""
    uri = f"file:{data / 'send.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        found = db.execute(
            "SELECT 1 FROM documents WHERE kind='messages' AND instr(body, ?) > 0",
            (json.dumps(activity_id),),
        ).fetchone()
    return found is not None


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("SEND_SCREENSHOTS") or tmp_path)


async def test_what_alex_sees_receipt_reply_with_quote_edit_and_no_escapes(
    playground: Playground, tmp_path: Path
) -> None:
    async with browser_page() as page:
        await page.goto(playground.base + "/")
        await playground.install()
        await playground.say(playground.group_chat, "new team", mention_bot=True)
        await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="team")
        await playground.ask("new lunch: meganb@example.com, adelev@example.com")
        chat = playground.personal_chat
        # Alex types it in the chat box, as anyone would.
        await page.locator('[contenteditable="true"]').first.click()
        await page.keyboard.type("Friday 12:30 at Luigi's, are you in?")
        await page.keyboard.press("Enter")
        receipt = "Sent to lunch · delivered 2 of 2"
        await playground.wait(lambda: playground.receipts(chat) == [receipt], what=receipt)

        # Megan answers with Teams' Reply on her copy, in bold, with a link.
        roster = await playground.members(playground.group_chat)
        megan = next(m for m in roster if m["name"] == "Megan Bowen")
        her_chat, her_copy = next(
            (str(r["conversation"]["id"]), given)
            for r, given in zip(playground.bot_requests, playground.bot_request_ids, strict=True)
            if r.get("summary") == "Alex Wilber in lunch" and r["recipient"]["id"] == megan["id"]
        )
        quoting = (
            '<blockquote itemscope="" itemtype="http://schema.skype.com/Reply" '
            f'itemid="{her_copy}"><strong itemprop="mri">Alex Wilber</strong>'
            '<p itemprop="preview">Friday 12:30 at Luigi\'s, are you in?</p></blockquote>'
            '<p>Count me <b>in</b>, I booked <a href="https://contoso.com/luigi">the table</a></p>'
        )
        her = {"id": megan["id"], "name": megan["name"], "aadObjectId": megan.get("aadObjectId")}
        await wait_until(
            lambda: copy_recorded(tmp_path / "data", her_copy), DEFAULT_TIMEOUT, "her copy stored"
        )
        await playground.mock(
            her_chat,
            her,
            id="megan-answer",
            text="Count me in, I booked the table",
            attachments=[{"contentType": "text/html", "content": quoting}],
        )

        def her_cards() -> list[Json]:
            return [
                m
                for m in playground.chat_messages
                if m["conversation"] == chat
                and m.get("attachments")
                and not is_receipt(m)
                and "Megan Bowen" in card_text(m["attachments"][0]["content"])
            ]

        await playground.wait(lambda: bool(her_cards()), what="Megan's answer")
        card = her_cards()[-1]["attachments"][0]["content"]
        shown = card_text(card)
        assert "↩ Alex Wilber: Friday 12:30 at Luigi's, are you in?" in shown
        runs = {r["text"]: r for b in card["body"] for r in b.get("inlines", [])}
        assert runs["in"]["weight"] == "Bolder"
        assert runs["the table"]["selectAction"]["url"] == "https://contoso.com/luigi"

        # She edits it: Alex's copy changes in place, marked edited.
        await playground.mock(
            her_chat,
            her,
            type="messageUpdate",
            id="megan-answer",
            text="Count me in, 10 minutes late",
            channelData={"eventType": "editMessage"},
            attachments=[
                {
                    "contentType": "text/html",
                    "content": quoting.replace(
                        "<p>Count me <b>in</b>, I booked",
                        "<p>Count me <b>in</b>, <i>10 minutes late</i>",
                    ).replace(' <a href="https://contoso.com/luigi">the table</a>', ""),
                }
            ],
        )

        def edited() -> list[Json]:
            return [
                m
                for m in playground.updated_messages
                if m["conversation"] == chat and "10 minutes late" in str(m)
            ]

        await playground.wait(lambda: bool(edited()), what="her edit")
        card = edited()[-1]["attachments"][0]["content"]
        assert "edited" in card_text(card)
        runs = {r["text"]: r for b in card["body"] for r in b.get("inlines", [])}
        assert runs["10 minutes late"]["italic"] is True  # the edit's formatting too

        members = await playground.ask("members")
        assert "- Megan Bowen <meganb@example.com>: Teams and Outlook" in members
        await page.wait_for_timeout(1000)  # the Playground draws what arrived
        text = await page.locator("body").inner_text()
        # What Alex reads, as written: the members' addresses, the receipt, her edit.
        assert "- Megan Bowen <meganb@example.com>: Teams and Outlook" in text
        assert receipt in text and "10 minutes late" in text and "Luigi's" in text
        # No escape character anywhere: not in the chat, not in the chat list's previews.
        assert "\\" not in text
        preview = (
            await page.get_by_text("Personal Chat", exact=True).locator("xpath=../..").inner_text()
        )
        assert preview.splitlines()[-1].startswith("lunch has 3 members:")
        await page.get_by_text("Log Panel").locator("xpath=..").locator("button").last.click()
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(screenshots(tmp_path) / "playground-receipt-reply-edit.png"))
