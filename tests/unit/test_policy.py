"""Whom the service mailbox writes to: with Graph, only people of its own organisation."""

from __future__ import annotations

import pytest

from bot.core.errors import Refused
from bot.core.membership.addresses import parse_members
from bot.core.membership.policy import MailPolicy
from bot.core.model import OUTLOOK_THREAD, Channel
from bot.core.ports import DirectoryEntry
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import TENANT, add_group, add_person, build_core, email
from tests.unit.fakes import FakeClock


class OneTenantDirectory:
    """The Graph directory: it knows the people of one tenant only."""

    searchable = True

    def __init__(self, known: set[str], tenant: str = TENANT) -> None:
        self.known = known
        self.tenant = tenant
        self.lookups: list[str] = []

    def covers(self, tenant_id: str) -> bool:
        return tenant_id == self.tenant

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None:
        self.lookups.append(email)
        return DirectoryEntry(email, email.split("@")[0].title()) if email in self.known else None


def test_local_mail_writes_to_anyone_graph_mail_only_to_its_tenant() -> None:
    assert MailPolicy(None).mails_tenant("any")
    assert MailPolicy(TENANT).mails_tenant(TENANT)
    assert not MailPolicy(TENANT).mails_tenant("other")


async def test_a_group_of_another_organisation_gets_no_outlook_copy(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, mail_tenant="graph-tenant")
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    lunch = await add_group(store, clock, "lunch", ann, bob)
    message = await core.relay.from_teams(ann, lunch, "hi", "m1")
    assert message is not None
    assert [d.channel for d in message.deliveries] == [Channel.TEAMS]
    members = await core.groups.members_text(ann, "lunch")
    assert "Outlook" not in members and "Teams" in members
    with pytest.raises(Refused, match="mails only people of its own organisation"):
        await core.groups.outlook(ann, on=True)


async def test_the_mailbox_organisation_gets_its_outlook_copy(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock, mail_tenant=TENANT)
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    lunch = await add_group(store, clock, "lunch", ann, bob)
    message = await core.relay.from_teams(ann, lunch, "hi", "m1")
    assert message is not None
    outlook = [d for d in message.deliveries if d.recipient_id == OUTLOOK_THREAD]
    assert outlook and outlook[0].addresses == (email("ann"), email("bob"))


async def test_addresses_are_added_only_when_the_directory_knows_them(
    store: DocumentStore, clock: FakeClock
) -> None:
    directory = OneTenantDirectory({email("bob")})
    core = build_core(store, clock, mail_tenant=TENANT, directory=directory)
    ann = await add_person(store, "ann")
    with pytest.raises(
        Refused, match=r"stranger@evil\.example is not a person in your organisation"
    ):
        await core.groups.create(
            ann, "lunch", parse_members("bob@contoso.com stranger@evil.example")
        )
    assert await store.get_person(TENANT, "stranger@evil.example") is None
    assert await store.get_person(TENANT, email("bob")) is None  # refused: nobody written
    created = await core.groups.create(ann, "lunch", parse_members(email("bob")))
    assert set(created.group.member_ids) == {email("ann"), email("bob")}


async def test_another_organisation_cannot_add_people_by_address_in_graph_mode(
    store: DocumentStore, clock: FakeClock
) -> None:
    directory = OneTenantDirectory({"victim@anywhere.example"}, tenant="graph-tenant")
    core = build_core(store, clock, mail_tenant="graph-tenant", directory=directory)
    ann = await add_person(store, "ann")
    with pytest.raises(Refused, match="cannot be added by address"):
        await core.groups.create(ann, "spam", parse_members("victim@anywhere.example"))
    assert directory.lookups == []  # another organisation's people are never looked up
    assert await store.groups_of(TENANT, ann.person_id) == []
