"""End to end through the Microsoft 365 Agents Playground (its Teams channel and connector)."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from tests.contracts.media_contract import png_bytes
from tests.fakes.connector import is_receipt
from tests.playground import Playground
from tests.teams_world import card_text

pytestmark = pytest.mark.playground


async def test_install_welcome_and_help(playground: Playground) -> None:
    await playground.install()
    chat = playground.personal_chat
    await playground.wait(lambda: bool(playground.texts(chat)), what="the welcome")
    assert "Hi, I am Send" in playground.texts(chat)[0]
    reply = await playground.ask("help")
    for command in (
        "new <name>: <members>",
        "groups",
        "use <group>",
        "to <group>: <text>",
        "history",
    ):
        assert command in reply


async def test_group_from_a_group_chat_and_a_message_to_it(playground: Playground) -> None:
    """Alex makes a group of the group chat's roster, then writes to it from the 1:1 chat."""
    await playground.say(playground.group_chat, "new Launch team", mention_bot=True)
    await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="group reply")
    assert (
        "Made the Send group Launch team with the 6 people"
        in playground.texts(playground.group_chat)[0]
    )

    await playground.say(playground.personal_chat, "The launch moves to <b>Friday</b>")

    def copies() -> list[dict[str, object]]:
        return [
            r
            for r in playground.bot_requests
            if r.get("attachments") and r.get("summary") == "Alex Wilber in Launch team"
        ]

    await playground.wait(lambda: len(copies()) == 5, what="five relayed copies")
    recipients = sorted(str(r["recipient"]["id"]) for r in copies())  # type: ignore[index]
    assert recipients == [f"user-id-{n}" for n in range(1, 6)]
    card = copies()[0]["attachments"][0]["content"]  # type: ignore[index]
    shown = [run["text"] for block in card["body"] for run in block.get("inlines", [])]
    assert "The launch moves to <b>Friday</b>" in shown
    # The sender gets no echo of their own message.
    assert not any(m.get("attachments") for m in playground.chat_messages)

    reply = await playground.ask("members")
    assert "Launch team has 6 members" in reply
    assert "Megan Bowen <meganb@example.com>: Teams and Outlook" in reply


async def test_the_readme_example_reaches_the_members_in_teams(playground: Playground) -> None:
    """What README.md tells a new user to type, in that order, reaches Megan and Adele in
    their Teams chats: the group chat makes the bot know its people, then their addresses
    typed in the 1:1 chat name those people (no Graph directory in the Playground)."""
    await playground.say(playground.group_chat, "new team", mention_bot=True)
    await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="group reply")

    reply = await playground.ask("new lunch: meganb@example.com, adelev@example.com")
    assert reply.startswith("Created lunch with Megan Bowen, Adele Vance."), reply
    await playground.say(playground.personal_chat, "Friday 12:30, are you in?")

    def copies() -> list[dict[str, object]]:
        return [
            r
            for r in playground.bot_requests
            if r.get("attachments") and r.get("summary") == "Alex Wilber in lunch"
        ]

    await playground.wait(lambda: len(copies()) == 2, what="two relayed copies")
    # Under the message, Alex's receipt, as plain text: nothing escaped.
    await playground.wait(
        lambda: (
            playground.receipts(playground.personal_chat) == ["Sent to lunch · delivered 2 of 2"]
        ),
        what="the receipt",
    )
    roster = await playground.members(playground.group_chat)
    names = {str(m["id"]): str(m["name"]) for m in roster}
    reached = sorted(names[str(r["recipient"]["id"])] for r in copies())  # type: ignore[index]
    assert reached == ["Adele Vance", "Megan Bowen"]
    members = await playground.ask("members")
    assert "Megan Bowen <meganb@example.com>: Teams and Outlook" in members
    assert "Adele Vance <adelev@example.com>: Teams and Outlook" in members


async def test_new_step_by_step_with_yes_and_no_buttons(playground: Playground) -> None:
    """`new` alone asks the name, then the members, then shows the question with Yes and
    No buttons as the Playground renders them; the Yes button's word creates the group."""
    await playground.say(playground.group_chat, "new team", mention_bot=True)
    await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="group reply")
    assert await playground.ask("new") == "What should the new group be called?"
    assert (await playground.ask("Lunch")).startswith("Who should be in Lunch?")

    def questions() -> list[dict[str, Any]]:
        return [
            a["content"]
            for m in _cards(playground.chat_messages, playground.personal_chat)
            for a in m["attachments"]
            if a["contentType"] == "application/vnd.microsoft.card.hero"
        ]

    await playground.say(playground.personal_chat, "meganb@example.com")
    await playground.wait(lambda: bool(questions()), what="the yes/no question")
    question = questions()[-1]
    assert question["text"] == "Create Lunch with meganb@example.com?"
    yes, no = question["buttons"]
    assert (yes["title"], no["title"]) == ("Yes", "No")
    reply = await playground.ask(yes["value"])
    assert reply.startswith("Created Lunch with Megan Bowen."), reply


def _cards(messages: list[dict[str, object]], conversation: str) -> list[dict[str, Any]]:
    """The cards shown there, receipts left out."""
    return [
        m
        for m in messages
        if m["conversation"] == conversation and m.get("attachments") and not is_receipt(m)
    ]


async def test_a_poll_answered_with_one_tap_updates_the_card_in_place(
    playground: Playground,
) -> None:
    """Alex asks his group chat's people; his own poll card (the asker gets one too) is
    answered with a tap, and the Playground shows that same card updated with the tally."""
    await playground.say(playground.group_chat, "new team", mention_bot=True)
    await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="group")
    chat = playground.personal_chat
    await playground.say(chat, "poll team: Friday 12:30, are you in? | yes | no | late")
    await playground.wait(lambda: bool(_cards(playground.chat_messages, chat)), what="the poll")
    poll = _cards(playground.chat_messages, chat)[-1]
    card = poll["attachments"][0]["content"]
    assert [a["title"] for a in card["actions"]] == ["yes", "no", "late"]

    def copies() -> list[dict[str, object]]:
        return [r for r in playground.bot_requests if r.get("summary") == "Alex Wilber asks team"]

    await playground.wait(lambda: len(copies()) >= 6, what="six copies")
    # Every member gets it once, Alex included.
    assert len({str(r["recipient"]["id"]) for r in copies()}) == 6  # type: ignore[index]

    await playground.submit(chat, str(poll["messageId"]), card["actions"][0]["data"])
    await playground.wait(
        lambda: bool(_cards(playground.updated_messages, chat)), what="the updated card"
    )
    updated = _cards(playground.updated_messages, chat)[-1]
    assert updated["messageId"] == poll["messageId"]
    shown = " ".join(card_text(updated["attachments"][0]["content"]).split())
    assert "yes 1: Alex Wilber" in shown and "Not answered yet:" in shown
    assert "Alex Wilber" not in shown.split("Not answered yet:")[1]


async def test_a_picture_and_a_file_go_around_the_playground(playground: Playground) -> None:
    """Alex's picture reaches his five colleagues as a card whose image is Send's own link;
    Megan's file, sent from her 1:1 chat, reaches Alex as a download card. (Shown in a real
    browser in docs/images/playground-photo-and-file.png.)"""
    await playground.say(playground.group_chat, "new team", mention_bot=True)
    await playground.wait(lambda: bool(playground.texts(playground.group_chat)), what="group")
    picture = png_bytes((48, 32))
    data = "data:image/png;base64," + base64.b64encode(picture).decode()
    await playground.mock(
        playground.personal_chat,
        text="Our table",
        attachments=[{"contentType": "image/png", "contentUrl": data, "name": "table.png"}],
    )

    def copies() -> list[dict[str, Any]]:
        return [r for r in playground.bot_requests if r.get("summary") == "Alex Wilber in team"]

    await playground.wait(lambda: len(copies()) == 5, what="five copies with the picture")
    links = set()
    for copy in copies():
        card = copy["attachments"][0]["content"]
        (image,) = [b for b in card["body"] if b["type"] == "Image"]
        assert "data:" not in image["url"] and "/media/" in image["url"]
        assert "Our table" in card_text(card)
        links.add(image["url"])
    assert len(links) == 5  # one link per reader
    async with aiohttp.ClientSession() as session, session.get(links.pop()) as response:
        assert response.status == 200 and await response.read() == picture

    roster = await playground.members(playground.group_chat)
    megan = next(m for m in roster if m["name"] == "Megan Bowen")
    her_chat = next(c for c in copies() if c["recipient"]["id"] == megan["id"])["conversation"]
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    file_info = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "Menu.pdf",
        "content": {
            "downloadUrl": "data:application/pdf;base64," + base64.b64encode(pdf).decode(),
            "fileType": "pdf",
        },
    }
    await playground.mock(
        str(her_chat["id"]),
        {"id": megan["id"], "name": megan["name"], "aadObjectId": megan.get("aadObjectId")},
        text="and the menu",
        attachments=[file_info],
    )
    chat = playground.personal_chat
    await playground.wait(lambda: bool(_cards(playground.chat_messages, chat)), what="Megan's file")
    card = _cards(playground.chat_messages, chat)[-1]["attachments"][0]["content"]
    assert card_text(card).startswith("Megan Bowen") and "Menu.pdf" in card_text(card)
    (download,) = [
        a
        for block in card["body"]
        for item in block.get("items", [])
        for a in item.get("actions", [])
        if a["type"] == "Action.OpenUrl"
    ]
    async with aiohttp.ClientSession() as session, session.get(download["url"]) as response:
        assert response.status == 200 and await response.read() == pdf
