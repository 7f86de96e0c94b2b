"""Meetings: `meeting` makes a group of a meeting's people, and its RSVP is each person's
response in their Outlook calendar, from a tap in Teams or a click in Outlook.

Graph mode against the fakes (tests/fakes/graph_calendar.py: each person's own copy of a
meeting, the organizer's holding everyone's response). Ann organizes "Friday planning"
with Bob (Teams), Cy and Dee (Outlook only), two people from outside and a room.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot.web.keys import SERVICES
from tests.conftest import (
    GRAPH_CLIENT,
    GRAPH_SECRET,
    GRAPH_TENANT,
)
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.entra import DEFAULT_ROLES, FakeEntra
from tests.fakes.graph import FakeGraph, Json
from tests.outlook_helpers import eventually
from tests.teams_world import TeamsWorld, card_text
from tests.test_outlook_reply_links import follow, links
from tests.test_outlook_thread import graph_mode, mails_in

CY, DEE = "cy@contoso.com", "dee@contoso.com"
OUTSIDE = [("zoe@fabrikam.com", "Zoe Fabrikam"), ("yan@fabrikam.com", "Yan Fabrikam")]
ROOM = [("room.blue@contoso.com", "Blue room")]
REMINDER = "waits for your answer"
SOON = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=3)


@dataclass
class Scene:
    world: TeamsWorld
    graph: FakeGraph
    ann: TeamsPerson
    bob: TeamsPerson
    meeting: str  # its iCalUId
    app: web.Application

    async def watch(self) -> None:
        """The meetings' watch makes a pass (the app makes one every few minutes)."""
        await self.app[SERVICES].meeting_watch.watch()


async def scene_with(
    tmp_path: Path,
    entra: FakeEntra,
    graph: FakeGraph,
    connector: tuple[FakeConnector, str],
) -> AsyncIterator[Scene]:
    async with graph_mode(tmp_path, entra, graph, connector) as (world, app):
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        attendees = [(bob.email, "Bob"), (CY, "Cy"), (DEE, "Dee"), *OUTSIDE]
        meeting = graph.add_meeting(
            ann.email, "Friday planning", SOON, attendees, rooms=ROOM, organizer_name="Ann"
        )
        yield Scene(world, graph, ann, bob, meeting, app)


@pytest.fixture
async def scene(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Scene]:
    async for made in scene_with(tmp_path, entra, graph, connector):
        yield made


def cards_with(world: TeamsWorld, person: TeamsPerson, action: str) -> list[tuple[str, Json]]:
    """(activity id, card) of every card shown to the person with that kind of button,
    as it shows now (a card updated in place is listed once, as updated)."""
    connector = world.connector
    chat = connector.chat_of(person.user_id)
    found: dict[str, Json] = {}
    for item in sorted([*connector.received, *connector.updates], key=lambda r: r.at):
        if item.conversation_id != chat:
            continue
        for attachment in item.activity.get("attachments") or []:
            card = attachment.get("content") or {}
            if any(b.get("data", {}).get("sendAction") == action for b in buttons(card)):
                found[item.id] = card
    return list(found.items())


def buttons(card: Json) -> list[Json]:
    found = []

    def walk(element: object) -> None:
        if isinstance(element, dict):
            if element.get("type") == "Action.Submit":
                found.append(element)
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card)
    return found


async def pick(scene: Scene, who: TeamsPerson, words: str = "") -> str:
    """`who` types `meeting`, and taps the meeting's button; the answer."""
    world = scene.world
    before = len(world.replies(who))
    await world.say(who, f"meeting {words}".strip())
    if not words:
        card_id, card = cards_with(world, who, "meeting")[-1]
        (button,) = [b for b in buttons(card) if "Friday planning" in b["title"]]
        assert "6 people" in button["title"], button["title"]  # Ann and her 5 attendees
        await world.submit(who, dict(button["data"]), card_id)
    await eventually(lambda: len(world.replies(who)) > before, "the answer")
    return world.last_reply(who)


def rsvp(world: TeamsWorld, person: TeamsPerson) -> tuple[str, Json]:
    (found,) = cards_with(world, person, "vote")
    return found


async def tap(world: TeamsWorld, person: TeamsPerson, answer: str) -> int:
    card_id, card = rsvp(world, person)
    (button,) = [b for b in buttons(card) if b["title"] == answer]
    return await world.submit(person, dict(button["data"]), card_id)


def tally(world: TeamsWorld, person: TeamsPerson) -> str:
    return card_text(rsvp(world, person)[1])


def voters(world: TeamsWorld, person: TeamsPerson) -> dict[str, str]:
    """What the person's RSVP card shows under each answer (and who has not answered)."""
    parts = re.split(r"\b(Yes|Maybe|No|Not answered yet)\b", tally(world, person))
    return {
        label: " ".join(text.split()) for label, text in zip(parts[1::2], parts[2::2], strict=True)
    }


async def test_a_meeting_makes_a_group_of_its_people_with_their_outlook_answers(
    scene: Scene,
) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    graph.answer_in_outlook(CY, scene.meeting, "accepted")  # before the group is made
    answer = await pick(scene, ann)
    assert answer.startswith("Friday planning is made with the 3 others"), answer
    assert "Zoe Fabrikam, Yan Fabrikam, 1 room" in answer
    await world.say(ann, "members Friday planning")
    listed = world.last_reply(ann)
    assert all(name in listed for name in ("Ann", "Bob", "Cy", "Dee")), listed
    assert "Zoe" not in listed and "Blue" not in listed
    # Every member's RSVP starts from their Outlook response (Ann organizes: yes).
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    shown = tally(world, bob)
    assert "Coming to Friday planning, " in shown, shown
    assert voters(world, bob)["Yes"] == "2: Cy, Ann" or voters(world, bob)["Yes"] == "2: Ann, Cy"
    # Picking it again offers the group made, and makes no other.
    assert await pick(scene, ann) == "Friday planning is the group of that meeting already."
    await world.say(ann, "groups")
    assert world.last_reply(ann).count("Friday planning") == 1


async def test_a_tap_in_teams_and_a_click_in_outlook_set_the_calendar_and_one_tally(
    scene: Scene,
) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    await pick(scene, ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    assert await tap(world, bob, "No") == 200
    # Bob's own calendar, and the organizer's copy (what Outlook's tracking shows).
    # The organizer's copy has it (what Outlook's tracking shows); declining took the
    # meeting out of Bob's calendar, as Outlook's Decline does.
    await eventually(
        lambda: graph.response_of(bob.email, scene.meeting, seen_by=ann.email) == "declined",
        "Ann's calendar",
    )
    assert not [e for e in graph.calendars[bob.email].values() if e["iCalUId"] == scene.meeting]
    await eventually(lambda: "Bob" in voters(world, ann)["No"], "Ann's card")
    # Dee answers from the thread in Outlook: the poll mail's "Maybe" link.
    await eventually(lambda: any("Maybe" in links(m) for m in graph.mailbox(DEE)), "the mail")
    poll_mail = next(m for m in graph.mailbox(DEE) if "Maybe" in links(m))
    await follow(graph, DEE, links(poll_mail)["Maybe"])
    await eventually(
        lambda: graph.response_of(DEE, scene.meeting, seen_by=ann.email) == "tentativelyAccepted",
        "Dee's response in Ann's calendar",
    )
    await eventually(lambda: "Dee" in voters(world, bob)["Maybe"], "Bob's card shows Dee")
    # Ann organizes: her tap counts on the cards, and asks nothing of her calendar.
    assert await tap(world, ann, "Yes") == 200
    assert graph.response_of(ann.email, scene.meeting, seen_by=ann.email) == "organizer"


async def test_a_calendar_that_refuses_counts_nothing_and_says_why(scene: Scene) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    await pick(scene, ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    # An application access policy that leaves Bob's mailbox out.
    graph.calendar_policy = {ann.email, CY, DEE}
    before = tally(world, bob)
    await tap(world, bob, "Yes")
    # (Bob's welcome to the group goes in the background: any of his replies may be last.)
    await eventually(
        lambda: any("may not use your calendar" in r for r in world.replies(bob)), "Bob told"
    )
    assert tally(world, bob) == before
    assert graph.response_of(bob.email, scene.meeting, seen_by=ann.email) == "none"


async def test_words_pick_the_meeting_and_other_words_are_a_message(scene: Scene) -> None:
    world, ann = scene.world, scene.ann
    answer = await pick(scene, ann, "friday PLANNING")
    assert answer.startswith("Friday planning is made"), answer
    await world.say(ann, "meeting moved to 3pm")
    reply = world.last_reply(ann)
    assert "moved to 3pm" in reply and "none of your next meetings" in reply.lower(), reply


async def test_french_and_more_than_20_people(scene: Scene) -> None:
    world, graph, ann = scene.world, scene.graph, scene.ann
    many = [(f"p{n}@contoso.com", f"P{n}") for n in range(21)]
    for address, name in many:
        graph.add_user(address, name)
    graph.add_meeting(ann.email, "All hands", SOON + datetime.timedelta(hours=1), many)
    world.client(ann, "fr-FR", "Europe/Paris")
    await world.say(ann, "réunion all hands")
    assert world.last_reply(ann) == (
        "Cette réunion compte 22 personnes de votre organisation\u00a0; un groupe en a 20 au plus."
    ), world.last_reply(ann)
    await world.say(ann, "groupes")
    assert "All hands" not in world.last_reply(ann)
    answer = await pick(scene, ann, "friday")
    assert answer.startswith("Friday planning est créé avec les 3 autres participants"), answer


async def test_without_the_calendar_permission_meeting_says_what_is_missing(
    tmp_path: Path, entra: FakeEntra, graph: FakeGraph, connector: tuple[FakeConnector, str]
) -> None:
    roles = tuple(r for r in DEFAULT_ROLES if not r.startswith("Calendars."))
    entra.register_client(GRAPH_TENANT, GRAPH_CLIENT, GRAPH_SECRET, roles=roles)
    async for scene in scene_with(tmp_path, entra, graph, connector):
        await scene.world.say(scene.ann, "meeting")
        reply = scene.world.last_reply(scene.ann)
        assert reply == ("Send may not use your calendar (no permission): ask your Teams admin."), (
            reply
        )
        await scene.world.say(scene.ann, "groups")
        assert "Friday planning" not in scene.world.last_reply(scene.ann)


async def test_a_double_tap_makes_one_group(scene: Scene) -> None:
    world, ann = scene.world, scene.ann
    await world.say(ann, "meeting")
    card_id, card = cards_with(world, ann, "meeting")[-1]
    (button,) = [b for b in buttons(card) if "Friday planning" in b["title"]]
    await asyncio.gather(*(world.submit(ann, dict(button["data"]), card_id) for _ in range(2)))
    await world.say(ann, "groups")
    assert world.last_reply(ann).count("Friday planning") == 1, world.last_reply(ann)


async def test_a_response_changed_in_outlook_shows_on_the_cards(scene: Scene) -> None:
    world, graph, bob = scene.world, scene.graph, scene.bob
    await pick(scene, scene.ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    assert "Dee" in voters(world, bob)["Not answered yet"]
    graph.answer_in_outlook(DEE, scene.meeting, "declined")
    await scene.watch()
    await eventually(lambda: "Dee" in voters(world, bob)["No"], "Dee's No on Bob's card")
    # Nothing is set back in Dee's calendar: her answer came from there.
    assert not [r for r in graph.responses_sent if r[0] == DEE and r[2] != "declined"]


async def test_a_moved_then_cancelled_meeting_tells_the_group_once(scene: Scene) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    await pick(scene, ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    later = SOON + datetime.timedelta(days=1, hours=2)
    graph.move_meeting(scene.meeting, later)
    for _ in range(2):
        await scene.watch()
    await eventually(lambda: any("moved" in r for r in world.replies(bob)), "Bob told")
    moved = [r for r in world.replies(bob) if "moved" in r]
    assert len(moved) == 1 and f"{later:%-d %b}" in moved[0], moved
    await eventually(lambda: f"{later:%-d %b}" in tally(world, bob), "the RSVP's new time")
    graph.cancel_meeting(scene.meeting)
    for _ in range(2):
        await scene.watch()
    await eventually(lambda: any("cancelled" in r for r in world.replies(bob)), "Bob told")
    assert len([r for r in world.replies(bob) if "cancelled" in r]) == 1
    await world.say(ann, "nudge Friday planning")
    assert world.last_reply(ann) == "Friday planning has no RSVP or poll to answer."


async def test_nudge_reaches_only_those_without_an_answer_once_a_day(scene: Scene) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    await pick(scene, ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    await world.say(bob, "nudge Friday planning")
    await eventually(
        lambda: any(
            r.startswith("Only the owner of Friday planning (Ann)") for r in world.replies(bob)
        ),
        "Bob refused",
    )
    await tap(world, bob, "Yes")
    await eventually(lambda: "Bob" in voters(world, ann)["Yes"], "Bob's Yes")
    mails = {address: len(graph.mailbox(address)) for address in (CY, DEE, bob.email)}
    await world.say(ann, "nudge Friday planning")
    assert world.last_reply(ann) == "Reminded the 2 people who have not answered: Cy, Dee."
    for address in (CY, DEE):
        await mails_in(graph, address, mails[address] + 1)
        assert "waits for your answer" in str(graph.mailbox(address)[-1]["body"]["content"])
    await world.say(ann, "nudge Friday planning")
    assert world.last_reply(ann) == (
        "Friday planning was reminded today already: one reminder a day."
    )
    await scene.watch()  # also today's automatic one, if it were due: the same reminder
    assert len(graph.mailbox(bob.email)) == mails[bob.email]
    for address in (CY, DEE):
        assert len(graph.mailbox(address)) == mails[address] + 1


async def test_an_rsvp_just_asked_waits_for_nudge(scene: Scene) -> None:
    """The day-before reminder is not for an RSVP asked a moment ago (tests/unit/
    test_meetings.py has it, on a clock that moves): `nudge` reminds, once."""
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=5)
    graph.add_meeting(ann.email, "Standup", soon, [(bob.email, "Bob")], organizer_name="Ann")
    await pick(scene, ann, "standup")
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    for _ in range(2):
        await scene.watch()
    await world.say(ann, "nudge Standup")
    assert world.last_reply(ann) == "Reminded the 1 person who has not answered: Bob."
    await eventually(lambda: any(REMINDER in r for r in cards_of(world, bob)), "Bob reminded")
    await scene.watch()
    await world.say(ann, "nudge Standup")
    assert world.last_reply(ann) == "Standup was reminded today already: one reminder a day."
    assert len([r for r in cards_of(world, bob) if REMINDER in r]) == 1


def cards_of(world: TeamsWorld, person: TeamsPerson) -> list[str]:
    return [card_text(c) for c in world.relayed(person)]


async def test_one_occurrence_of_a_weekly_meeting_is_its_own_group_and_answer(
    scene: Scene,
) -> None:
    world, graph, ann, bob = scene.world, scene.graph, scene.ann, scene.bob
    series = graph.add_meeting(
        ann.email, "Weekly sync", SOON, [(bob.email, "Bob")], organizer_name="Ann", weekly=3
    )
    await world.say(ann, "meeting")
    card_id, card = cards_with(world, ann, "meeting")[-1]
    weekly = [b for b in buttons(card) if "Weekly sync" in b["title"]]
    assert len(weekly) == 2  # the next 14 days: this week's and next week's
    await world.submit(ann, dict(weekly[1]["data"]), card_id)  # next week's
    await eventually(lambda: "Weekly sync is made" in world.last_reply(ann), "the group")
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    await tap(world, bob, "Yes")
    first, second, third = graph.occurrences(bob.email, series)
    await eventually(lambda: second["response"] == "accepted", "next week's answer")
    assert first["response"] == "none" and third["response"] == "none"
    organizer_second = graph.occurrences(ann.email, series)[1]
    assert organizer_second["start"] == second["start"]
    assert (
        next(a for a in organizer_second["attendees"] if a["address"] == bob.email)["response"]
        == "accepted"
    )


async def test_after_declining_in_outlook_a_tap_says_why_it_cannot_change(
    scene: Scene,
) -> None:
    world, ann, bob = scene.world, scene.ann, scene.bob
    await pick(scene, ann)
    await eventually(lambda: len(cards_with(world, bob, "vote")) == 1, "Bob's RSVP")
    await tap(world, bob, "No")
    await eventually(lambda: "Bob" in voters(world, ann)["No"], "Bob's No")
    await tap(world, bob, "Yes")
    await eventually(
        lambda: any("took it out of your Outlook calendar" in r for r in world.replies(bob)),
        "told",
    )
    assert "Bob" in voters(world, ann)["No"] and "Bob" not in voters(world, ann)["Yes"]


async def test_a_directory_that_does_not_answer_makes_no_group(scene: Scene) -> None:
    world, graph, ann = scene.world, scene.graph, scene.ann
    # Every directory lookup is throttled, retries included.
    graph.faults = lambda call: (
        (429, {"Retry-After": "0"})
        if "/users/" in call.path
        and "/calendar" not in call.path
        and "/events" not in call.path
        and call.method == "GET"
        else None
    )
    await world.say(ann, "meeting friday")
    assert "directory could not be read just now" in world.last_reply(ann)
    graph.faults = None
    await world.say(ann, "groups")
    assert "Friday planning" not in world.last_reply(ann)
