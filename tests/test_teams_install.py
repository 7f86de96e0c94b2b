"""Every member in Teams: Send installs itself (Microsoft Graph) for colleagues who never
opened it, against a Bot Connector that, like Teams, refuses a 1:1 chat with anyone who
does not have the app, and a Graph that installs, refuses by policy, or knows no licence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.web.app import create_app
from tests.conftest import FAST_TUNING, OUTLOOK_SENDER, graph_settings, serve
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.outlook_helpers import eventually
from tests.services import free_port
from tests.teams_world import TeamsWorld, card_text

TEAMS_APP = "7d3f4c1e-0000-4000-8000-0000000000a1"
POLICY = "your organisation's Teams app policy does not allow Send for them"


@dataclass
class Office:
    world: TeamsWorld
    graph: FakeGraph
    ann: TeamsPerson

    def notices(self, words: str) -> list[str]:
        return [r for r in self.world.replies(self.ann) if words in r]


@pytest.fixture
async def office(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Office]:
    fake, connector_url = connector
    graph.add_user(OUTLOOK_SENDER, "Send")
    graph.publish_app(TEAMS_APP)
    port = free_port()
    settings = replace(
        graph_settings(tmp_path, entra, graph, port),
        teams_app_id=TEAMS_APP,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    async with (
        serve(create_app(settings, tuning=FAST_TUNING), port) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        world.connect_installs(graph)
        ann = world.colleague("Ann Lee", graph)
        fake.install(ann.user_id)  # Ann opened Send herself
        await world.install(ann)
        yield Office(world, graph, ann)
        await graph.installs_settled()


def installs(graph: FakeGraph) -> list[tuple[str, int]]:
    return list(graph.install_attempts)


async def test_a_member_added_by_address_gets_the_first_message_in_teams(office: Office) -> None:
    world, graph, ann = office.world, office.graph, office.ann
    megan = world.colleague("Megan Bowen", graph)
    eve = world.colleague("Eve Stranger", graph)  # in the directory, not in the group
    # Teams refuses a chat with Megan until Send is installed for her.
    assert not world.connector.may_reach(megan.user_id)

    await world.say(ann, f"new lunch: {megan.email}")
    assert world.last_reply(ann).startswith("Created lunch with Megan Bowen.")
    await world.say(ann, "Friday 12:30, are you in?")
    await world.wait_relayed(megan, 1)
    assert "Friday 12:30, are you in?" in card_text(world.relayed(megan)[0])
    assert installs(graph) == [(megan.aad_object_id, 201)]
    assert not office.notices("by Outlook only: ")

    # Megan answers from Teams, as the person Send installed itself for.
    await world.say(megan, "I'm in")
    await world.wait_relayed(ann, 1)
    assert card_text(world.relayed(ann)[0]).startswith("Megan Bowen")

    await world.say(ann, "See you there")
    await world.wait_relayed(megan, 2)
    assert installs(graph) == [(megan.aad_object_id, 201)]  # installed once
    assert eve.aad_object_id not in graph.installed_apps  # nobody outside the group
    await world.say(ann, "members")
    members = world.last_reply(ann)
    assert f"- Megan Bowen <{megan.email}>: Teams and Outlook" in members
    assert f"- Ann Lee (owner) <{ann.email}>: Teams and Outlook" in members


async def test_refused_by_policy_means_outlook_only_and_the_sender_is_told_once(
    office: Office,
) -> None:
    world, graph, ann = office.world, office.graph, office.ann
    lee = world.colleague("Lee Gu", graph, blocked=True)
    megan = world.colleague("Megan Bowen", graph)

    await world.say(ann, f"new lunch: {lee.email}, {megan.email}")
    await eventually(lambda: bool(office.notices("by Outlook only: ")), "the one-line notice")
    (notice,) = office.notices("by Outlook only: ")
    assert notice == (
        f"Lee Gu gets lunch by Outlook only: Send cannot reach them in Teams ({POLICY}); "
        "it tries again tomorrow."
    )
    await world.say(ann, "members")
    assert f"- Lee Gu <{lee.email}>: Outlook only ({POLICY})" in world.last_reply(ann)

    await world.say(ann, "Pizza at 12?")
    await world.say(ann, "Or sushi?")
    await world.wait_relayed(megan, 2)
    await eventually(lambda: len(graph.mailbox(lee.email)) == 2, "Lee's two mails")
    assert (
        world.relayed(lee) == [] and world.connector.to(world.connector.chat_of(lee.user_id)) == []
    )
    # Told once, tried once (not on every message).
    assert len(office.notices("by Outlook only: ")) == 1
    assert [status for oid, status in installs(graph) if oid == lee.aad_object_id] == [403]


async def test_a_colleague_without_a_teams_licence_gets_outlook_only(office: Office) -> None:
    world, graph, ann = office.world, office.graph, office.ann
    kim = world.colleague("Kim Noteams", graph, licence=False)
    await world.say(ann, f"new lunch: {kim.email}")
    await eventually(lambda: bool(office.notices("by Outlook only: ")), "the one-line notice")
    assert "Kim Noteams gets lunch by Outlook only" in office.notices("by Outlook only: ")[0]
    assert "they have no Teams account" in office.notices("by Outlook only: ")[0]
    await world.say(ann, "hello?")
    await eventually(lambda: len(graph.mailbox(kim.email)) == 1, "Kim's mail")


async def test_one_person_by_every_address_teams_then_outlook(office: Office) -> None:
    """Megan opens Send herself (Teams names her by UPN); Ann adds her by her UPN; Megan
    answers from Outlook with her primary address, which is not her UPN."""
    world, graph, ann = office.world, office.graph, office.ann
    user = graph.add_user("megan.bowen@contoso.com", "Megan Bowen", upn="meganb@contoso.com")
    megan = TeamsPerson("29:megan", "Megan Bowen", "meganb@contoso.com", user.id)
    world.connector.add_person(megan)
    await world.install(megan)

    await world.say(ann, "new lunch: MeganB@contoso.com")
    assert world.last_reply(ann).startswith("Created lunch with Megan Bowen.")
    await world.say(ann, "Pizza at 12?")
    await world.wait_relayed(megan, 1)
    assert installs(graph) == []  # she has Send already
    await eventually(lambda: bool(graph.mailbox("megan.bowen@contoso.com")), "Megan's mail")

    original = graph.mailbox("megan.bowen@contoso.com")[0]
    await graph.user_reply_all("megan.bowen@contoso.com", original["id"], "<p>Count me in</p>")
    await world.wait_relayed(ann, 1)
    assert card_text(world.relayed(ann)[0]).startswith("Megan Bowen")
    assert "Count me in" in card_text(world.relayed(ann)[0])
