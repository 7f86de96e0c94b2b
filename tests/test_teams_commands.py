"""Every command of docs/usage.md through the real app, several Teams users, both stores."""

from __future__ import annotations

import pytest

from tests.fakes.connector import TeamsPerson
from tests.teams_world import TeamsWorld, card_text


async def group_of(world: TeamsWorld, owner: TeamsPerson, name: str, *members: TeamsPerson) -> None:
    for person in (owner, *members):
        await world.install(person)
    addresses = ", ".join(m.email for m in members)
    assert await world.say(owner, f"new {name}: {addresses}") == 200
    assert world.last_reply(owner).startswith(f"Created {name} with"), world.last_reply(owner)
    for member in members:  # each is welcomed in their chat, in the background
        await world.connector.wait_for(
            lambda m=member: any(f"added you to {name}" in t for t in world.replies(m)),  # type: ignore[misc]
            what=f"the welcome to {member.name}",
        )


async def test_help_lists_every_command(world: TeamsWorld) -> None:
    ann = world.person("Ann")
    await world.say(ann, "/HELP")
    reply = world.last_reply(ann)
    for command in (
        "new <name>: <members>", "groups", "use <group>", "to <group>: <text>", "members [<group>]",
        "add <group>: <members>", "remove <group>: <member>", "rename <group>: <new name>",
        "leave <group>", "delete <group>", "history [<group>]", "mute <group>", "unmute <group>",
        "outlook off", "outlook on",
    ):  # fmt: skip
        assert command in reply


@pytest.mark.both_stores
async def test_new_group_and_relay_without_echo(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob, cy)
    assert "Anything you type now goes to Lunch" in world.last_reply(ann)
    assert await world.say(ann, "Pizza at 12?") == 200
    await world.wait_relayed(bob, 1)
    await world.wait_relayed(cy, 1)
    card = world.relayed(bob)[0]
    assert card_text(card).startswith("Ann")
    assert "Lunch" in card_text(card) and "Pizza at 12?" in card_text(card)
    assert world.relayed(ann) == []
    assert world.replies(ann)[-1].startswith("Created Lunch")  # nothing after the message either


async def test_quick_reply_goes_back_to_the_same_group(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, "Pizza?")
    await world.wait_relayed(bob, 1)
    action = world.relayed(bob)[0]["actions"][0]
    assert action["type"] == "Action.Submit"
    await world.submit(bob, {**action["data"], "reply": "Yes please"})
    await world.wait_relayed(ann, 1)
    assert "Yes please" in card_text(world.relayed(ann)[0])
    assert "Bob" in card_text(world.relayed(ann)[0])
    await world.submit(bob, {**action["data"], "reply": "   "})
    assert "nothing to send" in world.last_reply(bob)


async def test_text_is_shown_as_typed(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    hostile = "**bold** [link](https://evil.example) <script>alert(1)</script> 🎉 שלום"
    await world.say(ann, hostile)
    await world.wait_relayed(bob, 1)
    card = world.relayed(bob)[0]
    runs = [
        i for block in card["body"] if block["type"] == "RichTextBlock" for i in block["inlines"]
    ]
    assert any(run["type"] == "TextRun" and run["text"] == hostile for run in runs)
    assert all(block["type"] != "TextBlock" for block in card["body"])


async def test_groups_use_and_to(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob)
    await world.install(cy)
    await world.say(ann, f"new Run: {cy.email}")
    await world.say(ann, "groups")
    listing = world.last_reply(ann)
    assert "- Lunch: 2 members (owner)" in listing
    assert "- Run: 2 members (active, owner)" in listing
    await world.say(ann, "use lunch")
    assert "Lunch is now your active group" in world.last_reply(ann)
    await world.say(ann, "to RUN: 5k at 7")
    await world.wait_relayed(cy, 1)
    assert "5k at 7" in card_text(world.relayed(cy)[0])
    await world.say(ann, "still lunch")
    await world.wait_relayed(bob, 1)
    assert "still lunch" in card_text(world.relayed(bob)[0])
    assert len(world.relayed(cy)) == 1
    await world.say(ann, "to nowhere: hi")
    assert world.last_reply(ann) == "You have no group named nowhere. Type groups to see yours."
    await world.say(ann, "to lunch")
    assert "to <group>: <text>" in world.last_reply(ann)


async def test_no_active_group_asks_which_and_sends_nothing(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(bob, f"new Lunch: {ann.email}")
    await world.say(cy, f"new Run: {ann.email}")
    await world.say(ann, "hello?")
    picker = world.connector.cards_to(world.connector.chat_of(ann.user_id))[-1]
    assert [a["title"] for a in picker["actions"]] == ["Lunch", "Run"]
    assert world.relayed(bob) == [] and world.relayed(cy) == []
    run = next(a for a in picker["actions"] if a["title"] == "Run")
    await world.submit(ann, run["data"])
    await world.wait_relayed(cy, 1)
    assert "hello?" in card_text(world.relayed(cy)[0])
    assert world.relayed(bob) == []
    assert world.last_reply(ann) == "Sent to Run, now your active group."


async def test_no_groups_yet(world: TeamsWorld) -> None:
    ann = world.person("Ann")
    await world.say(ann, "hello")
    assert "You have no groups yet" in world.last_reply(ann)
    await world.say(ann, "groups")
    assert "You have no groups yet" in world.last_reply(ann)


async def test_single_group_is_used_without_an_active_one(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, bob, "Lunch", ann)
    await world.say(ann, "from the only group I have")
    await world.wait_relayed(bob, 1)


async def test_members_shows_how_each_is_reached(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, "add lunch: dana@contoso.com")
    assert world.last_reply(ann) == "Added dana@contoso.com to Lunch."
    await world.say(bob, "mute lunch")
    await world.say(ann, "members")
    reply = world.last_reply(ann)
    assert "Lunch has 3 members:" in reply
    assert "- Ann (owner) <ann@contoso.com>: Teams and Outlook" in reply
    assert "- Bob <bob@contoso.com>: Outlook" in reply
    assert "- dana@contoso.com: Outlook" in reply  # an address is never shown twice


async def test_add_remove_and_owner_only_commands(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob)
    await world.install(cy)
    await world.say(bob, f"add lunch: {cy.email}")
    assert world.last_reply(bob) == "Only the owner of Lunch (Ann) can add members to it."
    await world.say(bob, "rename lunch: Dinner")
    assert world.last_reply(bob) == "Only the owner of Lunch (Ann) can rename it."
    await world.say(bob, "delete lunch")
    assert world.last_reply(bob) == "Only the owner of Lunch (Ann) can delete it."
    await world.say(bob, f"remove lunch: {ann.email}")
    assert world.last_reply(bob) == "Only the owner of Lunch (Ann) can remove members from it."

    await world.say(ann, "add lunch:", mentions=[cy])
    assert world.last_reply(ann) == "Added Cy to Lunch."
    await world.say(ann, "hi all")
    await world.wait_relayed(cy, 1)
    await world.say(ann, f"remove lunch: {cy.email}")
    assert world.last_reply(ann) == "Removed Cy from Lunch."
    await world.say(ann, "bye Cy")
    await world.wait_relayed(bob, 2)
    assert len(world.relayed(cy)) == 1
    await world.say(ann, "remove lunch: nobody@contoso.com")
    assert world.last_reply(ann) == "nobody@contoso.com is not a member of Lunch."
    await world.say(ann, f"remove lunch: {ann.email}")
    assert world.last_reply(ann) == "To take yourself out, use leave Lunch."
    await world.say(cy, "history lunch")
    assert world.last_reply(cy) == "You have no group named lunch. Type groups to see yours."


async def test_bad_addresses_change_nothing(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}, not-an-address; also@bad")
    reply = world.last_reply(ann)
    assert "not-an-address is not an e-mail address" in reply
    assert "also@bad is not an e-mail address" in reply
    assert reply.endswith("Nothing was changed.")
    await world.say(ann, "groups")
    assert "You have no groups yet" in world.last_reply(ann)
    await world.say(ann, "new Lunch:")
    assert "Name the members" in world.last_reply(ann)


async def test_group_names(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, f"new LUNCH: {bob.email}")
    assert world.last_reply(ann) == "You already have a group named Lunch; choose another name."
    await world.say(bob, f"new lunch: {ann.email}")  # Bob is in Ann's Lunch himself
    assert world.last_reply(bob) == "You already have a group named Lunch; choose another name."
    cy = world.person("Cy")
    await world.install(cy)
    await world.say(cy, f"new lunch: {ann.email}")  # Ann's group is not Cy's to know
    assert world.last_reply(cy) == "Ann is already in a group of that name; choose another name."
    await world.say(ann, "new " + "x" * 61 + f": {bob.email}")
    assert world.last_reply(ann) == "Group names have at most 60 characters; that one has 61."
    await world.say(ann, "new " + "y" * 60 + f": {bob.email}")
    assert world.last_reply(ann).startswith("Created " + "y" * 60)
    await world.say(ann, f"rename lunch: {'y' * 60}")
    assert "choose another name" in world.last_reply(ann)
    await world.say(ann, "rename lunch: Brunch")
    assert world.last_reply(ann) == "Renamed Lunch to Brunch."
    await world.say(bob, "groups")
    assert "- Brunch: 2 members" in world.last_reply(bob)


async def test_twenty_members_and_no_more(world: TeamsWorld) -> None:
    owner = world.person("Owner")
    others = world.people(19)
    await group_of(world, owner, "Big", *others)
    extra = world.person("Extra")
    await world.say(owner, f"add big: {extra.email}")
    assert world.last_reply(owner) == (
        "Big has 20 members; adding 1 would pass the limit of 20. Nothing was changed."
    )
    await world.say(owner, "to big: all hands")
    for person in others:
        await world.wait_relayed(person, 1)
    assert world.relayed(extra) == [] and world.relayed(owner) == []
    await world.say(owner, "members big")
    assert world.last_reply(owner).startswith("Big has 20 members:")

    await world.say(extra, "new Huge: " + ", ".join(p.email for p in [owner, *others]))
    assert world.last_reply(extra) == (
        "A group has at most 20 members including you; that would be 21. Nothing was created."
    )


async def test_message_length_limit(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, "x" * 2001)
    assert world.last_reply(ann) == (
        "Your message has 2001 characters; the limit is 2000. Nothing was sent."
    )
    await world.say(ann, "x" * 2000)
    await world.wait_relayed(bob, 1)


async def test_leave_hands_over_and_last_one_deletes(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob, cy)
    await world.say(ann, "leave lunch")
    assert world.last_reply(ann) == "You left Lunch; Bob owns it now."
    await world.say(bob, "rename lunch: Brunch")
    assert world.last_reply(bob) == "Renamed Lunch to Brunch."
    await world.say(cy, "leave brunch")
    assert world.last_reply(cy) == "You left Brunch."
    await world.say(bob, "leave brunch")
    assert world.last_reply(bob) == "You left Brunch; you were its last member, so it is deleted."
    for person in (ann, bob, cy):
        await world.say(person, "groups")
        assert "You have no groups yet" in world.last_reply(person)


async def test_delete(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, "delete lunch")
    assert world.last_reply(ann) == "Deleted Lunch."
    await world.say(bob, "history lunch")
    assert world.last_reply(bob) == "You have no group named lunch. Type groups to see yours."


async def test_history_keeps_the_last_ten_in_order(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(ann, "history")
    assert world.last_reply(ann) == "No messages in Lunch yet."
    for n in range(12):
        await world.say(ann if n % 2 else bob, f"message {n}")
    await world.say(bob, "history lunch")
    lines = world.last_reply(bob).splitlines()
    assert lines[0] == "The last 10 messages in Lunch:"
    assert [line.rsplit(": ", 1)[1] for line in lines[1:]] == [f"message {n}" for n in range(2, 12)]
    assert " Ann: message 3" in lines[2]


async def test_mute_and_unmute(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(bob, "mute lunch")
    assert world.last_reply(bob) == "Muted Lunch in Teams; its Outlook thread continues."
    await world.say(ann, "one")
    await world.say(bob, "groups")
    assert "- Lunch: 2 members (active, muted)" in world.last_reply(bob)
    await world.say(bob, "unmute LUNCH")
    assert world.last_reply(bob) == "Unmuted Lunch: you get its messages in Teams again."
    await world.say(ann, "two")
    await world.wait_relayed(bob, 1)
    assert "two" in card_text(world.relayed(bob)[0])
    assert len(world.relayed(bob)) == 1


async def test_outlook_off_and_on(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    await world.say(bob, "outlook off")
    assert world.last_reply(bob).startswith("Outlook copies are off for all your groups.")
    await world.say(ann, "members")
    assert "- Bob <bob@contoso.com>: Teams" in world.last_reply(ann).splitlines()
    await world.say(bob, "Outlook ON")
    assert world.last_reply(bob).startswith("Outlook copies are on")
    await world.say(ann, "outlook is a word too")
    await world.wait_relayed(bob, 1)


async def test_members_unreachable_in_teams_are_reported_once(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob, cy)
    # Bob blocks the bot: Teams answers 403 to sends into his chat.
    world.connector.faults = lambda cid, _: (
        (403, {}) if cid == world.connector.chat_of(bob.user_id) else None
    )
    await world.say(ann, "first")
    await world.wait_relayed(cy, 1)
    await world.connector.wait_for(
        lambda: any("could not be reached" in t for t in world.replies(ann))
    )
    assert world.last_reply(ann) == (
        "Bob could not be reached in Teams; they still get the Outlook copy."
    )
    await world.say(ann, "second")
    await world.wait_relayed(cy, 2)
    refused = len(world.connector.refused)
    assert refused == 1  # no second attempt into the blocked chat
    assert sum("could not be reached" in t for t in world.replies(ann)) == 1
    await world.say(ann, "members")
    assert "- Bob <bob@contoso.com>: Outlook" in world.last_reply(ann).splitlines()
    # Bob writes to the bot again: reachable again.
    world.connector.faults = None
    await world.say(bob, "back")
    await world.wait_relayed(ann, 1)
    await world.say(ann, "third")
    await world.wait_relayed(bob, 1)


async def test_roster_members_get_a_chat_created(world: TeamsWorld) -> None:
    ann = world.person("Ann")
    dee = world.person("Dee", installed=False)
    await world.install(ann)
    await world.say(ann, "new Lunch:", mentions=[dee])
    assert world.last_reply(ann) == "Created Lunch with Dee. Anything you type now goes to Lunch."
    world.connector.add_person(dee)  # the app is installed for Dee; no chat with the bot yet
    await world.say(ann, "hello Dee")
    await world.wait_relayed(dee, 1)
    assert world.connector.created_chats == [world.connector.chat_of(dee.user_id)]
    await world.say(ann, "again")
    await world.wait_relayed(dee, 2)
    assert len(world.connector.created_chats) == 1


async def test_tenants_are_separate(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    other = TeamsWorld(world.app_url, world.connector, world.service_url.rstrip("/"), "tenant-b")
    async with other:
        eve = other.person("Eve")
        await other.say(eve, "to lunch: hi")
        assert other.last_reply(eve) == "You have no group named lunch. Type groups to see yours."
        # Same Teams ids in another tenant are other people.
        await other.say(ann, "groups")
        assert "You have no groups yet" in other.last_reply(ann)


async def test_disallowed_tenant_is_told(world: TeamsWorld) -> None:
    assert world.tenant_id == "tenant-a"  # allowed by default (ALLOWED_TENANTS empty)
    ann = world.person("Ann")
    await world.say(ann, "help")
    assert "Send relays your messages" in world.last_reply(ann)


@pytest.mark.both_stores
async def test_repeated_activity_is_processed_once(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "Lunch", bob)
    activity = world.activity(ann, world.personal(ann), text="only once")
    assert await world.post(activity) == 200
    assert await world.post(activity) == 200  # Teams re-sends after 15 s without an answer
    await world.wait_relayed(bob, 1)
    command = world.activity(
        ann, world.personal(ann), text=f"add lunch: {world.person('Cy').email}"
    )
    await world.post(command)
    await world.post(command)
    assert world.replies(ann).count("Added cy@contoso.com to Lunch.") == 1
    await world.say(ann, "history")
    assert world.last_reply(ann).count("only once") == 1
    assert len(world.relayed(bob)) == 1


async def test_members_hear_of_being_added_removed_and_of_renames_and_deletes(
    world: TeamsWorld,
) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await group_of(world, ann, "Lunch", bob, cy)
    assert world.replies(bob)[-1] == (
        "Ann added you to Lunch (3 people). Its messages reach you here and in Outlook; "
        "answer on a message's card, or type to Lunch: <text>. mute Lunch stops them here, "
        "leave Lunch takes you out."
    )
    await world.say(ann, "rename lunch: Brunch")
    for person in (bob, cy):
        await world.connector.wait_for(
            lambda p=person: world.replies(p)[-1] == "Ann renamed Lunch to Brunch.",  # type: ignore[misc]
            what="the rename notice",
        )
    await world.say(ann, f"remove brunch: {cy.email}")
    await world.connector.wait_for(
        lambda: world.replies(cy)[-1] == "Ann removed you from Brunch.", what="the removal"
    )
    await world.say(ann, "delete brunch")
    await world.connector.wait_for(
        lambda: world.replies(bob)[-1] == "Ann deleted Brunch; its messages are gone.",
        what="the deletion",
    )
    assert world.replies(cy)[-1] == "Ann removed you from Brunch."  # no longer a member
    assert not any("deleted" in t or "renamed" in t for t in world.replies(ann)[:-1])


async def test_answers_are_html_with_entities_shown_as_typed_with_no_backslash(
    world: TeamsWorld,
) -> None:
    """Teams' xml text format is HTML, escaped with entities (documented, unlike markdown
    escapes): names and typed text show as written, lines stay lines, no backslash."""
    ann, bob = world.person("Ann"), world.person("Bob")
    await group_of(world, ann, "*Lunch*", bob)
    await world.say(ann, "members *lunch*")
    raw = world.connector.to(world.connector.chat_of(ann.user_id))[-1]
    assert raw["textFormat"] == "xml"
    lines = str(raw["text"]).split("<br>")
    assert lines[0] == "*Lunch* has 2 members:"
    assert lines[1].startswith("- Ann (owner) &lt;ann@contoso.com&gt;: Teams")
    assert lines[2].startswith("- Bob &lt;bob@contoso.com&gt;: Teams")
    assert "\\" not in str(raw["text"])
    assert world.last_reply(ann).splitlines()[1].startswith("- Ann (owner) <ann@contoso.com>")
