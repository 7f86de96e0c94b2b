"""Longer Teams flows: the `new` dialog, group chats, restarts, concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.teams_world import BOT_ID, TeamsWorld, card_text


@pytest.mark.both_stores
async def test_new_dialog_asks_checks_and_confirms(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Taken: {bob.email}")
    await world.say(ann, "new")
    assert world.last_reply(ann) == "What should the new group be called?"
    await world.say(ann, "x" * 61)
    assert world.last_reply(ann) == (
        "Group names have at most 60 characters; that one has 61. What should it be called?"
    )
    await world.say(ann, "taken")
    assert world.last_reply(ann) == (
        "You already have a group named Taken; choose another name. What should it be called?"
    )
    await world.say(ann, "Book club")
    assert world.last_reply(ann).startswith("Who should be in Book club?")
    await world.say(ann, "bob@contoso.com, nonsense")
    assert world.last_reply(ann).startswith("nonsense is not an e-mail address.")
    await world.say(ann, f"{bob.email};", mentions=[cy])
    assert world.last_reply(ann) == "Create Book club with bob@contoso.com, Cy?"
    question = world.connector.to(world.connector.chat_of(ann.user_id))[-1]
    buttons = question["attachments"][0]["content"]["buttons"]
    assert [(b["type"], b["value"]) for b in buttons] == [("imBack", "Yes"), ("imBack", "No")]
    await world.say(ann, "later")
    assert world.last_reply(ann) == "Create Book club? Answer yes or no (or cancel)."
    await world.say(ann, "yes")
    assert world.last_reply(ann) == (
        "Created Book club with Bob, Cy. Anything you type now goes to Book club."
    )
    await world.say(ann, "First book: Dune")
    await world.wait_relayed(bob, 1)
    await world.wait_relayed(cy, 1)


async def test_new_dialog_can_be_cancelled_or_declined(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, "new Lunch")  # a name given: the dialog asks for the members
    assert world.last_reply(ann).startswith("Who should be in Lunch?")
    await world.say(ann, "cancel")
    assert world.last_reply(ann) == "Cancelled; no group was created."
    await world.say(ann, "new")
    await world.say(ann, "Lunch")
    await world.say(ann, bob.email)
    await world.say(ann, "no")
    assert world.last_reply(ann) == "OK, no group was created."
    await world.say(ann, "groups")
    assert "You have no groups yet" in world.last_reply(ann)


def group_chat_activity(
    world: TeamsWorld, sender: TeamsPerson, chat: str, text: str
) -> dict[str, object]:
    tag = "<at>Send</at>"
    return world.activity(
        sender,
        {"id": chat, "conversationType": "groupChat", "isGroup": True, "tenantId": world.tenant_id},
        text=f"{tag} {text}",
        entities=[{"type": "mention", "text": tag, "mentioned": {"id": BOT_ID, "name": "Send"}}],
    )


async def test_group_chat_roster_becomes_a_group(world: TeamsWorld) -> None:
    people = world.people(5, "Colleague")
    chat = "19:team-chat@thread.v2"
    world.connector.rosters[chat] = [p.user_id for p in people]  # paged two at a time
    owner = people[0]
    assert await world.post(group_chat_activity(world, owner, chat, "new Project X")) == 200
    assert world.connector.texts_to(chat)[-1].startswith(
        "Made the Send group Project X with the 5 people of this chat."
    )
    # Without a mention the bot stays silent in a group chat.
    silent = world.activity(
        owner, {"id": chat, "conversationType": "groupChat", "isGroup": True}, text="hi"
    )
    await world.post(silent)
    assert len(world.connector.texts_to(chat)) == 1
    # Only `new` is done in group chats.
    await world.post(group_chat_activity(world, owner, chat, "groups"))
    assert "In a group chat I only make groups" in world.connector.texts_to(chat)[-1]

    await world.say(owner, "kick-off tomorrow")
    for person in people[1:]:
        await world.wait_relayed(person, 1)
    await world.say(people[3], "members project x")
    # The answer; the welcome to Project X goes in the background and may come after it.
    reply = next(r for r in world.replies(people[3]) if r.startswith("Project X has"))
    assert "Project X has 5 members:" in reply
    assert f"- {owner.name} (owner) <{owner.email}>: Teams and Outlook" in reply


async def test_group_chat_over_twenty_is_refused(world: TeamsWorld) -> None:
    people = world.people(21, "Crowd")
    chat = "19:big-chat@thread.v2"
    world.connector.rosters[chat] = [p.user_id for p in people]
    world.connector.page_size = 5
    await world.post(group_chat_activity(world, people[0], chat, "new Everyone"))
    assert world.connector.texts_to(chat)[-1] == (
        "This chat has more than 20 people; a Send group has at most 20. Nothing was created."
    )
    await world.say(people[0], "groups")
    assert "You have no groups yet" in world.last_reply(people[0])


@pytest.mark.both_stores
async def test_restart_keeps_groups_people_and_history(
    settings: Settings, connector: tuple[FakeConnector, str]
) -> None:
    fake, connector_url = connector
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        await world.say(ann, f"new Lunch: {bob.email}")
        await world.say(bob, "mute lunch")
        await world.say(ann, "before the restart")
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.say(ann, "history")
        assert "Ann: before the restart" in world.last_reply(ann)
        await world.say(bob, "groups")
        assert world.last_reply(bob) == "Your groups:\n- Lunch: 2 members (active, muted)"
        await world.say(bob, "unmute lunch")
        await world.say(ann, "after the restart")  # Ann's active group survived too
        await world.wait_relayed(bob, 1)
        assert "after the restart" in card_text(world.relayed(bob)[0])


@pytest.mark.both_stores
@pytest.mark.slow
async def test_many_members_posting_at_once_lose_nothing(world: TeamsWorld) -> None:
    owner = world.person("Owner")
    others = world.people(9)
    for person in (owner, *others):
        await world.install(person)
    await world.say(owner, "new Busy: " + ", ".join(p.email for p in others))
    everyone = [owner, *others]
    await asyncio.gather(*(world.say(p, f"from {p.name}") for p in everyone))
    for person in everyone:
        await world.wait_relayed(person, len(everyone) - 1, timeout=30)
        got = sorted(card_text(c).split(" in Busy ")[-1] for c in world.relayed(person))
        assert got == sorted(f"from {p.name}" for p in everyone if p is not person)
    await world.say(owner, "history")
    assert len(world.last_reply(owner).splitlines()) == 11  # header + the last 10


async def test_people_mentioned_in_the_dialog_get_a_chat(world: TeamsWorld) -> None:
    ann = world.person("Ann")
    dee = world.person("Dee", installed=False)
    await world.install(ann)
    await world.say(ann, "new Walk")
    await world.say(ann, "", mentions=[dee])
    await world.say(ann, "yes")
    assert world.last_reply(ann).startswith("Created Walk with Dee.")
    world.connector.add_person(dee)  # Teams knows Dee; she has no chat with the bot yet
    await world.say(ann, "Walk at 5?")
    await world.wait_relayed(dee, 1)
    assert world.connector.created_chats == [world.connector.chat_of(dee.user_id)]


async def test_a_sender_over_the_per_minute_allowance_is_told_and_nothing_is_sent(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    fake, connector_url = connector
    # `new` counts too: the group, then three messages.
    settings = Settings(data_dir=tmp_path, messages_per_minute_per_sender=4)
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        await world.say(ann, f"new Lunch: {bob.email}")
        for n in range(3):
            await world.say(ann, f"message {n}")
        await world.wait_relayed(bob, 3)
        await world.say(ann, "one too many")
        assert world.last_reply(ann) == (
            "You have sent 4 messages in the last minute; wait a moment, then send again. "
            "This one was not sent."
        )
        await world.say(bob, "bob is not limited")
        await world.wait_relayed(ann, 1)
        assert [card_text(c) for c in world.relayed(bob)][-1].endswith("message 2")
        assert len(world.relayed(bob)) == 3


async def test_added_to_a_group_chat_send_introduces_itself_once(world: TeamsWorld) -> None:
    ann = world.person("Ann")
    chat = "19:lunch-planning@thread.v2"
    world.connector.rosters[chat] = [ann.user_id]
    added = world.activity(
        ann,
        {"id": chat, "conversationType": "groupChat", "isGroup": True, "tenantId": world.tenant_id},
        type="conversationUpdate",
        membersAdded=[{"id": BOT_ID}],
    )
    assert await world.post(added) == 200
    assert await world.post(added) == 200  # Teams sending the same event again
    assert world.connector.texts_to(chat) == [
        "Hello, I'm Send. Type @Send new <name> here to make a Send group of everyone in "
        "this chat; then each of you writes to it from your own chat with Send, and every "
        "message reaches the others in Teams and in one Outlook thread."
    ]
