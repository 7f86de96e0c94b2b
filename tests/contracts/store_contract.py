"""The Store port's contract: people, groups, messages, de-duplication.

Not collected itself: tests/test_store_contract.py runs it on SQLite and Cosmos DB,
tests/unit/test_memory_store.py on MemoryDocuments. Each test takes the `store` fixture.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.membership.addresses import Mention
from bot.core.model import (
    OUTLOOK_THREAD,
    Channel,
    Delivery,
    DeliveryState,
    DraftStep,
    Group,
    MediaKind,
    Member,
    Mentioned,
    Message,
    MessageSummary,
    NewGroupDraft,
    Person,
    Source,
    StoredMedia,
    TeamsReach,
)
from bot.core.ports import ConcurrentUpdate
from bot.core.texts import Language
from bot.store.bodies import person_body
from bot.store.documents import Documents, safe_id
from bot.store.repository import DocumentStore

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def person(name: str, tenant: str = "t1", teams: bool = True) -> Person:
    email = f"{name}@contoso.com"
    reach = (
        TeamsReach(f"29:{name}", "https://smba.example/", "28:bot", f"a:{name}") if teams else None
    )
    return Person(tenant, email, name.title(), email=email, teams=reach)


def group(owner: Person, *others: Person, name: str = "Lunch") -> Group:
    members = tuple(Member(p.person_id, p.display_name, NOW) for p in (owner, *others))
    return Group(owner.tenant_id, f"g-{name.lower()}", name, owner.person_id, members, NOW)


async def test_person_round_trip_and_teams_alias(store: DocumentStore) -> None:
    saved = await store.save_person(person("ann"))
    assert saved.version
    assert await store.get_person("t1", "ann@contoso.com") == saved
    assert await store.person_for_teams_user("t1", "29:ann") == saved
    assert await store.person_for_teams_user("t2", "29:ann") is None
    assert await store.get_person("t2", "ann@contoso.com") is None


async def test_a_person_keeps_their_language_and_time_zone(
    store: DocumentStore, documents: Documents
) -> None:
    ann = replace(person("ann"), language=Language.FR, time_zone="Europe/Paris")
    saved = await store.save_person(ann)
    for finder in (store, DocumentStore(documents)):
        got = await finder.get_person("t1", ann.person_id)
        assert got is not None and (got.language, got.time_zone) == (Language.FR, "Europe/Paris")
    # Stored before languages were kept: English, time zone unknown.
    body = person_body(person("bob", teams=False))
    del body["language"], body["timeZone"]
    await documents.create("directory", "t1", safe_id("bob@contoso.com"), body)
    old = await store.get_person("t1", "bob@contoso.com")
    assert old is not None and (old.language, old.time_zone) == (Language.EN, "")
    assert saved.language is Language.FR


async def test_a_person_keeps_their_step_by_step_new_group(
    store: DocumentStore, documents: Documents
) -> None:
    cy = Mention("29:cy", "Cy", aad_object_id="oid-cy", service_url="https://smba.example/")
    draft = NewGroupDraft(DraftStep.CONFIRM, name="Lunch", members="bob@x.com,", mentions=(cy,))
    saved = await store.save_person(replace(person("ann"), new_group=draft))
    got = await DocumentStore(documents).get_person("t1", saved.person_id)
    assert got is not None and got.new_group == draft
    ended = await store.save_person(replace(got, new_group=None, new_group_ended_by="act-9"))
    got = await store.get_person("t1", saved.person_id)
    assert got == ended and (got.new_group, got.new_group_ended_by) == (None, "act-9")
    # Stored by versions whose dialog botbuilder kept: no draft, the flag left unread.
    body = person_body(person("bob"))
    body["inDialog"] = True
    del body["newGroup"], body["newGroupEndedBy"]
    await documents.create("directory", "t1", safe_id("bob@contoso.com"), body)
    old = await store.get_person("t1", "bob@contoso.com")
    assert old is not None and (old.new_group, old.new_group_ended_by) == (None, "")


async def test_person_updates_are_conditional(store: DocumentStore) -> None:
    saved = await store.save_person(person("ann"))
    await store.save_person(replace(saved, active_group_id="g1"))
    with pytest.raises(ConcurrentUpdate):
        await store.save_person(replace(saved, outlook_on=False))
    with pytest.raises(ConcurrentUpdate):
        await store.save_person(person("ann"))  # a second create
    current = await store.get_person("t1", "ann@contoso.com")
    assert current is not None and current.active_group_id == "g1" and current.outlook_on


async def test_get_people_returns_only_people_of_that_tenant(store: DocumentStore) -> None:
    for p in (person("ann"), person("bob"), person("cy", teams=False), person("dee", "t2")):
        await store.save_person(p)
    found = await store.get_people(
        "t1", ["ann@contoso.com", "cy@contoso.com", "dee@contoso.com", "nobody@x.y"]
    )
    assert {p.person_id for p in found} == {"ann@contoso.com", "cy@contoso.com"}
    assert await store.get_people("t1", []) == []


async def test_groups_of_a_person(store: DocumentStore) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    await store.save_group(group(bob, cy, name="Run"))
    assert [g.name for g in await store.groups_of("t1", "ann@contoso.com")] == ["Lunch"]
    assert {g.name for g in await store.groups_of("t1", "bob@contoso.com")} == {"Lunch", "Run"}
    assert await store.groups_of("t2", "bob@contoso.com") == []
    assert await store.get_group("t1", lunch.group_id) == lunch
    assert await store.get_group("t2", lunch.group_id) is None


async def test_group_changes_are_conditional_and_deletable(store: DocumentStore) -> None:
    saved = await store.save_group(group(person("ann"), person("bob")))
    renamed = await store.save_group(replace(saved, name="Dinner"))
    with pytest.raises(ConcurrentUpdate):
        await store.save_group(replace(saved, name="Breakfast"))
    assert renamed.name == "Dinner"
    await store.delete_group(renamed)
    assert await store.get_group("t1", saved.group_id) is None
    assert await store.groups_of("t1", "ann@contoso.com") == []


async def test_a_groups_history_keeps_edits_and_reactions(store: DocumentStore) -> None:
    at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    line = MessageSummary("m1", "ann", "Ann", "Pizza?", at, Source.TEAMS, True, (("👍", 2),))
    saved = await store.save_group(replace(group(person("ann")), recent=(line,)))
    found = await store.get_group("t1", saved.group_id)
    assert found is not None and found.recent == (line,)


async def test_a_group_holds_messages_until_they_are_filed(store: DocumentStore) -> None:
    """What a group holds comes back as it was accepted (its deliveries pending), and
    groups holding one whose claim ends before a moment are found in every tenant."""
    ann, bob = person("ann"), person("bob")
    claimed = NOW + timedelta(minutes=5)
    held = Message(
        "t1",
        "g1",
        "m1",
        ann.person_id,
        "Ann",
        "pizza?",
        NOW,
        Source.TEAMS,
        (
            Delivery(bob.person_id, Channel.TEAMS),
            Delivery(OUTLOOK_THREAD, Channel.OUTLOOK, addresses=(ann.email, bob.email)),
        ),
        claimed_by="instance-a",
        claimed_until=claimed,
    )
    saved = await store.save_group(replace(group(ann, bob), unfiled=(held,)))
    other = await store.save_group(group(person("cy", tenant="t2"), name="Other"))
    found = await store.get_group("t1", saved.group_id)
    assert found is not None and found.unfiled == (held,)
    assert await store.groups_with_unfiled(claimed) == []
    assert [
        g.group_id for g in await store.groups_with_unfiled(claimed + timedelta(seconds=1))
    ] == [saved.group_id]
    emptied = await store.save_group(replace(found, unfiled=()))
    assert emptied.unfiled == () and other.unfiled == ()
    assert await store.groups_with_unfiled(claimed + timedelta(days=1)) == []
    assert await store.get_message("g1", "m1") is None  # held is not filed


async def test_messages_with_deliveries(store: DocumentStore) -> None:
    message = Message(
        "t1",
        "g1",
        "m1",
        "ann@contoso.com",
        "Ann",
        "hi",
        NOW,
        Source.TEAMS,
        (
            Delivery("bob@contoso.com", Channel.TEAMS),
            Delivery("cy@contoso.com", Channel.TEAMS),
        ),
    )
    stored = await store.add_message(message)
    assert stored is not None and stored.pending
    assert await store.add_message(message) is None  # the same message id again
    assert [m.message_id for m in await store.pending_messages()] == ["m1"]

    done = tuple(
        Delivery(d.recipient_id, d.channel, DeliveryState.SENT, 1) for d in stored.deliveries
    )
    finished = await store.save_message(replace(stored, deliveries=done))
    assert not finished.pending
    assert await store.pending_messages() == []
    with pytest.raises(ConcurrentUpdate):
        await store.save_message(stored)
    again = await store.get_message("g1", "m1")
    assert again is not None and again.deliveries == done


async def test_remember_once(store: DocumentStore) -> None:
    keep = timedelta(hours=1)
    assert await store.remember_once("activity-1", NOW, keep) is True
    assert await store.remember_once("activity-1", NOW + timedelta(minutes=5), keep) is False
    assert await store.remember_once("activity-2", NOW, keep) is True
    # After it expires the key counts as new again.
    assert await store.remember_once("activity-1", NOW + timedelta(hours=2), keep) is True
    assert await store.remember_once("activity-1", NOW + timedelta(hours=2), keep) is False


async def test_expired_markers_are_purged(store: DocumentStore) -> None:
    await store.remember_once("old", NOW, timedelta(hours=1))
    await store.remember_once("fresh", NOW + timedelta(hours=2), timedelta(hours=1))
    assert await store.purge_expired_markers(NOW + timedelta(hours=2)) == 1
    assert await store.remember_once("old", NOW + timedelta(hours=2), timedelta(hours=1)) is True
    assert await store.remember_once("fresh", NOW + timedelta(hours=2), timedelta(hours=1)) is False


def message(group_id: str, message_id: str, sent_at: datetime, sender: str = "ann") -> Message:
    return Message(
        "t1",
        group_id,
        message_id,
        f"{sender}@contoso.com",
        sender.title(),
        f"text of {message_id}",
        sent_at,
        Source.TEAMS,
        (Delivery("bob@contoso.com", Channel.TEAMS, DeliveryState.SENT, 1),),
    )


async def test_a_message_keeps_its_photos_and_files(store: DocumentStore) -> None:
    photo = StoredMedia("a" * 32, "g1", "t1", "image/png", 1234, "photo.png", MediaKind.PHOTO, "0f")
    report = StoredMedia(
        "b" * 32, "g1", "t1", "application/pdf", 99_000, "Rapport été.pdf", MediaKind.FILE, "1e"
    )
    message = Message(
        "t1",
        "g1",
        "m-media",
        "ann@contoso.com",
        "Ann",
        "for Bob",
        NOW,
        Source.TEAMS,
        media=(photo, report),
        mentions=(Mentioned("bob-id", "Bob"),),
    )
    assert await store.add_message(message) is not None
    again = await store.get_message("g1", "m-media")
    assert again is not None
    assert again.media == (photo, report)
    assert again.mentions == (Mentioned("bob-id", "Bob"),)
    assert again.summary().text == "[photo] [Rapport été.pdf] for Bob"


async def test_messages_of_a_group_oldest_first(store: DocumentStore) -> None:
    for n, minutes in enumerate((30, 10, 20)):
        await store.add_message(message("g1", f"m{n}", NOW + timedelta(minutes=minutes)))
    await store.add_message(message("g2", "other", NOW))
    assert [m.message_id for m in await store.messages_of("g1")] == ["m1", "m2", "m0"]
    assert await store.messages_of("g3") == []


async def test_purging_old_messages_keeps_newer_ones_and_trims_history(
    store: DocumentStore,
) -> None:
    ann, bob = person("ann"), person("bob")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    run = await store.save_group(group(bob, ann, name="Run"))
    old = [message(lunch.group_id, f"old{n}", NOW - timedelta(days=400 + n)) for n in range(3)]
    new = message(lunch.group_id, "new", NOW - timedelta(days=10))
    edge = message(run.group_id, "edge", NOW - timedelta(days=365))  # exactly at the cutoff
    for m in (*old, new, edge):
        await store.add_message(m)
    await store.save_group(replace(lunch, recent=(old[0].summary(), new.summary())))

    assert await store.purge_messages_before(NOW - timedelta(days=365)) == 3
    assert [m.message_id for m in await store.messages_of(lunch.group_id)] == ["new"]
    assert [m.message_id for m in await store.messages_of(run.group_id)] == ["edge"]
    trimmed = await store.get_group("t1", lunch.group_id)
    assert trimmed is not None and [s.message_id for s in trimmed.recent] == ["new"]
    assert await store.purge_messages_before(NOW - timedelta(days=365)) == 0


async def test_deleting_a_group_deletes_its_messages(store: DocumentStore) -> None:
    lunch = await store.save_group(group(person("ann"), person("bob"), name="Lunch"))
    run = await store.save_group(group(person("bob"), person("cy"), name="Run"))
    for n in range(3):
        await store.add_message(message(lunch.group_id, f"m{n}", NOW))
    await store.add_message(message(run.group_id, "kept", NOW))
    await store.delete_group(lunch)
    assert await store.messages_of(lunch.group_id) == []
    assert await store.get_message(lunch.group_id, "m0") is None
    assert [m.message_id for m in await store.messages_of(run.group_id)] == ["kept"]


async def test_groups_of_a_tenant_and_found_by_id_or_name(store: DocumentStore) -> None:
    ann, bob = person("ann"), person("bob")
    lunch = await store.save_group(group(ann, bob, name="Lunch"))
    later = replace(group(bob, name="Run"), created_at=NOW + timedelta(hours=1))
    run = await store.save_group(later)
    elsewhere = await store.save_group(
        replace(group(person("dee", "t2"), name="LUNCH"), group_id="g-t2")
    )
    assert [g.name for g in await store.groups_in("t1")] == ["Lunch", "Run"]
    assert await store.groups_in("t3") == []
    assert await store.find_groups(run.group_id) == [run]
    assert await store.find_groups(run.group_id, "t2") == []
    assert {g.group_id for g in await store.find_groups(" lunch ")} == {
        lunch.group_id,
        elsewhere.group_id,
    }
    assert await store.find_groups("Lunch", "t2") == [elsewhere]
    assert await store.find_groups("Dinner") == []


async def test_people_by_id_in_every_tenant_and_deleted(store: DocumentStore) -> None:
    ann_t1 = await store.save_person(person("ann"))
    ann_t2 = await store.save_person(person("ann", "t2"))
    bob = await store.save_person(person("bob"))
    assert await store.people_with_id("ann@contoso.com") == [ann_t1, ann_t2]
    assert await store.people_with_id("nobody@contoso.com") == []

    assert await store.person_for_teams_user("t1", "29:ann") == ann_t1  # now in the cache
    await store.delete_person(ann_t1)
    assert await store.people_with_id("ann@contoso.com") == [ann_t2]
    assert await store.person_id_for_teams_user("t1", "29:ann") is None
    assert await store.person_for_teams_user("t2", "29:ann") == ann_t2
    assert await store.get_person("t1", "bob@contoso.com") == bob


# People met with an Entra object id are keyed by it (lower case); Teams and Graph may
# hand the object id over in any letter case.
ANN_OID = "7F3A2C10-5B1D-4E2A-9C3B-1A2B3C4D5E6F"
ANN_T2_OID = "0C9D8E7F-6A5B-4C3D-8E2F-1A0B9C8D7E6F"
NEW_OID = "5E6F7A8B-9C0D-4E1F-8A2B-3C4D5E6F7A8B"


def entra_person(
    name: str,
    oid: str,
    tenant: str = "t1",
    *,
    email: str = "",
    addresses: tuple[str, ...] = (),
    teams: bool = True,
) -> Person:
    """A person keyed by their object id, their address as `email`."""
    reach = (
        TeamsReach(f"29:{name}-{tenant}", "https://smba.example/", "28:bot", f"a:{name}")
        if teams
        else None
    )
    return Person(
        tenant,
        oid.lower(),
        name.title(),
        email=email or f"{name}@contoso.com",
        aad_object_id=oid,
        teams=reach,
        addresses=addresses,
    )


async def test_person_found_by_object_id_and_by_every_address(
    store: DocumentStore, documents: Documents
) -> None:
    ann = entra_person(
        "ann", ANN_OID, addresses=("Ann.Lee@Contoso.onmicrosoft.com", "smtp.ann@fabrikam.com")
    )
    saved = await store.save_person(ann)
    assert saved.person_id == ANN_OID.lower()
    # Another instance of the app (nothing in its memory) finds them the same way.
    for finder in (store, DocumentStore(documents)):
        for oid in (ANN_OID, ANN_OID.lower(), ANN_OID.upper()):
            assert await finder.person_for_object("t1", oid) == saved, oid
        for address in (
            "ann@contoso.com",  # primary
            "ANN@Contoso.COM",
            "smtp.ann@fabrikam.com",  # another address of theirs
            "SMTP.Ann@Fabrikam.com",
            "Ann.Lee@Contoso.onmicrosoft.com",  # UPN, as stored
            "ann.lee@contoso.onmicrosoft.com",
            "ANN.LEE@CONTOSO.ONMICROSOFT.COM",
        ):
            assert await finder.person_for_address("t1", address) == saved, address
        assert await finder.person_for_teams_user("t1", "29:ann-t1") == saved
        assert await finder.person_for_object("t2", ANN_OID) is None
        assert await finder.person_for_address("t2", "ann@contoso.com") is None
        assert await finder.person_for_object("t1", NEW_OID) is None
        assert await finder.person_for_address("t1", "nobody@contoso.com") is None
        assert await finder.person_for_object("t1", "") is None
        assert await finder.person_for_address("t1", "") is None


async def test_an_address_naming_someone_keeps_naming_them(
    store: DocumentStore, documents: Documents
) -> None:
    ann = await store.save_person(
        entra_person("ann", ANN_OID, addresses=("lunch.club@contoso.com",))
    )
    # Someone else claims Ann's primary address and her other one, plus one of their own.
    other = entra_person(
        "newcomer",
        NEW_OID,
        email="ann@contoso.com",
        addresses=("Lunch.Club@contoso.com", "newcomer@contoso.com"),
    )
    newcomer = await store.save_person(other)
    newcomer = await store.save_person(replace(newcomer, display_name="Newcomer Two"))
    for finder in (store, DocumentStore(documents)):
        for address in ("ann@contoso.com", "LUNCH.CLUB@contoso.com"):
            assert await finder.person_for_address("t1", address) == ann, address
        assert await finder.get_person("t1", NEW_OID.lower()) == newcomer
        assert await finder.person_for_object("t1", NEW_OID) == newcomer
        assert await finder.person_for_address("t1", "newcomer@contoso.com") == newcomer
        assert await finder.person_for_object("t1", ANN_OID) == ann
    # Both records with that address as theirs are found (`forget` erases both).
    found = await store.people_with_address("ann@contoso.com")
    assert {p.person_id for p in found} == {ann.person_id, newcomer.person_id}

    # Deleting the newcomer leaves Ann's names to her.
    await store.delete_person(newcomer)
    assert await store.person_for_address("t1", "ann@contoso.com") == ann
    assert await store.person_for_address("t1", "lunch.club@contoso.com") == ann
    assert await store.person_for_address("t1", "newcomer@contoso.com") is None
    assert await store.person_for_object("t1", ANN_OID) == ann


async def test_people_with_an_address_in_every_tenant_whatever_their_id(
    store: DocumentStore, documents: Documents
) -> None:
    in_t1 = await store.save_person(entra_person("ann", ANN_OID))  # address as `email`
    in_t2 = await store.save_person(  # address among `addresses`
        entra_person(
            "ann", ANN_T2_OID, "t2", email="ann.lee@fabrikam.com", addresses=("Ann@Contoso.com",)
        )
    )
    in_t3 = await store.save_person(person("ann", "t3"))  # keyed by the address
    # Keyed by the address and stored before aliases existed: no alias names them.
    legacy = person("ann", "t4", teams=False)
    await documents.create("directory", "t4", safe_id(legacy.person_id), person_body(legacy))
    in_t4 = await store.get_person("t4", legacy.person_id)
    assert in_t4 is not None
    await store.save_person(person("bob"))
    await store.save_person(entra_person("cy", NEW_OID, "t2"))

    for address in ("ann@contoso.com", "ANN@CONTOSO.COM"):
        assert await store.people_with_address(address) == [in_t1, in_t2, in_t3, in_t4]
        assert await DocumentStore(documents).people_with_address(address) == [
            in_t1,
            in_t2,
            in_t3,
            in_t4,
        ]
    assert await store.people_with_address("ann.lee@fabrikam.com") == [in_t2]
    assert await store.people_with_address("nobody@contoso.com") == []
    # The legacy one is found by its address in its tenant too.
    assert await store.person_for_address("t4", "Ann@Contoso.com") == in_t4


async def test_deleting_a_person_leaves_no_alias(
    store: DocumentStore, documents: Documents
) -> None:
    ann = await store.save_person(
        entra_person("ann", ANN_OID, addresses=("ann.lee@contoso.onmicrosoft.com",))
    )
    bob = await store.save_person(person("bob"))
    names = ("ann@contoso.com", "ann.lee@contoso.onmicrosoft.com")
    for address in names:  # now in this instance's memory
        assert await store.person_for_address("t1", address) == ann
    assert await store.person_for_object("t1", ANN_OID) == ann

    await store.delete_person(ann)

    for finder in (store, DocumentStore(documents)):
        assert await finder.person_for_object("t1", ANN_OID) is None
        assert await finder.person_for_object("t1", ANN_OID.lower()) is None
        for address in names:
            assert await finder.person_for_address("t1", address) is None, address
        assert await finder.person_id_for_teams_user("t1", "29:ann-t1") is None
        assert await finder.people_with_address("ann@contoso.com") == []
        assert await finder.person_for_address("t1", "bob@contoso.com") == bob
    left = await documents.query("directory", "t1", [])
    assert [d for d in left if d.body.get("personId") == ann.person_id] == [], left
    assert {d.body.get("personId") for d in left} == {bob.person_id}

    # Her addresses are free again: someone new who has them is found by them.
    newcomer = await store.save_person(entra_person("ann", NEW_OID, addresses=names[1:]))
    for finder in (store, DocumentStore(documents)):
        for address in names:
            assert await finder.person_for_address("t1", address) == newcomer, address
        assert await finder.person_for_object("t1", NEW_OID) == newcomer


async def test_person_round_trip_of_addresses_and_teams_unavailability(
    store: DocumentStore, documents: Documents
) -> None:
    retry_at = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    ann = replace(
        entra_person(
            "ann", ANN_OID, addresses=("Ann.Lee@Contoso.onmicrosoft.com", "a@fabrikam.com")
        ),
        teams_unavailable="installation refused",
        teams_retry_at=retry_at,
    )
    saved = await store.save_person(ann)
    assert saved == replace(ann, version=saved.version)
    for finder in (store, DocumentStore(documents)):
        got = await finder.get_person("t1", ann.person_id)
        assert got == saved
        assert got.addresses == ("Ann.Lee@Contoso.onmicrosoft.com", "a@fabrikam.com")
        assert got.teams_unavailable == "installation refused"
        assert got.teams_retry_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
        assert got.teams_retry_at.utcoffset() == timedelta(0)
        assert got.known_addresses == {
            "ann@contoso.com",
            "ann.lee@contoso.onmicrosoft.com",
            "a@fabrikam.com",
        }
        assert await finder.get_people("t1", [ann.person_id]) == [saved]
        assert await finder.person_for_teams_user("t1", "29:ann-t1") == saved

    cleared = await store.save_person(
        replace(saved, addresses=(), teams_unavailable="", teams_retry_at=None)
    )
    again = await store.get_person("t1", ann.person_id)
    assert again == cleared
    assert (again.addresses, again.teams_unavailable, again.teams_retry_at) == ((), "", None)


async def test_a_person_deleted_elsewhere_and_stored_again_gets_their_aliases(
    store: DocumentStore, documents: Documents
) -> None:
    ann = entra_person("ann", ANN_OID, addresses=("ann.lee@contoso.onmicrosoft.com",))
    await store.save_person(ann)
    assert await store.person_for_teams_user("t1", "29:ann-t1") is not None
    # `forget` in another process, then Ann writes to the bot again.
    admin = DocumentStore(documents)
    stored = await admin.get_person("t1", ann.person_id)
    assert stored is not None
    await admin.delete_person(stored)
    again = await store.save_person(ann)

    restarted = DocumentStore(documents)
    assert await restarted.person_for_teams_user("t1", "29:ann-t1") == again
    assert await restarted.person_for_object("t1", ANN_OID) == again
    assert await restarted.person_for_address("t1", "ann.lee@contoso.onmicrosoft.com") == again


async def test_another_instances_changes_are_read_as_changed(
    store: DocumentStore, documents: Documents
) -> None:
    """Each store keeps what it decoded by version: what another instance (another
    DocumentStore over the same documents) writes is read as written, never as kept."""
    other = DocumentStore(documents)
    ann, bob = await store.save_person(person("ann")), await store.save_person(person("bob"))
    lunch = await store.save_group(group(ann, bob))
    message = await store.add_message(
        Message("t1", lunch.group_id, "m1", ann.person_id, "Ann", "hi", NOW, Source.TEAMS)
    )
    assert message is not None
    # Read (and kept) here, then changed there.
    people, found = await store.get_people_and_group("t1", ["ann@contoso.com"], lunch.group_id)
    assert people == [ann] and found == lunch
    assert await store.get_message(lunch.group_id, "m1") == message
    renamed = await other.save_group(replace(lunch, name="Dinner"))
    french = await other.save_person(replace(ann, language=Language.FR))
    edited = await other.save_message(replace(message, text="hello"))
    people, found = await store.get_people_and_group("t1", ["ann@contoso.com"], lunch.group_id)
    assert people == [french] and found == renamed and found.name == "Dinner"
    assert await store.get_person("t1", "ann@contoso.com") == french
    assert await store.get_message(lunch.group_id, "m1") == edited
    assert [g.name for g in await store.groups_of("t1", bob.person_id)] == ["Dinner"]
    # And a change made here is what the other reads.
    await store.save_group(replace(renamed, name="Brunch"))
    assert [g.name for g in await other.groups_of("t1", bob.person_id)] == ["Brunch"]
