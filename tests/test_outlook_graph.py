"""The group's Outlook thread through Microsoft Graph (fake Graph and Entra ID over real protocols)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import OUTLOOK_SENDER, graph_settings, running_app
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphCall, fail_first
from tests.outlook_helpers import card_in, card_texts, eventually
from tests.teams_world import TeamsWorld

SENDER = OUTLOOK_SENDER


@pytest.fixture
async def mail_world(
    tmp_path: Path,
    entra: FakeEntra,
    graph: FakeGraph,
    connector: tuple[FakeConnector, str],
) -> AsyncIterator[TeamsWorld]:
    fake, connector_url = connector
    for name in ("Ann", "Bob", "Cy", "Dee"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(SENDER, "Send")
    settings = graph_settings(tmp_path, entra, graph)
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world


def inbox_texts(graph: FakeGraph, address: str) -> list[str]:
    return [card_texts(card_in(m["body"]["content"]))[-1] for m in graph.mailbox(address)]


async def test_one_conversation_in_every_mailbox(
    mail_world: TeamsWorld, graph: FakeGraph, entra: FakeEntra
) -> None:
    world = mail_world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, cy@contoso.com")
    await world.say(ann, "Pizza at 12?")
    await eventually(lambda: len(graph.mailbox("cy@contoso.com")) == 1, "first mail")
    await world.say(bob, "Yes")
    for address in (ann.email, bob.email, "cy@contoso.com"):
        await eventually(lambda a=address: len(graph.mailbox(a)) == 2, address)  # type: ignore[misc]
        assert len(graph.conversations(address)) == 1
        first, second = graph.mailbox(address)
        assert first["subject"] == "[Send] Lunch"
        assert second["subject"] == "RE: [Send] Lunch"
        assert first["from"]["emailAddress"]["address"] == SENDER
    assert inbox_texts(graph, "cy@contoso.com") == ["Pizza at 12?", "Yes"]
    card = card_in(graph.mailbox("cy@contoso.com")[1]["body"]["content"])
    assert card["originator"] == "originator-id" and card["version"] == "1.0"
    # One Graph send per message: a draft and its send for the first, one reply after.
    posts = [c for c in graph.calls if c.method == "POST" and "/messages" in c.path]
    assert [c.path.rsplit("/", 1)[-1] for c in posts] == ["messages", "send", "reply"]
    # One token for all of it: MSAL's cache answers after the first request.
    assert entra.token_requests == 1


async def test_membership_and_outlook_off_follow_the_thread(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}")
    await world.say(ann, "one")
    await eventually(lambda: len(graph.mailbox(bob.email)) == 1, "one")
    await world.say(ann, f"add lunch: {cy.email}")
    await world.say(bob, "outlook off")
    await world.say(ann, "two")
    await eventually(lambda: len(graph.mailbox(cy.email)) == 1, "two to Cy")
    conversation = next(iter(graph.conversations(ann.email)))
    assert graph.mailbox(cy.email)[0]["conversationId"] == conversation
    await world.say(ann, f"remove lunch: {cy.email}")
    await world.say(bob, "outlook on")
    await world.say(ann, "three")
    await eventually(lambda: len(graph.mailbox(ann.email)) == 3, "three")
    await eventually(lambda: len(graph.mailbox(bob.email)) == 2, "three to Bob")
    assert inbox_texts(graph, bob.email) == ["one", "three"]
    assert inbox_texts(graph, cy.email) == ["two"]


async def test_throttled_graph_is_retried_after_retry_after(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}")
    graph.faults = fail_first(2, status=429, retry_after="1", method="POST")
    await world.say(ann, "through the throttle")
    await eventually(lambda: len(graph.mailbox(bob.email)) == 1, "mail", timeout=15)
    throttled = [c for c in graph.calls if c.status == 429]
    accepted = [c for c in graph.calls if c.method == "POST" and c.status < 300]
    assert len(throttled) == 2
    assert accepted[0].at - throttled[-1].at >= 0.99  # not before Retry-After
    assert len(graph.mailbox(bob.email)) == 1  # and not twice


async def test_unknown_addresses_are_refused_with_a_directory(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann = world.person("Ann")
    await world.install(ann)
    await world.say(ann, "new Lunch: dee@contoso.com, nobody@contoso.com")
    assert world.last_reply(ann) == (
        "nobody@contoso.com is not a person in your organisation. Nothing was changed."
    )
    await world.say(ann, "new Lunch: DEE@contoso.com")
    assert world.last_reply(ann) == "Created Lunch with Dee. Anything you type now goes to Lunch."


async def test_mailbox_concurrency_stays_within_four(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    graph.latency = 0.05
    owner = world.person("Ann")
    await world.install(owner)
    names = ["Bob", "Cy", "Dee"]
    for n in range(6):
        await world.say(owner, f"new G{n}: " + ", ".join(f"{x.lower()}@contoso.com" for x in names))
    for n in range(6):
        await world.say(owner, f"to G{n}: hello {n}")
    await eventually(lambda: len(graph.mailbox("bob@contoso.com")) == 6, "six threads", timeout=20)
    assert graph.max_in_flight[SENDER] <= 4
    assert len(graph.conversations("bob@contoso.com")) == 6


async def test_a_failed_send_sends_the_same_draft_again(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    """The draft was made but its /send failed: the retry sends that draft, not a new one."""
    world = mail_world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}")
    failures = [3]  # the client's own three tries of one /send

    def plan(call: GraphCall) -> tuple[int, dict[str, str]] | None:
        if call.method == "POST" and call.path.endswith("/send") and failures[0] > 0:
            failures[0] -= 1
            return 503, {"Retry-After": "0"}
        return None

    graph.faults = plan
    await world.say(ann, "only one mail, please")
    await eventually(lambda: len(graph.mailbox(bob.email)) == 1, "the mail", timeout=20)
    drafts_made = [c for c in graph.calls if c.method == "POST" and c.path.endswith("/messages")]
    assert len(drafts_made) == 1
    # Checking that no second mail follows: a settle wait, not a condition to wait for.
    await asyncio.sleep(0.3)
    assert len(graph.mailbox(bob.email)) == 1
