"""Renames and deletes told in the group's Outlook thread, below the conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest

from bot.core.membership.groups import Groups
from bot.core.membership.people import People
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import TeamsAccess
from bot.core.model import Channel, Group, Person, Source
from bot.core.ports import NoDirectory, RecordResult, SendOutcome, ThreadMail
from bot.core.sending.relay import SEND_ID, Relay
from bot.core.sending.thread import OutlookThread
from bot.core.texts import Language, Text
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    FakeOutlook,
    FakeQueue,
    FakeRoster,
    add_group,
    add_person,
    email,
    relay_over,
)
from tests.unit.fakes import FakeClock
from tests.unit.media_fakes import memory_media

DELETED = "Ann deleted Lunch; its messages are gone. Replies to this thread are no longer relayed."


@dataclass
class Rig:
    store: DocumentStore
    queue: FakeQueue
    outlook: FakeOutlook
    groups: Groups
    ann: Person
    bob: Person
    cy: Person


class NobodyTold:
    """`NewMembers` that tells nobody in Teams: these tests read the Outlook thread only."""

    def arrived(self, group: Group, people: Sequence[Person], added_by: Person) -> None:
        return None

    def announce(self, people: Sequence[Person], text: Text) -> None:
        return None


def groups_telling(
    store: DocumentStore, clock: FakeClock, relay: Relay, thread: OutlookThread
) -> Groups:
    """Groups that tell changes only in the Outlook thread (nobody in Teams)."""
    return Groups(
        store,
        People(store, NoDirectory(), FakeRoster()),
        clock,
        mail=MailPolicy(),
        access=TeamsAccess(),
        newcomers=NobodyTold(),
        media=memory_media(store),
        relay=relay,
        thread=thread,
        max_groups=100,
    )


@pytest.fixture
async def rig(store: DocumentStore, clock: FakeClock) -> Rig:
    queue, outlook = FakeQueue(), FakeOutlook()
    relay = relay_over(store, clock, queue, 500)
    groups = groups_telling(store, clock, relay, OutlookThread(store, outlook, memory_media(store)))
    ann = await add_person(store, "ann")
    bob = await add_person(store, "bob")
    cy = await add_person(store, "cy", outlook_on=False)
    return Rig(store, queue, outlook, groups, ann, bob, cy)


async def lunch(rig: Rig, thread: str = "<first@send.local>") -> Group:
    group = await add_group(rig.store, FakeClock(), "Lunch", rig.ann, rig.bob, rig.cy)
    return await rig.store.save_group(replace(group, outlook_thread=thread))


async def test_a_rename_is_a_message_from_send_to_the_outlook_thread_only(rig: Rig) -> None:
    group = await lunch(rig)
    await rig.groups.rename(rig.ann, group, "Dinner")
    (message,) = rig.queue.submitted
    assert message.source is Source.SEND and message.sender_id == SEND_ID
    assert message.sender_name == "Send"
    assert message.text == "Ann renamed Lunch to Dinner."
    # No Teams copies (members get the Teams notice); Cy's Outlook copy is off.
    assert [(d.channel, d.addresses) for d in message.deliveries] == [
        (Channel.OUTLOOK, (email("ann"), email("bob")))
    ]
    assert await rig.store.get_message(group.group_id, message.message_id) is not None
    history = await rig.groups.history_text(rig.bob, "Dinner")
    assert history.splitlines()[-1].endswith("Send: Ann renamed Lunch to Dinner.")


async def test_a_rename_is_worded_in_the_threads_language(rig: Rig) -> None:
    for person in (rig.ann, rig.bob):
        stored = await rig.store.get_person(person.tenant_id, person.person_id)
        assert stored is not None
        await rig.store.save_person(replace(stored, language=Language.FR))
    group = await lunch(rig)
    await rig.groups.rename(rig.ann, group, "Dinner")
    assert [m.text for m in rig.queue.submitted] == ["Ann a renommé Lunch en Dinner."]


async def test_a_rename_with_nobody_in_outlook_writes_no_message(rig: Rig) -> None:
    group = await add_group(rig.store, FakeClock(), "Lunch", rig.cy)
    await rig.groups.rename(rig.cy, group, "Dinner")
    assert rig.queue.submitted == []
    assert (await rig.groups.history_text(rig.cy, "Dinner")) == "No messages in Dinner yet."


async def test_a_delete_closes_the_thread_with_a_last_mail(rig: Rig) -> None:
    group = await lunch(rig)
    assert await rig.groups.delete(rig.ann, group) == "Deleted Lunch."
    assert await rig.store.get_group(group.tenant_id, group.group_id) is None
    (mail,) = rig.outlook.mails
    assert mail.closed and mail.thread_id == "<first@send.local>"
    assert mail.addresses == (email("ann"), email("bob"))
    assert [(s.sender_name, s.text) for s in mail.recent] == [("Send", DELETED)]


class BrokenOutlook:
    async def record(self, mail: ThreadMail) -> RecordResult:
        raise ConnectionError("the mail server went away")


@pytest.mark.parametrize("failure", ["retry", "refused", "raises"])
async def test_a_delete_succeeds_whatever_outlook_answers(
    rig: Rig, store: DocumentStore, clock: FakeClock, failure: str
) -> None:
    group = await lunch(rig)
    if failure == "raises":
        thread = OutlookThread(store, BrokenOutlook(), memory_media(store))
        groups = groups_telling(store, clock, relay_over(store, clock, FakeQueue()), thread)
    else:
        outcome = SendOutcome.RETRY if failure == "retry" else SendOutcome.REFUSED
        rig.outlook.answer(RecordResult(outcome, detail="503"))
        groups = rig.groups
    assert await groups.delete(rig.ann, group) == "Deleted Lunch."
    assert await store.get_group(group.tenant_id, group.group_id) is None
    assert await store.groups_of(rig.ann.tenant_id, rig.bob.person_id) == []


async def test_no_last_mail_for_a_thread_never_started_nor_when_the_last_member_leaves(
    rig: Rig, clock: FakeClock
) -> None:
    await rig.groups.delete(rig.ann, await lunch(rig, thread=""))
    alone = await add_group(rig.store, clock, "Solo", rig.ann)
    await rig.store.save_group(replace(alone, outlook_thread="<solo@send.local>"))
    await rig.groups.leave(rig.ann, "Solo")
    assert rig.outlook.mails == []
