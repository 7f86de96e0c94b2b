"""Answers without cards: the mail's links open a reply to the group's reply address
(the service mailbox plus a signed tag), which Send relays as that member's answer, vote
or change, from any mail client; never from a non-member or unvouched mail.

Graph mode against the fakes, as tests/test_outlook_thread.py: Ann and Bob in Teams,
Cy and Dee in Outlook only. Exchange Online delivers plus-addressed mail to the mailbox
(the fake does too)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote, urlsplit

import pytest

from tests.fakes.graph import FakeGraph, GraphCall, Json
from tests.outlook_helpers import eventually
from tests.teams_world import card_text
from tests.test_outlook_thread import CY, DEE, SENDER, Scene, mails_in, start_lunch, texts
from tests.test_outlook_thread import scene as thread_scene

scene = pytest.fixture(thread_scene.__wrapped__, name="scene")  # type: ignore[attr-defined]

_HREF = re.compile(r'href="(mailto:[^"]+)"[^>]*>([^<]+)</a>')


def links(mail: Json) -> dict[str, tuple[str, str, str]]:
    """The mail's mailto links by label: (address, subject, body)."""
    out = {}
    for href, label in _HREF.findall(str(mail["body"]["content"])):
        parts = urlsplit(unescape(href))
        query = dict(p.split("=", 1) for p in parts.query.split("&"))
        out[unescape(label)] = (
            unquote(parts.path),
            unquote(query["subject"]),
            unquote(query["body"]),
        )
    return out


async def follow(
    graph: FakeGraph, who: str, link: tuple[str, str, str], *, authentication: str | None = None
) -> Json:
    """`who` opens the link in their mail client and presses Send, signature and all."""
    address, subject, body = link
    html = f"<p>{body}</p><p>-- <br>{who} · Contoso</p>"
    return await graph.user_send(who, [address], subject, html, authentication=authentication)


async def test_a_one_tap_link_reaches_the_group_as_that_members_answer(scene: Scene) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    mail = graph.mailbox(DEE)[0]
    found = links(mail)
    assert set(found) >= {"Yes", "No", "On my way", "Got it"}
    address, subject, body = found["Yes"]
    assert address.startswith(SENDER.split("@")[0] + "+") and address.endswith("@contoso.com")
    assert subject == "RE: [Send] Lunch" and body == "Yes"
    await follow(graph, DEE, found["Yes"])
    await world.wait_relayed(ann, 1)
    await world.wait_relayed(bob, 2)
    shown = card_text(world.relayed(ann)[0])
    assert shown.startswith("Dee") and "Yes" in shown and "Contoso" not in shown  # 1st line
    # The others get it in the thread from Send; Dee, who wrote it, does not.
    for mailbox in (ann.email, bob.email, CY):
        await mails_in(graph, mailbox, 2)
        assert texts(graph, mailbox)[-1] == "Yes"
    assert len(graph.mailbox(DEE)) == 1, texts(graph, DEE)


async def test_a_link_from_a_non_member_or_unvouched_mail_is_ignored(scene: Scene) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    graph.add_user("eve@contoso.com", "Eve")
    await start_lunch(scene)
    link = links(graph.mailbox(DEE)[0])["Yes"]
    await follow(graph, "eve@contoso.com", link)  # forwarded to someone not in the group
    await follow(graph, bob.email, link, authentication="spf=fail; compauth=fail reason=000")
    # Bob hears in Teams that a mail bearing his address was not relayed.
    await eventually(
        lambda: any("not relayed" in r or "was not" in r for r in world.replies(bob)), "Bob told"
    )
    await follow(graph, DEE, links(graph.mailbox(DEE)[0])["No"])  # read after both
    await world.wait_relayed(ann, 1)
    assert [card_text(c).split()[0] for c in world.relayed(ann)] == ["Dee"]
    assert "No" in card_text(world.relayed(ann)[0])


async def test_a_poll_option_link_is_a_vote(scene: Scene) -> None:
    world, graph = scene.world, scene.graph
    ann = world.person("Ann")
    await start_lunch(scene)
    await world.say(ann, "poll Lunch: Friday? | Yes | No")
    await mails_in(graph, DEE, 2)
    found = links(graph.mailbox(DEE)[1])
    assert found["No"][2] == "No" and found["No"][0] != links(graph.mailbox(DEE)[0])["No"][0]
    await follow(graph, DEE, found["No"])
    # The vote's line in the thread, as for a vote from the card or Teams.
    await eventually(
        lambda: "No (poll: Friday?)" in [t.replace("\\", "") for t in texts(graph, CY)],
        "Dee's vote in the thread",
    )
    await world.say(ann, "history Lunch")
    assert "Dee: No (poll: Friday?)" in world.last_reply(ann)


async def test_manage_links_make_the_teams_changes_once(scene: Scene) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    found = links(graph.mailbox(bob.email)[0])
    assert found["Mute Lunch in Teams"][2] == "mute Lunch"  # the words, for Bob
    # The address makes the change, whatever Bob's mail client or Bob wrote in it.
    mute, off = found["Mute Lunch in Teams"], found["Stop Outlook copies"]
    await follow(graph, bob.email, (mute[0], mute[1], "please"))
    await eventually(lambda: "Muted Lunch" in " ".join(world.replies(bob)), "Bob told")
    await follow(graph, bob.email, off)
    await eventually(lambda: "Outlook copies are off" in world.last_reply(bob), "Bob told")
    await world.say(ann, "Still there?")
    await mails_in(graph, CY, 2)
    await world.wait_relayed(bob, 1)  # his copy of Pizza only: Still there? is muted
    await world.say(ann, "members Lunch")
    assert f"- Bob <{bob.email}>: no copies" in world.last_reply(ann)
    assert len(graph.mailbox(bob.email)) == 1


async def test_a_change_mailed_once_is_made_once_however_often_it_is_read(
    scene: Scene,
) -> None:
    """Bob's mute mail and Dee's answer arrive together; Graph cannot describe Dee's mail
    at first, so the pass stops and the Inbox is read again from before Bob's mail. Bob,
    who unmuted in Teams meanwhile, is not muted again."""
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    graph.notifications_enabled = False
    await follow(graph, bob.email, links(graph.mailbox(bob.email)[0])["Mute Lunch in Teams"])
    await follow(graph, DEE, links(graph.mailbox(DEE)[0])["Yes"])
    dee_mail = graph.mailbox(SENDER)[-1]["id"]
    failing = [6]  # more than the client's own retries: the pass gives up on it

    def dee_unreadable(call: GraphCall) -> tuple[int, dict[str, str]] | None:
        if failing[0] and dee_mail in unquote(call.path) and "internetMessageHeaders" in call.path:
            failing[0] -= 1
            return 503, {}
        return None

    graph.faults = dee_unreadable
    graph.notifications_enabled = True
    await follow(graph, CY, links(graph.mailbox(CY)[0])["Got it"])  # a notification
    await eventually(lambda: "Muted Lunch" in " ".join(world.replies(bob)), "Bob muted")
    await world.say(bob, "unmute Lunch")
    await world.wait_relayed(ann, 2)  # Dee's and Cy's answers, once Graph could say
    await world.say(ann, "members Lunch")
    assert f"- Bob <{bob.email}>: Teams and Outlook" in world.last_reply(ann)
    assert sum("Muted Lunch" in r for r in world.replies(bob)) == 1
    assert failing == [0]  # the pass did stop on Dee's mail


async def test_outlook_copies_stay_on_for_a_member_without_teams(scene: Scene) -> None:
    """Dee reads Send only in Outlook: turning her copies off would cut her off. She is
    told why in the thread, by a mail to her alone."""
    world, graph = scene.world, scene.graph
    ann = world.person("Ann")
    await start_lunch(scene)
    await follow(graph, DEE, links(graph.mailbox(DEE)[0])["Stop Outlook copies"])
    await mails_in(graph, DEE, 2)
    told = texts(graph, DEE)[-1].replace("\\", "")
    assert told.startswith("Your Outlook copies stay on")
    assert len(graph.mailbox(CY)) == 1  # to Dee alone
    await world.say(ann, "Still there?")
    await mails_in(graph, DEE, 3)
