"""Reply All in Outlook reaches the group in Teams (Graph subscription, notifications, delta)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.web.app import create_app
from tests.conftest import FAST_TUNING, OUTLOOK_SENDER, graph_settings, serve
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.outlook_helpers import eventually
from tests.services import free_port
from tests.teams_world import TeamsWorld, card_text

SENDER = OUTLOOK_SENDER


@dataclass
class Inbound:
    world: TeamsWorld
    graph: FakeGraph
    settings: Settings
    url: str


def settings_for(tmp_path: Path, entra: FakeEntra, graph: FakeGraph, port: int) -> Settings:
    """Graph mode, with Graph's notifications coming back to this app's own port."""
    return replace(
        graph_settings(tmp_path, entra, graph, port), public_base_url=f"http://127.0.0.1:{port}"
    )


@pytest.fixture
async def inbound(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Inbound]:
    fake, connector_url = connector
    for name in ("Ann", "Bob", "Cy", "Eve"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(SENDER, "Send")
    port = free_port()
    settings = settings_for(tmp_path, entra, graph, port)
    app = create_app(settings, tuning=FAST_TUNING)
    async with serve(app, port) as url, TeamsWorld(url, fake, connector_url) as world:
        await eventually(lambda: len(graph.subscriptions) == 1, "the Graph subscription")
        yield Inbound(world, graph, settings, url)


async def start_thread(scene: Inbound) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, cy@contoso.com")
    await world.say(ann, "Pizza at 12?")
    await eventually(lambda: len(graph.mailbox("cy@contoso.com")) == 1, "the first mail")


async def test_subscription_is_validated_and_scoped_to_the_inbox(inbound: Inbound) -> None:
    (subscription,) = inbound.graph.subscriptions.values()
    assert subscription.mailbox == SENDER
    assert subscription.notification_url == f"{inbound.url}/api/outlook/notifications"
    assert "created" in subscription.change_type
    assert inbound.graph.validations == 1


async def test_reply_all_reaches_teams_once(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann, bob = world.person("Ann"), world.person("Bob")
    original = graph.mailbox("cy@contoso.com")[0]
    await graph.user_reply_all(
        "cy@contoso.com", original["id"], "<p>Count me <b>in</b> &amp; Dee</p>"
    )
    await world.wait_relayed(ann, 1)
    await world.wait_relayed(bob, 1)
    shown = card_text(world.relayed(ann)[0])
    assert shown.startswith("Cy ") and "Count me in & Dee" in shown
    assert "Pizza at 12?" not in shown  # the quoted mail is not part of the answer
    # Its recipients already have it: no extra mail from Send for it.
    await eventually(lambda: len(graph.mailbox(ann.email)) == 2, "Cy's reply in Ann's inbox")
    assert [m["from"]["emailAddress"]["address"] for m in graph.mailbox(ann.email)] == [
        SENDER,
        "cy@contoso.com",
    ]
    await world.say(ann, "history")
    assert "Cy: Count me in & Dee" in world.last_reply(ann)
    assert all(n.status == 202 for n in graph.notifications_sent)


async def test_mail_outside_the_thread_or_from_strangers_is_ignored(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann = world.person("Ann")
    await graph.user_send("eve@contoso.com", [SENDER], "[Send] Lunch", "<p>let me in</p>")
    original = graph.mailbox("cy@contoso.com")[0]
    await world.say(ann, "remove lunch: cy@contoso.com")
    await graph.user_reply_all("cy@contoso.com", original["id"], "<p>removed but replying</p>")
    await eventually(lambda: len(graph.notifications_sent) >= 2, "notifications")
    await world.say(ann, "history")
    history = world.last_reply(ann)
    assert "let me in" not in history and "removed but replying" not in history
    assert world.relayed(ann) == []


async def test_missed_notifications_are_caught_up_at_start(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    graph.notifications_enabled = False
    original = graph.mailbox("bob@contoso.com")[0]
    await graph.user_reply_all("bob@contoso.com", original["id"], "<p>while nobody listened</p>")
    ann = world.person("Ann")
    # The same app restarted: its first act is a delta query from the saved link.
    port = free_port()
    settings = settings_for(inbound.settings.data_dir, graph.entra, graph, port)
    async with serve(create_app(settings, tuning=FAST_TUNING), port):
        await world.wait_relayed(ann, 1)
    assert "while nobody listened" in card_text(world.relayed(ann)[0])


async def test_notification_endpoint_checks(inbound: Inbound) -> None:
    url = f"{inbound.url}/api/outlook/notifications"
    async with aiohttp.ClientSession() as session:
        token = "Validation: Testing client application reachability"
        async with session.post(url, params={"validationToken": token}) as r:
            assert (r.status, await r.text(), r.content_type) == (200, token, "text/plain")
        forged = {"value": [{"clientState": "guess", "changeType": "created", "resource": "x"}]}
        async with session.post(url, json=forged) as r:
            assert r.status == 403
        async with session.post(
            url, data=b"not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400


async def test_a_too_long_reply_is_refused_with_an_explanation(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann, bob = world.person("Ann"), world.person("Bob")
    original = graph.mailbox(bob.email)[0]
    await graph.user_reply_all(bob.email, original["id"], "<p>" + "x" * 2001 + "</p>")
    await world.connector.wait_for(lambda: any("not relayed" in t for t in world.replies(bob)))
    assert world.last_reply(bob) == (
        "Your Outlook reply to Lunch was not relayed to Teams. "
        "Your message has 2001 characters; the limit is 2000. Nothing was sent."
    )
    assert world.relayed(ann) == []
