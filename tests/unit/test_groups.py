"""Group rules: at most 20 members, valid and unique names, leaving, muting, Outlook copies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import Refused
from bot.core.membership.addresses import parse_members
from bot.core.membership.groups import check_name
from bot.core.model import MAX_GROUP_NAME, MAX_MEMBERS, Group, Member
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import TENANT, Core, add_group, add_person, build_core, email
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


def addresses(count: int) -> str:
    return ", ".join(f"colleague{n}@x.com" for n in range(count))


# how many members


async def test_a_group_of_20_including_the_owner_is_created(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    created = await core.groups.create(ann, "all hands", parse_members(addresses(MAX_MEMBERS - 1)))
    assert len(created.group.members) == MAX_MEMBERS


async def test_a_new_group_of_21_is_refused_and_nothing_is_created(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    with pytest.raises(Refused, match="at most 20 members"):
        await core.groups.create(ann, "all hands", parse_members(addresses(MAX_MEMBERS)))
    assert await core.groups.of(ann) == []


async def test_the_21st_member_is_refused_and_the_group_is_unchanged(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    full = (await core.groups.create(ann, "all hands", parse_members(addresses(19)))).group
    with pytest.raises(Refused, match="limit of 20"):
        await core.groups.add(ann, full, parse_members("one.more@x.com"))
    assert await core.store.get_group(TENANT, full.group_id) == full


async def test_a_refused_add_writes_no_new_person(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    full = (await core.groups.create(ann, "all hands", parse_members(addresses(19)))).group
    with pytest.raises(Refused):
        await core.groups.add(ann, full, parse_members("one.more@x.com"))
    assert await core.store.get_person(TENANT, "one.more@x.com") is None


# names


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * (MAX_GROUP_NAME + 1), "lunch: friday", "a:b"], ids=repr
)
def test_a_name_that_is_empty_too_long_or_has_a_colon_is_refused(name: str) -> None:
    with pytest.raises(Refused):
        check_name(name)


def test_a_name_of_60_characters_is_kept_with_its_blanks_tidied() -> None:
    assert check_name("x" * MAX_GROUP_NAME) == "x" * MAX_GROUP_NAME
    assert check_name("  Book    club ") == "Book club"


async def test_a_refused_name_creates_no_group(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    with pytest.raises(Refused, match="':'"):
        await core.groups.create(ann, "lunch: friday", parse_members(email("bob")))
    assert await core.groups.of(ann) == []


async def test_a_name_the_owner_already_has_is_refused_in_any_case(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    await core.groups.create(ann, "Lunch", parse_members(email("bob")))
    with pytest.raises(Refused, match="You already have a group named Lunch"):
        await core.groups.create(ann, "LUNCH", parse_members(email("cy")))
    assert [g.name for g in await core.groups.of(ann)] == ["Lunch"]


async def test_a_name_a_new_member_already_has_is_refused(core: Core) -> None:
    ann, bob, cy = [await add_person(core.store, n) for n in ("ann", "bob", "cy")]
    await add_group(core.store, core.clock, "Lunch", bob, cy)
    with pytest.raises(Refused, match="in a group of that name; choose another name"):
        await core.groups.create(ann, "lunch", parse_members(email("bob")))
    assert await core.groups.of(ann) == []


async def test_the_refusal_names_the_member_who_has_the_name(core: Core) -> None:
    ann, bob, cy = [await add_person(core.store, n) for n in ("ann", "bob", "cy")]
    await add_group(core.store, core.clock, "Lunch", bob, cy)
    with pytest.raises(Refused, match="Bob is already in a group of that name"):
        await core.groups.create(ann, "lunch", parse_members(email("bob")))


async def test_the_same_name_is_fine_for_people_who_share_no_group(core: Core) -> None:
    ann, bob, cy, dan = [await add_person(core.store, n) for n in ("ann", "bob", "cy", "dan")]
    await add_group(core.store, core.clock, "lunch", bob, cy)
    created = await core.groups.create(ann, "Lunch", parse_members(email("dan")))
    assert created.group.name == "Lunch" and set(created.group.member_ids) == {
        ann.person_id,
        dan.person_id,
    }


async def test_rename_to_a_name_a_member_uses_is_refused(core: Core) -> None:
    ann, bob, cy = [await add_person(core.store, n) for n in ("ann", "bob", "cy")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    await add_group(core.store, core.clock, "book club", bob, cy)
    with pytest.raises(Refused, match="Bob is already in a group of that name"):
        await core.groups.rename(ann, lunch, "Book Club")
    assert await core.store.get_group(TENANT, lunch.group_id) == lunch


async def test_a_group_may_be_renamed_to_its_own_name_in_another_case(core: Core) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob)
    await core.groups.rename(ann, lunch, "Lunch")
    renamed = await core.store.get_group(TENANT, lunch.group_id)
    assert renamed is not None and renamed.name == "Lunch"


# leaving


async def test_an_owner_who_leaves_hands_the_group_to_the_oldest_member(core: Core) -> None:
    ann, bob, cy, dan = [await add_person(core.store, n) for n in ("ann", "bob", "cy", "dan")]
    start = core.clock.now()
    # Listed out of joining order: bob, the oldest after ann, is neither first nor last.
    group = await add_group(core.store, core.clock, "lunch", ann)
    group = await core.store.save_group(
        replace(
            group,
            members=(
                Member(ann.person_id, "Ann", start),
                Member(cy.person_id, "Cy", start + timedelta(days=2)),
                Member(bob.person_id, "Bob", start + timedelta(days=1)),
                Member(dan.person_id, "Dan", start + timedelta(days=3)),
            ),
        )
    )
    answer = await core.groups.leave(ann, "lunch")
    left = await core.store.get_group(TENANT, group.group_id)
    assert left is not None and left.owner_id == bob.person_id
    assert set(left.member_ids) == {bob.person_id, cy.person_id, dan.person_id}
    assert "Bob owns it now" in answer


async def test_a_member_who_leaves_leaves_the_owner_in_place(core: Core) -> None:
    ann, bob, cy = [await add_person(core.store, n) for n in ("ann", "bob", "cy")]
    group = await add_group(core.store, core.clock, "lunch", ann, bob, cy)
    await core.groups.leave(bob, "lunch")
    left = await core.store.get_group(TENANT, group.group_id)
    assert left is not None and left.owner_id == ann.person_id
    assert set(left.member_ids) == {ann.person_id, cy.person_id}


async def test_the_last_member_leaving_deletes_the_group(core: Core) -> None:
    ann = await add_person(core.store, "ann")
    created = await core.groups.create_with(ann, "just me", [ann])
    ann = await core.person("ann")
    assert ann.active_group_id == created.group.group_id
    await core.groups.leave(ann, "just me")
    assert await core.store.get_group(TENANT, created.group.group_id) is None
    assert (await core.person("ann")).active_group_id == ""


# muting and Outlook copies


async def test_mute_and_unmute_change_only_the_members_own_setting(core: Core) -> None:
    ann, bob = [await add_person(core.store, n) for n in ("ann", "bob")]
    group = await add_group(core.store, core.clock, "lunch", ann, bob)

    async def muted() -> dict[str, bool]:
        stored = await core.store.get_group(TENANT, group.group_id)
        assert stored is not None
        return {m.person_id: m.muted for m in stored.members}

    await core.groups.mute(bob, "lunch", True)
    assert await muted() == {ann.person_id: False, bob.person_id: True}
    await core.groups.mute(bob, "lunch", False)
    assert await muted() == {ann.person_id: False, bob.person_id: False}


async def test_outlook_on_needs_an_email_address(core: Core) -> None:
    nobody = await add_person(core.store, "ann", with_email=False, outlook_on=False)
    with pytest.raises(Refused, match="e-mail address"):
        await core.groups.outlook(nobody, on=True)
    stored = await core.store.get_person(TENANT, nobody.person_id)
    assert stored is not None and not stored.outlook_on


async def test_outlook_off_and_on_switch_a_persons_copies(core: Core) -> None:
    bob = await add_person(core.store, "bob")
    await core.groups.outlook(bob, on=False)
    assert not (await core.person("bob")).outlook_on
    await core.groups.outlook(bob, on=True)
    assert (await core.person("bob")).outlook_on


async def test_a_person_without_email_may_still_turn_outlook_off(core: Core) -> None:
    nobody = await add_person(core.store, "ann", with_email=False)
    await core.groups.outlook(nobody, on=False)
    stored = await core.store.get_person(TENANT, nobody.person_id)
    assert stored is not None and not stored.outlook_on


async def test_a_name_that_looks_like_one_of_your_groups_is_refused(core: Core) -> None:
    """ "lunсh" with a Cyrillic с looks exactly like "lunch": a person would post to one
    believing it the other."""
    await core.say("new lunch: bob@x.com")
    answer = await core.say("new lun\u0441h: cy@x.com")
    assert answer.text == (
        "That name looks just like your group lunch; choose one that looks different."
    )
    for look_alike in ("LUNCH", "ｌｕｎｃｈ"):  # the same name to Send, as before
        assert (
            "already have a group named lunch"
            in (await core.say(f"new {look_alike}: cy@x.com")).text
        )
    assert (await core.say("new lunch 2: cy@x.com")).text.startswith("Created lunch 2")
    assert len(await core.store.groups_of("t1", email("ann"))) == 2


# looking a member up


def test_a_member_is_found_by_id_and_a_changed_group_answers_for_its_own_members() -> None:
    joined = datetime(2026, 12, 7, tzinfo=UTC)
    ann, bob = Member("ann", "Ann", joined), Member("bob", "Bob", joined)
    group = Group(TENANT, "g1", "Lunch", "ann", (ann, bob), joined)
    assert group.member("bob") == bob and group.member("cy") is None
    assert group.has_member("ann") and not group.has_member("cy")
    muted = replace(group, members=(ann, replace(bob, muted=True)))
    assert muted.member("bob") == replace(bob, muted=True)  # not the first version's
    assert group.member("bob") == bob
    gone = group.without("bob")
    assert gone.member("bob") is None and gone.member("ann") == ann
    twice = replace(group, members=(bob, replace(bob, display_name="Robert")))
    assert twice.member("bob") == bob  # the first of two entries, as before
