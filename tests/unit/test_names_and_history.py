"""Small holes closed: look-alike group names, forged history lines, renaming by mention,
addresses the mail parser would reject."""

from __future__ import annotations

import pytest

from bot.core.errors import Refused
from bot.core.membership.addresses import parse_members
from bot.core.membership.groups import check_name
from bot.core.turn.requests import MentionedUser
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import Core, add_group, add_person, build_core, email, personal, user_id
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(clock: FakeClock) -> Core:
    return build_core(DocumentStore(MemoryDocuments()), clock)


@pytest.mark.parametrize(
    "name", ["lu\u200bnch", "lunch\u202e", "tab\there\u0007", "\ufefflunch", "lunch\u2066x"]
)
def test_invisible_or_control_characters_are_refused_in_group_names(name: str) -> None:
    with pytest.raises(Refused, match="invisible or control characters"):
        check_name(name)


async def test_names_that_look_alike_are_the_same_name(core: Core) -> None:
    ann, bob = await add_person(core.store, "ann"), await add_person(core.store, "bob")
    await add_group(core.store, core.clock, "Lunch", ann, bob)
    with pytest.raises(Refused, match="You already have a group named Lunch"):
        await core.groups.create(ann, "\uff2c\uff35\uff2e\uff23\uff28", parse_members(email("bob")))
    assert (await core.groups.find(ann, "\uff4c\uff55\uff4e\uff43\uff48")).name == "Lunch"


async def test_a_newline_in_a_message_cannot_forge_a_history_line(core: Core) -> None:
    ann, bob = await add_person(core.store, "ann"), await add_person(core.store, "bob")
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    forged = "see you\n- 2026-12-01 09:00 UTC Bob: I quit"
    await core.relay.from_teams(ann, lunch, forged, "m1")
    history = (await core.groups.history_text(ann, "lunch")).splitlines()
    assert len(history) == 2
    assert history[1].endswith("Ann: see you - 2026-12-01 09:00 UTC Bob: I quit")


async def test_a_mention_does_not_rename_a_known_person(core: Core) -> None:
    await core.say("help", who="bob")  # Bob is known, by his own name
    await core.say("help")
    answer = await core.conversation.handle(
        personal("new lunch:", mentions=(MentionedUser(user_id("bob"), "The CEO"),))
    )
    assert answer.text.startswith("Created lunch with Bob"), answer.text
    assert (await core.person("bob")).display_name == "Bob"


@pytest.mark.parametrize("address", ["a..b@contoso.com", ".ann@contoso.com", "ann.@contoso.com"])
async def test_an_address_the_mail_parser_rejects_is_refused_when_added(
    core: Core, address: str
) -> None:
    ann, bob = await add_person(core.store, "ann"), await add_person(core.store, "bob")
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    with pytest.raises(Refused, match="is not an e-mail address"):
        await core.groups.add(ann, lunch, parse_members(address))
    assert await core.store.get_person("t1", address) is None


async def test_counts_say_one_member_and_the_last_message(core: Core) -> None:
    await core.say("new solo: bob@x.com")
    await core.say("remove solo: bob@x.com")
    assert (await core.say("members solo")).text.startswith("solo has 1 member:")
    assert "- solo: 1 member" in (await core.say("groups")).text
    await core.say("hello", key="m1")
    assert (await core.say("history solo")).text.startswith("The last message in solo:")
