"""The core's one entry point, `Conversation.handle`: a Teams request in, one answer out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.membership.policy import CONSUMER_TENANT, NOT_ALLOWED, PERSONAL_ACCOUNT
from bot.core.model import OUTLOOK_THREAD, Channel
from bot.core.ports import StoreError
from bot.core.texts import Language, say
from bot.core.turn.commands import SPECS, Verb, help_text
from bot.core.turn.requests import ActionKind, Answer, CardAction, GroupPicker, MentionedUser
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    Core,
    StoreSpy,
    build_core,
    chat_of,
    email,
    filed,
    in_group_chat,
    personal,
    roster_entry,
    user_id,
)
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


async def lunch_of_ann_and(core: Core, *members: str) -> None:
    """Ann makes the group lunch with these people (by e-mail) and it becomes active."""
    answer = await core.say(f"new lunch: {', '.join(email(m) for m in members)}")
    assert answer.text.startswith("Created lunch"), answer.text


# who the person is, and whether they may use Send


async def test_first_contact_registers_the_person_with_the_roster_email(core: Core) -> None:
    answer = await core.say("help")
    ann = await core.person("ann")
    assert ann.email == email("ann")
    assert ann.teams is not None and ann.teams.conversation_id == chat_of("ann")
    assert answer.person == ann and answer.text == help_text(language=Language.EN)


async def test_a_tenant_not_allowed_gets_one_line_and_nothing_is_stored(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, allowed_tenants=frozenset({"t1"}))
    answer = await core.conversation.handle(personal("help", tenant="t2"))
    assert answer.text == NOT_ALLOWED and "\n" not in answer.text
    assert await store.person_id_for_teams_user("t2", user_id("ann")) is None
    assert (await core.say("help")).text == help_text(
        language=Language.EN
    )  # the allowed tenant is served


async def test_personal_microsoft_accounts_are_refused_whatever_the_allowed_tenants(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, allowed_tenants=frozenset({CONSUMER_TENANT}))
    for request in (
        personal("help", tenant=CONSUMER_TENANT),
        personal("hi", tenant=CONSUMER_TENANT.upper()),
    ):
        answer = await core.conversation.handle(request)
        assert answer.text == PERSONAL_ACCOUNT
    installed = await core.conversation.installed(
        personal("", tenant=CONSUMER_TENANT), welcome=True
    )
    assert installed.text == "" and installed.person is None
    assert await store.person_id_for_teams_user(CONSUMER_TENANT, user_id("ann")) is None


# commands


async def test_new_with_members_creates_the_group_and_makes_it_active(core: Core) -> None:
    await lunch_of_ann_and(core, "bob")
    lunch = await core.group("ann", "lunch")
    assert lunch.owner_id == email("ann")
    assert set(lunch.member_ids) == {email("ann"), email("bob")}
    assert (await core.person("ann")).active_group_id == lunch.group_id


@pytest.mark.parametrize(
    ("typed", "action"),
    [
        ("rename lunch: brunch", "rename"),
        ("add lunch: cy@x.com", "add members to"),
        ("remove lunch: ann@x.com", "remove members from"),
        ("delete lunch", "delete"),
    ],
)
async def test_owner_commands_are_refused_to_other_members_naming_the_owner(
    core: Core, typed: str, action: str
) -> None:
    await lunch_of_ann_and(core, "bob")
    before = await core.group("ann", "lunch")
    answer = await core.say(typed, who="bob")
    assert answer.text == f"Only the owner of lunch (Ann) can {action} it."
    assert await core.group("ann", "lunch") == before


@pytest.mark.parametrize("verb", [Verb.TO, Verb.ADD, Verb.REMOVE, Verb.RENAME])
async def test_group_and_rest_commands_without_colon_say_how_to_write_them(
    core: Core, verb: Verb
) -> None:
    await lunch_of_ann_and(core, "bob")
    before = await core.group("ann", "lunch")
    answer = await core.say(f"{verb.value} lunch bob@x.com")
    assert answer.text == f"Write it as {SPECS[verb].usage}."
    assert await core.group("ann", "lunch") == before
    assert await core.relayed() == []


async def test_a_repeated_command_activity_is_answered_once(core: Core) -> None:
    first = await core.say("new lunch: bob@x.com", key="activity-1")
    again = await core.say("new lunch: bob@x.com", key="activity-1")
    assert first.text.startswith("Created lunch")
    assert again == Answer()
    assert len(await core.store.groups_of("t1", email("ann"))) == 1


async def test_a_store_error_in_a_command_lets_the_retried_activity_through(
    clock: FakeClock,
) -> None:
    spy = StoreSpy(DocumentStore(MemoryDocuments()))
    core = build_core(spy, clock)
    spy.fail("save_group")
    with pytest.raises(StoreError):
        await core.say("new lunch: bob@x.com", key="activity-1")
    # Teams sends the activity again: it is not taken for a duplicate.
    answer = await core.say("new lunch: bob@x.com", key="activity-1")
    assert answer.text.startswith("Created lunch")
    assert (await core.group("ann", "lunch")).owner_id == email("ann")


# messages


async def test_plain_text_is_stored_for_the_active_group_with_its_deliveries(core: Core) -> None:
    for name in ("bob", "cy"):
        await core.say("help", who=name)  # in Teams; dan is known by address only
    await lunch_of_ann_and(core, "bob", "cy", "dan")
    lunch = await core.group("ann", "lunch")

    answer = await core.say("pizza at noon?", key="message-1")

    assert answer.text == ""  # no echo
    message = await filed(core.store, lunch.group_id, "message-1")
    assert message.text == "pizza at noon?"
    teams = [d for d in message.deliveries if d.channel is Channel.TEAMS]
    outlook = [d for d in message.deliveries if d.channel is Channel.OUTLOOK]
    assert sorted(d.recipient_id for d in teams) == [email("bob"), email("cy")]
    assert [d.recipient_id for d in outlook] == [OUTLOOK_THREAD]
    assert set(outlook[0].addresses) == {email(n) for n in ("ann", "bob", "cy", "dan")}
    copies = await core.relayed()
    assert sorted((c.person_id, c.message_id) for c in copies) == [
        (email("bob"), "message-1"),
        (email("cy"), "message-1"),
    ]


async def test_every_message_typed_goes_to_the_active_group(core: Core) -> None:
    await lunch_of_ann_and(core, "bob")
    lunch = await core.group("ann", "lunch")
    for n in range(3):
        await core.say(f"message {n}", key=f"message-{n}")
    stored = [await filed(core.store, lunch.group_id, f"message-{n}") for n in range(3)]
    assert [m.text for m in stored] == ["message 0", "message 1", "message 2"]


async def test_without_an_active_group_a_picker_holds_the_text(core: Core) -> None:
    await core.say("new lunch: ann@x.com", who="bob")
    await core.say("new book club: ann@x.com", who="cy")

    answer = await core.say("running late")

    assert isinstance(answer.buttons, GroupPicker)
    assert {c.name for c in answer.buttons.choices} == {"lunch", "book club"}
    assert answer.buttons.text == "running late"
    assert await core.store.pending_messages() == [] and await core.relayed() == []


# group chats


async def test_a_group_chat_is_ignored_unless_the_bot_is_mentioned(
    core: Core, documents: MemoryDocuments
) -> None:
    core.roster.chats["chat-team"] = [roster_entry(n) for n in ("ann", "bob")]
    answer = await core.conversation.handle(in_group_chat("new lunch", mentions_bot=False))
    assert answer.text == ""
    assert await documents.query("directory", "t1", []) == []


async def test_only_new_with_a_name_is_understood_in_a_group_chat(core: Core) -> None:
    answer = await core.conversation.handle(in_group_chat("groups"))
    assert answer.text == say(Language.EN, "group_chat_help")


async def test_new_in_a_group_chat_makes_a_group_of_its_roster(core: Core) -> None:
    core.roster.chats["chat-team"] = [roster_entry(n) for n in ("bob", "ann", "cy")]
    answer = await core.conversation.handle(in_group_chat("new lunch", who="ann"))
    lunch = await core.group("ann", "lunch")
    assert lunch.owner_id == email("ann")
    assert set(lunch.member_ids) == {email(n) for n in ("ann", "bob", "cy")}
    assert "3 people" in answer.text


async def test_a_group_made_in_a_group_chat_leaves_the_active_group_alone(core: Core) -> None:
    """Made elsewhere, the big group must not silently catch what Ann types next."""
    await core.say("new pair: bob@x.com")
    core.roster.chats["chat-team"] = [roster_entry(n) for n in ("bob", "ann", "cy", "dee")]
    answer = await core.conversation.handle(in_group_chat("new team", who="ann"))
    assert "To write to it there: use team, or to team: <text>." in answer.text
    pair = await core.group("ann", "pair")
    assert (await core.person("ann")).active_group_id == pair.group_id
    await core.say("lunch?", key="m1")
    assert await core.relayed_messages() == ["m1"]
    assert await core.store.get_message(pair.group_id, "m1") is not None


async def test_new_in_a_chat_of_more_than_20_people_is_refused_and_writes_nothing(
    core: Core, documents: MemoryDocuments
) -> None:
    core.roster.chats["chat-team"] = [roster_entry("ann")] + [
        roster_entry(f"p{n}") for n in range(24)
    ]
    answer = await core.conversation.handle(in_group_chat("new lunch"))
    assert "more than 20 people" in answer.text
    assert await documents.query("directory", "t1", []) == []


# cards


async def test_a_card_reply_goes_to_the_cards_group(core: Core) -> None:
    await lunch_of_ann_and(core, "bob")
    await core.say("new book club: cy@x.com")  # now the active one
    lunch = await core.group("ann", "lunch")
    reply = CardAction(ActionKind.REPLY, lunch.group_id, "on my way", card_id="card-1")

    await core.conversation.handle(personal(action=reply, key="reply-1"))

    message = await filed(core.store, lunch.group_id, "reply-1")
    assert message.text == "on my way"
    await core.relayed()
    assert [(m.group_id, m.message_id) for m in core.outlook.mails] == [(lunch.group_id, "reply-1")]


async def test_a_pick_posts_the_held_text_once_and_makes_the_group_active(core: Core) -> None:
    await core.say("new lunch: ann@x.com", who="bob")
    await core.say("new book club: ann@x.com", who="cy")
    lunch = await core.group("bob", "lunch")
    pick = CardAction(ActionKind.PICK, lunch.group_id, "running late", card_id="picker-1")

    answer = await core.conversation.handle(personal(action=pick))
    await core.conversation.handle(personal(action=pick))  # a second click on the same card

    assert "lunch" in answer.text
    assert [(c.person_id, c.text) for c in await core.relayed()] == [(email("bob"), "running late")]
    assert (await core.person("ann")).active_group_id == lunch.group_id


async def test_a_mention_inside_a_message_keeps_the_name(core: Core) -> None:
    await core.say("new pair: bob@x.com")
    megan = MentionedUser("29:megan", "Megan Bowen")
    request = personal("thanks for the slides", mentions=(megan,), key="m1")
    await core.conversation.handle(replace(request, spoken="thanks Megan Bowen for the slides"))
    await core.conversation.handle(
        replace(
            personal("to pair: ask  about it", mentions=(megan,), key="m2"),
            spoken="to pair: ask Megan Bowen about it",
        )
    )
    await core.relayed()
    assert [mail.recent[-1].text for mail in core.outlook.mails] == [
        "thanks Megan Bowen for the slides",
        "ask Megan Bowen about it",
    ]


# who a mention is


async def vic_with_object_id(core: Core) -> None:
    request = personal("help", who="vic")
    vic = replace(request.sender, aad_object_id="oid-vic")
    await core.conversation.handle(replace(request, sender=vic))


async def test_a_mentions_claimed_object_id_links_nobody(core: Core) -> None:
    await vic_with_object_id(core)
    forged = MentionedUser("29:mal2", "Vic", aad_object_id="oid-vic")
    await core.conversation.handle(personal("hi", mentions=(forged,), key="m1"))
    assert await core.store.person_for_teams_user("t1", "29:mal2") is None
    vic = await core.store.person_for_object("t1", "oid-vic")
    assert vic is not None and vic.teams is not None and vic.teams.user_id == user_id("vic")


async def test_a_mention_whose_claim_disagrees_with_what_send_knows_is_a_plain_name(
    core: Core,
) -> None:
    await vic_with_object_id(core)
    await core.say("help", who="bob")
    # Bob's Teams id, claiming Vic's object id: not Bob, not Vic; nobody is added.
    disputed = MentionedUser(user_id("bob"), "Bob", aad_object_id="oid-vic")
    answer = await core.conversation.handle(personal("new lunch:", mentions=(disputed,)))
    assert not answer.text.startswith("Created")
    assert await core.store.groups_of("t1", email("ann")) == []
    # Without a claim, the same mention is Bob.
    plain = MentionedUser(user_id("bob"), "Bob")
    answer = await core.conversation.handle(personal("new lunch:", mentions=(plain,)))
    assert answer.text.startswith("Created lunch with Bob")


async def test_more_mentions_than_a_group_holds_are_refused_and_register_nobody(
    core: Core,
) -> None:
    await lunch_of_ann_and(core, "bob")
    crowd = tuple(MentionedUser(f"29:p{n}", f"P{n}") for n in range(21))
    answer = await core.conversation.handle(personal("hello all", mentions=crowd))
    assert answer.text == (
        "That message mentions 21 people; a message can mention at most 20. Nothing was sent."
    )
    assert await core.store.person_for_teams_user("t1", "29:p0") is None
    assert await core.relayed() == []
