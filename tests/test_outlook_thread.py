"""The complete thread: a mail written into a group's Outlook conversation reaches every
member, in Teams and in Outlook, exactly once, whoever its author addressed.

Graph mode against the fakes: the app subscribes to the service mailbox's Inbox, reads
mail by delta query, and mails Outlook copies as `reply`s to the thread's first mail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.core.model import Channel
from bot.outlook.graph import MARKER_PROPERTY
from bot.store.memory_documents import MemoryDocuments
from bot.store.repository import DocumentStore
from bot.web.app import create_app
from tests.conftest import FAST_TUNING, OUTLOOK_SENDER, graph_settings, serve
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphCall, Json, lose_answer
from tests.outlook_helpers import card_in, card_texts, eventually
from tests.services import free_port
from tests.teams_world import TeamsWorld, card_text
from tests.unit.core_fakes import add_group, add_person, build_core, email, stop_cores
from tests.unit.fakes import FakeClock

SENDER = OUTLOOK_SENDER
CY, DEE = "cy@contoso.com", "dee@contoso.com"  # members in Outlook only


@dataclass
class Scene:
    world: TeamsWorld
    graph: FakeGraph


@asynccontextmanager
async def graph_mode(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, web.Application]]:
    """The app in Graph mode against the fakes, Ann, Bob, Cy and Dee in the directory, its
    Inbox subscription made."""
    fake, connector_url = connector
    for name in ("Ann", "Bob", "Cy", "Dee"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(SENDER, "Send")
    port = free_port()
    # Graph's notifications come back to this app's own port.
    settings = replace(
        graph_settings(tmp_path, entra, graph, port), public_base_url=f"http://127.0.0.1:{port}"
    )
    app = create_app(settings, tuning=FAST_TUNING)
    async with serve(app, port) as url, TeamsWorld(url, fake, connector_url) as world:
        await eventually(lambda: len(graph.subscriptions) == 1, "the Graph subscription")
        yield world, app


@pytest.fixture
async def scene(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Scene]:
    async with graph_mode(tmp_path, entra, graph, connector) as (world, _):
        yield Scene(world, graph)


def address(recipient: Json) -> str:
    return str(recipient["emailAddress"]["address"]).lower()


def texts(graph: FakeGraph, mailbox: str) -> list[str]:
    """What each mail in an inbox says: the card's last line for Send's mail (the newest
    message), the part its author wrote for anyone else's."""
    out = []
    for mail in graph.mailbox(mailbox):
        if address(mail["from"]) == SENDER:
            out.append(card_texts(card_in(mail["body"]["content"]))[-1])
        else:
            written = graph.public(mail, "uniqueBody")["uniqueBody"]["content"]
            out.append(f"{address(mail['from'])}: {written}")
    return out


def checked_sent_items(graph: FakeGraph) -> bool:
    return any(
        c.method == "GET" and "/mailFolders/sentitems/messages" in c.path and c.status == 200
        for c in graph.calls
    )


def replies_performed(graph: FakeGraph) -> list[GraphCall]:
    """The sends Graph performed after the first mail's (each later mail is a draft made
    by createReply, then its send)."""
    return [
        c
        for c in graph.calls
        if c.method == "POST" and c.path.endswith("/send") and c.performed == 202
    ][1:]


async def mails_in(graph: FakeGraph, mailbox: str, count: int) -> None:
    await eventually(lambda: len(graph.mailbox(mailbox)) == count, f"{count} mails in {mailbox}")


async def start_lunch(scene: Scene) -> None:
    """Ann (Teams) makes Lunch with Bob (Teams), Cy and Dee (Outlook only), and writes."""
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, {CY}, {DEE}")
    await world.say(ann, "Pizza at 12?")
    for mailbox in (ann.email, bob.email, CY, DEE):
        await mails_in(graph, mailbox, 1)


async def everyone_has(scene: Scene, text: str) -> None:
    """Waits until the newest mail in every member's inbox says `text`."""
    ann, bob = scene.world.person("Ann"), scene.world.person("Bob")
    for mailbox in (ann.email, bob.email, CY, DEE):
        await newest_is(scene.graph, mailbox, text)


async def newest_is(graph: FakeGraph, mailbox: str, text: str) -> None:
    await eventually(lambda: texts(graph, mailbox)[-1:] == [text], f"{text!r} in {mailbox}")


@pytest.mark.parametrize("lost", [None, "reset", "504"])
async def test_a_plain_reply_reaches_the_others_in_outlook_and_teams_once(
    scene: Scene, lost: str | None
) -> None:
    """Cy clicks Reply, not Reply All: only Send's mailbox gets it. Ann and Bob get it in
    Teams; Ann, Bob and Dee get it in the thread from Send; Cy, who wrote it, does not.
    With `lost`, the answer to Send's `reply` is lost although the mail went out."""
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    if lost is not None:
        graph.lose_answers = lose_answer(1, path_ends="/send", how=lost)
    written = await graph.user_reply(CY, graph.mailbox(CY)[0]["id"], "<p>Count me in</p>")
    assert [address(r) for r in written["toRecipients"] + written["ccRecipients"]] == [SENDER]

    await world.wait_relayed(ann, 1)
    await world.wait_relayed(bob, 2)
    for mailbox in (ann.email, bob.email, DEE):
        await mails_in(graph, mailbox, 2)
    if lost is not None:
        # The delivery tries again: it checks Send's Sent Items (or, wrongly, sends again).
        await eventually(
            lambda: checked_sent_items(graph) or len(replies_performed(graph)) > 1, "the retry"
        )
    # Later mail of the thread follows (one mail of a group at a time): nothing came between.
    await world.say(ann, "See you there")
    await everyone_has(scene, "See you there")
    # Bob's Teams copy of it goes on its own: its mail can come first.
    await world.wait_relayed(bob, 3)

    for mailbox in (ann.email, bob.email, DEE):
        assert texts(graph, mailbox) == ["Pizza at 12?", "Count me in", "See you there"]
    assert texts(graph, CY) == ["Pizza at 12?", "See you there"]  # Cy has it: he wrote it
    assert [c.lost for c in replies_performed(graph)] == [lost or "", ""]
    # In Teams: Cy's reply once to each, named as his.
    assert card_text(world.relayed(ann)[0]).startswith("Cy ")
    assert len(world.relayed(ann)) == 1 and len(world.relayed(bob)) == 3
    assert "Count me in" in card_text(world.relayed(bob)[1])
    # One conversation in every mailbox, Cy's own reply included.
    for mailbox in (ann.email, bob.email, CY, DEE, SENDER):
        assert len(graph.conversations(mailbox)) == 1, mailbox
    # Send's copy went from its mailbox to those Cy's mail did not reach.
    copy_sent = graph.sent(SENDER)[1]
    assert sorted(address(r) for r in copy_sent["toRecipients"]) == sorted(
        [ann.email, bob.email, DEE]
    )
    assert set(graph.extended(copy_sent)) == {MARKER_PROPERTY}
    # The app asked the delta query for the recipients it decides by.
    first_delta = next(c for c in graph.calls if "/messages/delta?$select=" in c.path)
    assert "toRecipients" in first_delta.path and "ccRecipients" in first_delta.path


async def test_a_reply_with_a_cc_is_mailed_only_to_whom_it_missed(scene: Scene) -> None:
    """Cy replies to Send and puts Dee in Cc by hand: Dee has Cy's own mail, so Send's copy
    goes to Ann and Bob only."""
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    await graph.user_reply(CY, graph.mailbox(CY)[0]["id"], "<p>Dee, you too?</p>", cc=[DEE])
    await world.wait_relayed(ann, 1)
    await world.say(ann, "See you there")
    await everyone_has(scene, "See you there")

    for mailbox in (ann.email, bob.email):
        assert texts(graph, mailbox) == ["Pizza at 12?", "Dee, you too?", "See you there"]
    assert texts(graph, DEE) == ["Pizza at 12?", f"{CY}: <p>Dee, you too?</p>", "See you there"]
    assert texts(graph, CY) == ["Pizza at 12?", "See you there"]
    assert sorted(address(r) for r in graph.sent(SENDER)[1]["toRecipients"]) == sorted(
        [ann.email, bob.email]
    )


async def test_a_reply_all_gets_no_copy_from_send(scene: Scene) -> None:
    """Dee's Reply All reached every member: Teams copies only, no mail from Send."""
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    await graph.user_reply_all(DEE, graph.mailbox(DEE)[0]["id"], "<p>Yes</p>")
    await world.wait_relayed(ann, 1)
    await world.wait_relayed(bob, 2)
    await world.say(ann, "See you there")
    await everyone_has(scene, "See you there")

    assert len(graph.sent(SENDER)) == 2  # the first mail and "See you there"
    assert texts(graph, CY) == ["Pizza at 12?", f"{DEE}: <p>Yes</p>", "See you there"]
    assert texts(graph, ann.email) == ["Pizza at 12?", f"{DEE}: <p>Yes</p>", "See you there"]


async def test_a_delta_link_saved_before_recipients_were_selected_still_decides_right(
    scene: Scene,
) -> None:
    """A delta link keeps the `$select` it was made with: one saved by an earlier version
    returns no recipients, so they are read from the mail itself."""
    world, graph = scene.world, scene.graph
    ann = world.person("Ann")
    await start_lunch(scene)
    earlier = "id,conversationId,from,sender,isDraft,internetMessageId,uniqueBody,body,subject"
    for state in graph._delta_tokens.values():
        state.select = earlier
    await graph.user_reply(CY, graph.mailbox(CY)[0]["id"], "<p>Count me in</p>")
    await graph.user_reply_all(DEE, graph.mailbox(DEE)[0]["id"], "<p>Yes</p>")
    await world.wait_relayed(ann, 2)
    await world.say(ann, "See you there")
    await everyone_has(scene, "See you there")

    assert texts(graph, DEE) == ["Pizza at 12?", "Count me in", "See you there"]
    assert texts(graph, CY) == ["Pizza at 12?", f"{DEE}: <p>Yes</p>", "See you there"]
    assert len(graph.sent(SENDER)) == 3  # the first mail, Cy's copy, "See you there"
    reads = [c for c in graph.calls if c.path.endswith("?$select=toRecipients,ccRecipients")]
    assert len(reads) == 2


# The decision itself is the core's: Relay.post(already_mailed=...).


@pytest.mark.parametrize(
    ("reached", "mailed"),
    [
        ((), ("ann", "bob", "cy")),  # a message written in Teams
        (("cy",), ("ann", "bob")),  # a plain Reply by Cy: only Send's mailbox got it
        (("cy", "ANN"), ("bob",)),  # addresses compare in any case
        (("cy", "ann", "bob"), ()),  # a Reply All: no Outlook copy
    ],
)
async def test_the_outlook_copy_goes_to_whom_the_mail_did_not_reach(
    reached: tuple[str, ...], mailed: tuple[str, ...]
) -> None:
    core = build_core(DocumentStore(MemoryDocuments()), FakeClock())
    ann, bob, cy = [await add_person(core.store, n) for n in ("ann", "bob", "cy")]
    lunch = await add_group(core.store, core.clock, "lunch", ann, bob, cy)
    already = frozenset(email(n) for n in reached)  # "ANN@x.com" for "ANN"
    try:
        message = await core.relay.from_outlook(cy, lunch, "Count me in", "m1", reached=already)
    finally:
        await stop_cores()  # the deliveries it started
    assert message is not None
    outlook = [d.addresses for d in message.deliveries if d.channel is Channel.OUTLOOK]
    assert outlook == ([tuple(email(n) for n in mailed)] if mailed else [])
    teams = sorted(d.recipient_id for d in message.deliveries if d.channel is Channel.TEAMS)
    assert teams == [ann.person_id, bob.person_id]  # Teams copies as for any message
