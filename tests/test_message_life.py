"""A message's life after it is sent, through the running app and the strict fake
connector, with the activity shapes Teams sends for a 1:1 chat: `messageUpdate`
(`editMessage`, `undeleteMessage`) and `messageDelete` (`softDeleteMessage`), each naming
the message by the `id` its first activity had."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from bot.config import Settings
from tests.contracts.media_contract import png_bytes
from tests.fakes.connector import TeamsPerson, is_receipt
from tests.outlook_helpers import eml_files, eventually, html_of, read_eml
from tests.teams_world import TeamsWorld, card_text
from tests.waiting import wait_until

Json = dict[str, Any]


async def lunch(world: TeamsWorld) -> tuple[TeamsPerson, TeamsPerson, TeamsPerson]:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}, {cy.email}")
    return ann, bob, cy


async def said(world: TeamsWorld, person: TeamsPerson, text: str) -> Json:
    """`person` types `text` in their chat with Send; the activity Teams sent."""
    activity = world.activity(person, world.personal(person), text=text)
    assert await world.post(activity) == 200
    return activity


def changed(activity: Json, event: str, text: str | None = None) -> Json:
    """What Teams sends when that message is edited, deleted or restored."""
    kind = "messageDelete" if event == "softDeleteMessage" else "messageUpdate"
    channel = {**activity["channelData"], "eventType": event}
    change = {**activity, "type": kind, "channelData": channel}
    if text is None:
        change.pop("text", None)
    else:
        change["text"] = text
    return change


async def settled(world: TeamsWorld, sender: TeamsPerson, *names: str) -> None:
    """Until `status` says the sender's last message is in Teams for `names` (the copies'
    ids are stored: what a reaction or read receipt names a copy by)."""
    wanted = f"- In Teams: {', '.join(names)}"

    async def done() -> bool:
        await world.say(sender, "status")
        return wanted in world.last_reply(sender)

    await wait_until(done, what=wanted)


def thread_texts(settings: Settings, address: str) -> list[str]:
    return [html_of(read_eml(path)) for path in eml_files(settings.data_dir, address)]


def updated(world: TeamsWorld, chat: str) -> Callable[[], bool]:
    return lambda: bool(world.connector.updates_to(chat))


def taken_back(world: TeamsWorld, chat: str) -> Callable[[], bool]:
    return lambda: any(r.conversation_id == chat for r in world.connector.deleted)


async def test_an_edit_updates_every_copy_in_place_history_and_the_thread(
    world: TeamsWorld, settings: Settings
) -> None:
    ann, bob, cy = await lunch(world)
    first = await said(world, ann, "Lunch at 12:30?")
    await world.wait_relayed(bob, 1)
    await world.wait_relayed(cy, 1)
    # The copy's own id: a notice (Bob's welcome to the group goes in the background) may
    # reach the chat after it.
    copies = {p.name: world.relayed_cards(p)[-1][0] for p in (bob, cy)}

    assert await world.post(changed(first, "editMessage", "Lunch at 13:00?")) == 200

    for person in (bob, cy):
        chat = world.connector.chat_of(person.user_id)
        await world.connector.wait_for(updated(world, chat), what="the copy updated")
        update = world.connector.updates_to(chat)[-1]
        assert update.reply_to == copies[person.name]  # in place, at its own id
        shown = card_text(update.activity["attachments"][0]["content"])
        assert "Lunch at 13:00?" in shown and "edited" in shown and "Lunch at 12:30" not in shown
    await world.say(ann, "history")
    assert "Lunch at 13:00? (edited)" in world.last_reply(ann)
    await eventually(
        lambda: any("Ann edited: Lunch at 13:00?" in t for t in thread_texts(settings, bob.email)),
        "the edit's line in the Outlook thread",
    )
    # Later mails show the current text, never the old one.
    await world.say(ann, "see you there")
    await eventually(lambda: len(eml_files(settings.data_dir, bob.email)) == 3, "a later mail")
    assert "Lunch at 12:30" not in thread_texts(settings, bob.email)[-1]


async def test_an_edit_over_the_limit_or_of_a_poll_changes_nothing_and_says_why(
    world: TeamsWorld,
) -> None:
    ann, bob, _ = await lunch(world)
    first = await said(world, ann, "short")
    await world.wait_relayed(bob, 1)
    assert await world.post(changed(first, "editMessage", "x" * 2001)) == 200
    assert world.last_reply(ann) == (
        "Your edit has 2001 characters; the limit is 2000. Members still see the message as it was."
    )
    chat = world.connector.chat_of(bob.user_id)
    poll = await said(world, ann, "poll Lunch: Friday? | Yes | No")
    await world.connector.wait_for(
        lambda: len(world.connector.cards_to(chat)) == 2, what="the poll"
    )
    assert await world.post(changed(poll, "editMessage", "poll Lunch: Saturday? | Yes | No")) == 200
    assert world.last_reply(ann).startswith("A poll's question cannot be edited")
    assert world.connector.updates_to(world.connector.chat_of(bob.user_id)) == []


async def test_a_delete_takes_every_copy_back_and_leaves_nothing_of_it(
    world: TeamsWorld, settings: Settings
) -> None:
    ann, bob, cy = await lunch(world)
    before = len(eml_files(settings.data_dir, bob.email))
    first = world.activity(
        ann,
        world.personal(ann),
        text="the secret plan",
        attachments=[{"contentType": "image/*", "contentUrl": world.connector.paste(png_bytes())}],
    )
    assert await world.post(first) == 200
    await world.wait_relayed(bob, 1)
    await world.wait_relayed(cy, 1)
    (link,) = [b["url"] for b in world.relayed(bob)[0]["body"] if b["type"] == "Image"]
    await eventually(
        lambda: len(eml_files(settings.data_dir, bob.email)) == before + 1, "the message's mail"
    )

    assert await world.post(changed(first, "softDeleteMessage")) == 200

    for person in (bob, cy):
        chat = world.connector.chat_of(person.user_id)
        await world.connector.wait_for(taken_back(world, chat), what="the copy taken back")
        assert world.relayed(person) == []
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status in (404, 410)
    await world.say(ann, "history")
    assert "secret" not in world.last_reply(ann)
    await eventually(
        lambda: any("Ann deleted a message." in t for t in thread_texts(settings, bob.email)),
        "the delete's line in the Outlook thread",
    )
    await world.say(ann, "next topic")
    await eventually(
        lambda: any("next topic" in t for t in thread_texts(settings, bob.email)), "a later mail"
    )
    later = thread_texts(settings, bob.email)[-1]
    assert "secret" not in later
    stored = (
        list((settings.data_dir / "media").rglob("*"))
        if (settings.data_dir / "media").exists()
        else []
    )
    assert [p for p in stored if p.is_file()] == []


async def test_teams_undo_restores_the_message_everywhere(world: TeamsWorld) -> None:
    ann, bob, _ = await lunch(world)
    first = await said(world, ann, "meet at the door")
    await world.wait_relayed(bob, 1)
    assert await world.post(changed(first, "softDeleteMessage")) == 200
    chat = world.connector.chat_of(bob.user_id)
    await world.connector.wait_for(
        lambda: bool(world.connector.deleted), what="the copy taken back"
    )
    assert world.relayed(bob) == []

    assert await world.post(changed(first, "undeleteMessage", "meet at the door")) == 200
    await world.wait_relayed(bob, 1)
    assert "meet at the door" in card_text(world.relayed(bob)[0])
    await world.say(ann, "history")
    assert "meet at the door" in world.last_reply(ann)
    assert world.connector.to(chat)  # the chat shows the copy again


async def test_changes_to_what_send_never_had_are_answered_and_change_nothing(
    world: TeamsWorld,
) -> None:
    ann, bob, _ = await lunch(world)
    ghost = world.activity(ann, world.personal(ann), text="never sent to Send")
    assert await world.post(changed(ghost, "undeleteMessage", "never sent")) == 200
    assert await world.post(changed(ghost, "softDeleteMessage")) == 200
    assert world.last_reply(ann) == (
        "Send no longer has that message, so there was nothing left to take back."
    )
    odd = {
        **changed(ghost, "editMessage", "x"),
        "channelData": {"tenant": {"id": world.tenant_id}, "eventType": "somethingElse"},
    }
    assert await world.post(odd) == 200
    assert world.relayed(bob) == [] and world.connector.deleted == []


async def test_a_reaction_shows_on_every_copy_and_a_read_receipt_in_status(
    world: TeamsWorld,
) -> None:
    ann, bob, cy = await lunch(world)
    await said(world, ann, "Pizza on Friday?")
    await settled(world, ann, "Bob", "Cy")
    # Ann's receipt: one plain line under her message, updated in place from here on.
    await world.connector.wait_for(lambda: bool(world.receipts(ann)), what="Ann's receipt")
    assert world.receipts(ann) == ["Sent to Lunch · delivered 2 of 2"]
    bobs_copy = next(
        r.id
        for r in world.connector.received
        if r.conversation_id == world.connector.chat_of(bob.user_id)
        and r.activity.get("attachments")
    )
    reaction = world.activity(
        bob,
        world.personal(bob),
        type="messageReaction",
        replyToId=bobs_copy,
        reactionsAdded=[{"type": "like"}],
    )
    reaction.pop("text", None)
    assert await world.post(reaction) == 200
    cys_chat = world.connector.chat_of(cy.user_id)
    await world.connector.wait_for(updated(world, cys_chat), what="Cy's copy updated")
    shown = card_text(
        world.connector.updates_to(cys_chat)[-1].activity["attachments"][0]["content"]
    )
    assert "👍 1" in shown and "Pizza on Friday?" in shown

    receipt = world.activity(
        bob,
        world.personal(bob),
        type="event",
        name="application/vnd.microsoft.readReceipt",
        value={"lastReadMessageId": bobs_copy},
    )
    assert await world.post(receipt) == 200
    await world.say(ann, "status")
    assert "- Seen in Teams: Bob" in world.last_reply(ann)
    final = "Sent to Lunch · delivered 2 of 2 · seen by 1 · 👍 Bob"
    await world.connector.wait_for(lambda: world.receipts(ann) == [final], what=final)
    # In place: one receipt activity; never a word of the message in it.
    receipts = [
        a for a in world.connector.to(world.connector.chat_of(ann.user_id)) if is_receipt(a)
    ]
    assert len(receipts) == 1 and "Pizza" not in str(receipts)
    # Events Send does not use change nothing.
    other = world.activity(bob, world.personal(bob), type="event", name="something/else", value={})
    assert await world.post(other) == 200


def typed_in_teams(world: TeamsWorld, person: TeamsPerson, text: str, html: str) -> Json:
    """A message as Teams sends it: its plain `text`, and itself as Teams drew it."""
    return world.activity(
        person,
        world.personal(person),
        text=text,
        attachments=[{"contentType": "text/html", "content": html}],
    )


def runs(card: Json) -> list[Json]:
    """Every TextRun of a card, in order."""
    return [
        run
        for block in card["body"]
        if block.get("type") == "RichTextBlock"
        for run in block.get("inlines", [])
    ]


async def test_formatting_typed_in_teams_reaches_the_copies_and_outlook_safely(
    world: TeamsWorld, settings: Settings
) -> None:
    ann, bob, cy = await lunch(world)
    typed = (
        "<div><div>Lunch <b>moves</b> to <s>12:30</s> <i>13:00</i>, see "
        '<a href="https://contoso.com/menu">the menu</a> or '
        '<a href="javascript:alert(1)">this</a> &lt;script&gt;</div></div>'
        "<script>alert(1)</script>"
    )
    text = "Lunch moves to 12:30 13:00, see the menu or this <script>"
    assert await world.post(typed_in_teams(world, ann, text, typed)) == 200
    await world.wait_relayed(bob, 1)
    shown = runs(world.relayed(bob)[-1])
    words = "Lunch moves to 12:30 13:00, see the menu or this <script>"
    assert words in "".join(str(r["text"]) for r in shown)
    by_text = {str(r["text"]): r for r in shown}
    assert by_text["moves"]["weight"] == "Bolder"
    assert by_text["12:30"]["strikethrough"] is True
    assert by_text["13:00"]["italic"] is True
    assert by_text["the menu"]["selectAction"] == {
        "type": "Action.OpenUrl",
        "url": "https://contoso.com/menu",
    }
    assert "javascript" not in str(world.relayed(bob)[-1])
    # Outlook shows the same formatting in HTML; what was typed stays text.
    await eventually(lambda: bool(thread_texts(settings, cy.email)), "the message's mail")
    (mail,) = thread_texts(settings, cy.email)
    assert "<b>moves</b>" in mail and "<s>12:30</s>" in mail and "<i>13:00</i>" in mail
    assert '<a href="https://contoso.com/menu" ' in mail and ">the menu</a>" in mail
    assert "&lt;script&gt;" in mail and "javascript" not in mail and "alert(1)" not in mail
    # `history` keeps plain text.
    await world.say(ann, "history")
    assert words in world.last_reply(ann)


async def test_a_teams_reply_quotes_the_copy_it_answers(world: TeamsWorld) -> None:
    ann, bob, cy = await lunch(world)
    await said(world, ann, "Pizza on Friday?")
    await settled(world, ann, "Bob", "Cy")
    bobs_copy = next(
        r.id
        for r in world.connector.received
        if r.conversation_id == world.connector.chat_of(bob.user_id)
        and r.activity.get("attachments")
    )
    quoting = (
        '<blockquote itemscope="" itemtype="http://schema.skype.com/Reply" '
        f'itemid="{bobs_copy}"><strong itemprop="mri" itemid="{ann.user_id}">Ann</strong>'
        f'<span itemprop="time" itemid="{bobs_copy}"></span>'
        '<p itemprop="preview">Pizza on Friday?</p></blockquote><p>Count me in</p>'
    )
    reply = typed_in_teams(world, bob, "Ann Pizza on Friday? Count me in", quoting)
    assert await world.post(reply) == 200
    await world.wait_relayed(cy, 2)
    shown = card_text(world.relayed(cy)[-1])
    assert "↩ Ann: Pizza on Friday?" in shown and "Count me in" in shown
    assert "Ann Pizza on Friday?" not in shown  # the quote once, as a quote
    await world.wait_relayed(ann, 1)
    assert "↩ Ann: Pizza on Friday?" in card_text(world.relayed(ann)[-1])
