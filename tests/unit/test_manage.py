"""A group managed from Outlook makes the changes of the Teams commands, by their rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.errors import Refused
from bot.core.features.manage import Manage, manage
from bot.core.membership.addresses import parse_members
from bot.core.model import Group, Person
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import TENANT, Core, add_person, build_core
from tests.unit.fakes import FakeClock


@pytest.fixture
def core(store: DocumentStore, clock: FakeClock) -> Core:
    return build_core(store, clock)


async def _lunch(core: Core) -> tuple[Person, Group]:
    ann = await add_person(core.store, "ann")
    bob = await add_person(core.store, "bob")
    created = await core.groups.create(ann, "Lunch", parse_members(bob.email))
    return bob, created.group


async def test_outlook_copies_stay_on_for_someone_without_teams(core: Core) -> None:
    bob, group = await _lunch(core)
    outlook_only = replace(bob, teams=None)
    with pytest.raises(Refused, match="Your Outlook copies stay on"):
        await manage(core.groups, outlook_only, group, Manage.OUTLOOK_OFF)
    stored = await core.store.get_person(TENANT, bob.person_id)
    assert stored is not None and stored.outlook_on


async def test_each_change_is_what_the_teams_command_does(core: Core) -> None:
    bob, group = await _lunch(core)
    said = await manage(core.groups, bob, group, Manage.MUTE)
    assert "Lunch" in said
    stored = await core.store.get_group(TENANT, group.group_id)
    assert stored is not None
    member = stored.member(bob.person_id)
    assert member is not None and member.muted
    await manage(core.groups, bob, stored, Manage.UNMUTE)
    stored = await core.store.get_group(TENANT, group.group_id)
    member = stored.member(bob.person_id) if stored else None
    assert stored is not None and member is not None and not member.muted
    await manage(core.groups, bob, stored, Manage.OUTLOOK_OFF)
    after = await core.store.get_person(TENANT, bob.person_id)
    assert after is not None and not after.outlook_on
    await manage(core.groups, after, stored, Manage.LEAVE)
    left = await core.store.get_group(TENANT, group.group_id)
    assert (
        left is not None and not left.has_member(bob.person_id) and left.has_member(group.owner_id)
    )
    with pytest.raises(Refused):
        await manage(core.groups, after, left, Manage.MUTE)  # not a member any more
