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

from tests.fakes.graph import FakeGraph, Json
from tests.outlook_helpers import eventually
from tests.teams_world import card_text
from tests.test_outlook_thread import CY, DEE, SENDER, Scene, mails_in, start_lunch, texts
from tests.test_outlook_thread import scene as thread_scene
from tests.waiting import wait_until

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
    ann = world.person("Ann")
    graph.add_user("eve@contoso.com", "Eve")
    await start_lunch(scene)
    link = links(graph.mailbox(DEE)[0])["Yes"]
    await follow(graph, "eve@contoso.com", link)  # forwarded to someone not in the group
    await follow(graph, DEE, link, authentication="spf=fail; compauth=fail reason=000")
    await world.say(ann, "Anyone?")
    await eventually(lambda: texts(graph, CY)[-1:] == ["Anyone?"], "the next mail")
    assert [card_text(c) for c in world.relayed(ann)] == []
    assert texts(graph, CY) == ["Pizza at 12?", "Anyone?"]


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


async def test_manage_links_make_the_teams_changes(scene: Scene) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await start_lunch(scene)
    found = links(graph.mailbox(bob.email)[0])
    assert found["Mute Lunch in Teams"][2] == "mute Lunch"
    await follow(graph, bob.email, found["Mute Lunch in Teams"])
    await eventually(lambda: "Muted Lunch" in " ".join(world.replies(bob)), "Bob told")
    await follow(graph, DEE, links(graph.mailbox(DEE)[0])["Stop Outlook copies"])

    async def dee_off() -> bool:  # Dee has no Teams to be told in: ask `members`
        await world.say(ann, "members Lunch")
        return f"- Dee <{DEE}>: Outlook" not in world.last_reply(ann)

    await wait_until(dee_off, what="Dee's Outlook copies off")
    await world.say(ann, "Still there?")
    await mails_in(graph, CY, 2)
    await mails_in(graph, bob.email, 2)
    assert len(graph.mailbox(DEE)) == 1, texts(graph, DEE)  # Dee's Outlook copies are off
    await world.say(ann, "members Lunch")
    listed = world.last_reply(ann)
    assert f"- Bob <{bob.email}>: Outlook" in listed  # Teams muted
    assert f"- Dee <{DEE}>: " in listed and "Dee <dee@contoso.com>: Outlook" not in listed
