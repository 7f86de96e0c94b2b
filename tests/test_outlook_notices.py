"""Renames and deletes told in the group's Outlook thread, in .eml and in Graph mode.

A rename is a line from Send added to the thread (a message of the group, retried like
any other); a delete closes the thread with a last mail that offers nothing to answer,
and the group is deleted whatever Outlook answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import OUTLOOK_SENDER, graph_settings, running_app
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphCall
from tests.outlook_helpers import card_in, card_texts, eml_files, eventually, html_of, read_eml
from tests.teams_world import TeamsWorld

CY = "cy@contoso.com"  # a member in Outlook only
RENAMED = "Ann renamed Lunch to Dinner."
DELETED = "Ann deleted Lunch; its messages are gone. Replies to this thread are no longer relayed."


@pytest.fixture
async def local(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, Path]]:
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path, public_base_url="https://send.example", outlook_sender=OUTLOOK_SENDER
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world, tmp_path


@pytest.fixture
async def mail_world(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[TeamsWorld]:
    fake, connector_url = connector
    for name in ("Ann", "Bob", "Cy"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(OUTLOOK_SENDER, "Send")
    async with (
        running_app(graph_settings(tmp_path, entra, graph)) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        yield world


async def lunch(world: TeamsWorld, *, french: bool = False) -> tuple[TeamsPerson, TeamsPerson]:
    """Ann (Teams) makes Lunch with Bob (Teams) and Cy (Outlook only), and writes once."""
    ann, bob = world.person("Ann"), world.person("Bob")
    if french:
        world.client(ann, "fr-FR", "Europe/Paris")
        world.client(bob, "fr-FR", "Europe/Paris")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, {CY}")
    await world.say(ann, "Pizza at 12?")
    await world.wait_relayed(bob, 1)
    return ann, bob


def plain_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None, "no plain part"
    return str(part.get_content())


async def mails(data: Path, address: str, count: int) -> list[EmailMessage]:
    await eventually(lambda: len(eml_files(data, address)) == count, f"{count} mails: {address}")
    return [read_eml(p) for p in eml_files(data, address)]


# .eml


async def test_a_rename_is_told_in_the_same_thread_and_later_mails_still_answer_it(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, bob = await lunch(world)
    await world.say(ann, "rename Lunch: Dinner")
    assert world.last_reply(ann) == "Renamed Lunch to Dinner."
    await world.say(bob, "Sure")
    for address in (ann.email, bob.email, CY):
        first, renamed, later = await mails(data, address, 3)
        # Each mail answers the one before it.
        assert renamed["In-Reply-To"] == renamed["References"] == first["Message-ID"]
        assert later["In-Reply-To"] == renamed["Message-ID"]
        assert later["References"] == f"{first['Message-ID']} {renamed['Message-ID']}"
        assert renamed["Subject"] == later["Subject"] == "RE: [Send] Dinner"
        assert "Send · " in plain_of(renamed) and RENAMED in plain_of(renamed)
        assert "Sure" in plain_of(later) and RENAMED in plain_of(later)  # in the card's list
    assert len(world.relayed(bob)) == 1  # Bob's Teams copy: the message only, not the rename
    assert world.replies(bob)[-1] == RENAMED  # the Teams notice
    await world.say(bob, "history Dinner")
    assert f"Send: {RENAMED}" in world.last_reply(bob)


async def test_a_french_group_reads_the_rename_in_french(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, _ = await lunch(world, french=True)
    await world.say(ann, "rename Lunch: Dinner")
    for address in (ann.email, CY):
        first, renamed = await mails(data, address, 2)
        assert renamed["In-Reply-To"] == first["Message-ID"]
        assert "Ann a renommé Lunch en Dinner." in plain_of(renamed)


async def test_a_delete_closes_the_thread_with_a_last_mail(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, bob = await lunch(world)
    await world.say(ann, "delete Lunch")
    assert world.last_reply(ann) == "Deleted Lunch."
    for address in (ann.email, bob.email, CY):
        first, last = await mails(data, address, 2)
        assert last["In-Reply-To"] == last["References"] == first["Message-ID"]
        assert DELETED in plain_of(last)
        assert "Pizza at 12?" not in plain_of(last)  # its messages are gone
        assert "Reply All" not in plain_of(last) and "Reply All" not in html_of(last)
        card = card_in(html_of(last))
        assert "actions" not in card
        assert not any(b.get("type") == "Input.Text" for b in card["body"])
        assert any(DELETED.split(";")[0] in t for t in card_texts(card))


async def test_a_delete_succeeds_when_the_mail_folder_cannot_be_written(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, bob = await lunch(world)
    await mails(data, CY, 1)
    # The mail directory becomes a file: no mailbox under it can be written.
    (data / "outlook").rename(data / "outlook-moved")
    (data / "outlook").write_text("not a directory")
    await world.say(ann, "delete Lunch")
    assert world.last_reply(ann) == "Deleted Lunch."
    await world.say(bob, "groups")
    assert world.last_reply(bob) == "You have no groups yet. Create one with new <name>: <members>."


# Graph


def replies_to(graph: FakeGraph, message_id: str) -> list[GraphCall]:
    path = f"/messages/{message_id}/createReply"  # as the fake saw it: decoded
    return [c for c in graph.calls if c.method == "POST" and c.path.split("?")[0].endswith(path)]


def newest_text(graph: FakeGraph, address: str) -> str:
    return card_texts(card_in(graph.mailbox(address)[-1]["body"]["content"]))[-1]


async def test_graph_a_rename_and_a_delete_reply_to_the_first_mail(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann, bob = await lunch(world)
    addresses = (ann.email, bob.email, CY)
    for address in addresses:
        await eventually(lambda a=address: len(graph.mailbox(a)) == 1, address)  # type: ignore[misc]
    (first,) = graph.sent(OUTLOOK_SENDER)
    await world.say(ann, "rename Lunch: Dinner")
    for address in addresses:
        await eventually(lambda a=address: len(graph.mailbox(a)) == 2, address)  # type: ignore[misc]
        assert newest_text(graph, address) == RENAMED.replace(".", "\\.")
        assert graph.mailbox(address)[-1]["subject"] == "RE: [Send] Dinner"
        assert len(graph.conversations(address)) == 1
    await world.say(ann, "delete Dinner")
    assert world.last_reply(ann) == "Deleted Dinner."
    for address in addresses:
        await eventually(lambda a=address: len(graph.mailbox(a)) == 3, address)  # type: ignore[misc]
        card = card_in(graph.mailbox(address)[-1]["body"]["content"])
        assert "Ann deleted Dinner" in card_texts(card)[-1] and "actions" not in card
        assert len(graph.conversations(address)) == 1
    # The rename answers the first mail, the delete answers the rename (a chain).
    renamed = graph.sent(OUTLOOK_SENDER)[1]
    assert len(replies_to(graph, str(first["id"]))) == 1
    assert len(replies_to(graph, str(renamed["id"]))) == 1


async def test_graph_a_delete_succeeds_when_graph_answers_503(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann, bob = await lunch(world)
    await eventually(lambda: len(graph.mailbox(CY)) == 1, "the first mail")
    graph.faults = lambda call: (503, {}) if call.method == "POST" else None
    await world.say(ann, "delete Lunch")
    assert world.last_reply(ann) == "Deleted Lunch."
    await world.connector.wait_for(
        lambda: world.replies(bob)[-1] == "Ann deleted Lunch; its messages are gone.",
        what="the Teams notice",
    )
    assert any(c.method == "POST" and c.status == 503 for c in graph.calls)  # it was tried
    assert len(graph.mailbox(CY)) == 1
    graph.faults = None
    await world.say(bob, "groups")
    assert world.last_reply(bob) == "You have no groups yet. Create one with new <name>: <members>."
