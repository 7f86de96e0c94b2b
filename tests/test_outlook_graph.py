"""The group's Outlook thread through Microsoft Graph (fake Graph and Entra ID over real protocols)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bot.core.model import MessageSummary, Source
from bot.core.ports import SendOutcome, ThreadMail
from bot.graph.client import GRAPH_SCOPE, GraphClient
from bot.identity import ClientCredentials
from bot.outlook.card import OutlookCards
from bot.outlook.graph import MARKER_PROPERTY, GraphMail
from bot.outlook.tokens import CardTokens
from tests.conftest import (
    GRAPH_CLIENT,
    GRAPH_SECRET,
    GRAPH_TENANT,
    OUTLOOK_SENDER,
    graph_settings,
    running_app,
)
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphCall, fail_first, lose_answer
from tests.outlook_helpers import (
    MovableClock,
    card_in,
    card_texts,
    eventually,
    is_msg_id,
    msg_ids,
)
from tests.teams_world import TeamsWorld
from tests.unit.media_fakes import MemoryVault

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
    # One Graph send per message: a draft and its send for the first; for the next, a
    # reply made as a draft on the first (so its id is known to the one after) and its send.
    posts = [c for c in graph.calls if c.method == "POST" and "/messages" in c.path]
    assert [c.path.rsplit("/", 1)[-1] for c in posts] == ["messages", "send", "createReply", "send"]
    assert posts[2].path.split("/")[-2] == graph.sent(SENDER)[0]["id"]
    # One token for all of it: MSAL's cache answers after the first request.
    assert entra.token_requests == 1


async def test_replies_still_go_out_if_graph_refuses_their_marker(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    graph.refuse_reply_properties = True
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, cy@contoso.com")
    for text in ("Pizza at 12?", "Yes", "See you"):
        await world.say(ann, text)
    await eventually(lambda: len(graph.mailbox("cy@contoso.com")) == 3, "three mails")
    assert inbox_texts(graph, "cy@contoso.com") == ["Pizza at 12?", "Yes", "See you"]
    replies = [c for c in graph.calls if c.method == "POST" and c.path.endswith("/createReply")]
    # The first reply is refused once and made again unmarked; later ones go unmarked.
    assert [c.status for c in replies] == [400, 201, 201]
    sent = graph.sent(SENDER)
    assert [graph.extended(m) != {} for m in sent] == [True, False, False]
    # Unmarked, they still chain: each answers the one before.
    assert [graph.thread_headers(m)["In-Reply-To"] for m in sent[1:]] == [
        m["internetMessageId"] for m in sent[:2]
    ]


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


# A send whose answer is lost is not sent again: Send's marker is looked up in Sent Items.


def performed(graph: FakeGraph, ending: str) -> list[GraphCall]:
    """Requests POSTed to a path ending so that the fake did perform (202)."""
    return [
        c
        for c in graph.calls
        if c.method == "POST" and c.path.split("?")[0].endswith(ending) and c.performed == 202
    ]


def sent_items_checked(graph: FakeGraph) -> bool:
    return any(
        c.method == "GET" and "/mailFolders/sentitems/messages?" in c.path and c.status == 200
        for c in graph.calls
    )


@pytest.mark.parametrize("how", ["reset", "504"])
@pytest.mark.parametrize("which", ["first", "later"])
async def test_a_send_whose_answer_is_lost_is_not_sent_twice(
    mail_world: TeamsWorld, graph: FakeGraph, which: str, how: str
) -> None:
    """Graph sent the mail but its answer never arrived (the connection reset, or a
    gateway's 504): the retry finds the mail in Sent Items and sends nothing more. Every
    mail is a draft and its send: the first made by a POST, a later one by createReply."""
    world = mail_world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}, cy@contoso.com")
    if which == "later":
        await world.say(ann, "one")
        await eventually(lambda: len(graph.mailbox("cy@contoso.com")) == 1, "one")
    before = len(performed(graph, "/send"))
    graph.lose_answers = lose_answer(1, path_ends="/send", how=how)
    await world.say(ann, "lost answer")
    await eventually(
        lambda: sent_items_checked(graph) or len(performed(graph, "/send")) > before + 1,
        "the retry",
    )
    # The group's next mail goes after (one mail of a group at a time).
    await world.say(ann, "after")
    recipients = (ann.email, bob.email, "cy@contoso.com")
    expected = ["lost answer", "after"] if which == "first" else ["one", "lost answer", "after"]
    for address in recipients:
        await eventually(lambda a=address: inbox_texts(graph, a)[-1:] == ["after"], address)  # type: ignore[misc]
    for address in recipients:
        assert inbox_texts(graph, address) == expected, address
        assert len(graph.conversations(address)) == 1
    sent = graph.sent(SENDER)
    assert len(sent) == len(expected)
    assert [c.lost for c in performed(graph, "/send")] == [""] * before + [how, ""]
    assert graph.drafts(SENDER) == []
    # The mail found in Sent Items is the one the next answers: the chain holds.
    assert [graph.thread_headers(m)["In-Reply-To"] for m in sent[1:]] == [
        m["internetMessageId"] for m in sent[:-1]
    ]


async def test_another_instance_finds_an_earlier_attempt_in_sent_items(
    entra: FakeEntra, graph: FakeGraph
) -> None:
    """The instance whose reply lost its answer is gone; the one taking the message over
    (its claim expired, so the message is minutes old) knows nothing of it in memory."""
    for address in (SENDER, "ann@contoso.com", "bob@contoso.com"):
        graph.add_user(address)
    clock = MovableClock()
    credentials = ClientCredentials(
        GRAPH_CLIENT, GRAPH_SECRET, entra.base_url, GRAPH_TENANT, GRAPH_SCOPE
    )
    cards = OutlookCards("originator-id", "https://send.example", CardTokens(b"k" * 32), 2000)

    def mail(message_id: str, thread_id: str, age: timedelta = timedelta()) -> ThreadMail:
        accepted = clock.now() - age
        summary = MessageSummary(message_id, "ann", "Ann", message_id, accepted, Source.TEAMS)
        return ThreadMail(
            tenant_id=GRAPH_TENANT,
            group_id="g1",
            group_name="Lunch",
            message_id=message_id,
            thread_id=thread_id,
            addresses=("ann@contoso.com", "bob@contoso.com"),
            recent=(summary,),
        )

    try:
        async with aiohttp.ClientSession() as session:
            client = GraphClient(session, credentials, graph.base_url)
            crashed = GraphMail(client, SENDER, cards, clock, MemoryVault())
            first = await crashed.record(mail("m1", ""))
            assert first.outcome is SendOutcome.SENT and first.thread_id
            graph.lose_answers = lose_answer(1, path_ends="/send")
            second = mail("m2", first.thread_id)
            assert (await crashed.record(second)).outcome is SendOutcome.RETRY

            clock.advance(timedelta(minutes=6))
            taking_over = GraphMail(client, SENDER, cards, clock, MemoryVault())
            again = await taking_over.record(second)
            assert again.outcome is SendOutcome.SENT and again.thread_id == first.thread_id
            assert sent_items_checked(graph)
            assert len(performed(graph, "/send")) == 2  # the first mail's and the second's
            for address in ("ann@contoso.com", "bob@contoso.com"):
                assert len(graph.mailbox(address)) == 2
            # A message just accepted is sent at once: no Sent Items search first. It
            # answers the mail found there (the second), the newest of the thread.
            calls = len(graph.calls)
            third = await taking_over.record(mail("m3", first.thread_id))
            assert third.outcome is SendOutcome.SENT
            assert [c.path.rsplit("/", 1)[-1] for c in graph.calls[calls:]] == [
                "createReply",
                "send",
            ]
            sent = graph.sent(SENDER)
            assert graph.calls[calls].path.split("/")[-2] == sent[1]["id"]
            # Sent Items that cannot be searched (refused, not unreachable) do not stop mail.
            graph.faults = fail_first(1, status=403, retry_after=None, method="GET")
            fourth = await taking_over.record(mail("m4", first.thread_id, timedelta(minutes=9)))
            assert fourth.outcome is SendOutcome.SENT
            assert [c.status for c in graph.calls[-3:]] == [403, 201, 202]
            # Unreachable: nothing is sent until Graph can say.
            graph.faults = fail_first(3, status=503, retry_after="0", method="GET")
            fifth = await taking_over.record(mail("m5", first.thread_id, timedelta(minutes=9)))
            assert fifth.outcome is SendOutcome.RETRY
            assert len(graph.mailbox("bob@contoso.com")) == 4
    finally:
        credentials.close()


async def test_send_marks_each_mail_with_a_plain_marker_and_no_headers_of_its_own(
    mail_world: TeamsWorld, graph: FakeGraph
) -> None:
    world = mail_world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}")
    await world.say(ann, "one")
    await world.say(ann, "two")
    await eventually(lambda: len(graph.mailbox(bob.email)) == 2, "two mails")
    markers = [graph.extended(m) for m in graph.sent(SENDER)]
    assert [set(m) for m in markers] == [{MARKER_PROPERTY}] * 2
    values = [m[MARKER_PROPERTY] for m in markers]
    assert len(set(values)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", v) for v in values), values
    for mail in graph.mailbox(bob.email):
        assert graph.extended(mail) == {}  # extended properties do not travel
        headers = {h["name"]: h["value"] for h in mail["_internetMessageHeaders"]}
        assert (
            not [  # none written by Send (Exchange stamps its own)
                n
                for n in headers
                if n.lower().startswith("x-")
                and not n.lower().startswith("x-ms-exchange-organization-")
            ]
        )
        for name in ("Message-ID", "In-Reply-To", "References"):
            if name in headers:
                msg_ids(headers[name])
    assert is_msg_id(graph.sent(SENDER)[0]["internetMessageId"])


# The fake's Sent Items query is as strict as Graph's.


@pytest.fixture
async def auth(entra: FakeEntra, http: aiohttp.ClientSession) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": GRAPH_CLIENT,
        "client_secret": GRAPH_SECRET,
        "scope": GRAPH_SCOPE,
    }
    async with http.post(f"{entra.authority(GRAPH_TENANT)}/oauth2/v2.0/token", data=form) as r:
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def sent_items(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], condition: str
) -> tuple[int, dict[str, Any]]:
    url = f"{graph.base_url}/users/{quote(SENDER)}/mailFolders/sentitems/messages"
    params = {"$filter": condition, "$select": "id,subject"}
    async with http.get(url, params=params, headers=auth) as response:
        return response.status, await response.json()


async def test_the_fake_filters_sent_items_as_graph_does(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    graph.add_user(SENDER)
    marker = [{"id": MARKER_PROPERTY, "value": "m1.g1"}]
    draft = {
        "subject": "[Send] Lunch",
        "body": {"contentType": "html", "content": "<p>hi</p>"},
        "toRecipients": [{"emailAddress": {"address": "ann@contoso.com"}}],
        "singleValueExtendedProperties": marker,
        "internetMessageHeaders": [{"name": "x-send-message-id", "value": "m1.g1"}],
    }
    base = f"{graph.base_url}/users/{quote(SENDER)}/messages"
    async with http.post(base, json=draft, headers=auth) as r:
        made = await r.json()
    graph.lose_answers = lose_answer(1, path_ends="/send", how="reset")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post(f"{base}/{made['id']}/send", headers=auth):
            pass
    assert [m["id"] for m in graph.sent(SENDER)] == [made["id"]]  # sent all the same

    def by_marker(property_id: str, value: str) -> str:
        return f"singleValueExtendedProperties/Any(ep: ep/id eq '{property_id}' and ep/value eq '{value}')"

    status, found = await sent_items(graph, http, auth, by_marker(MARKER_PROPERTY, "M1.G1"))
    assert status == 200 and [m["id"] for m in found["value"]] == [made["id"]]
    assert set(found["value"][0]) == {"@odata.etag", "id", "subject"}
    # The name in the property id is case-sensitive; the GUID is not.
    status, found = await sent_items(
        graph, http, auth, by_marker(MARKER_PROPERTY.replace("X-Send", "x-send"), "m1.g1")
    )
    assert status == 200 and found["value"] == []
    status, found = await sent_items(
        graph,
        http,
        auth,
        by_marker(
            MARKER_PROPERTY.upper().replace("X-SEND-MESSAGE-ID", "X-Send-Message-Id"), "m1.g1"
        ),
    )
    assert status == 200 and len(found["value"]) == 1
    status, found = await sent_items(
        graph, http, auth, f"internetMessageId eq '{made['internetMessageId']}'"
    )
    assert status == 200 and len(found["value"]) == 1
    # Graph filters neither on internet headers nor on what the fake does not know.
    for refused in (
        "internetMessageHeaders/any(h: h/name eq 'x-send-message-id' and h/value eq 'm1.g1')",
        "subject eq '[Send] Lunch'",
        by_marker("String not-a-guid Name X", "m1.g1"),
    ):
        status, answer = await sent_items(graph, http, auth, refused)
        assert status == 400, refused
        assert answer["error"]["code"] in (
            "ErrorInvalidProperty",
            "ErrorInvalidUrlQueryFilter",
        )
    # Only custom x- headers may be written, and only plain msg-ids as internetMessageId.
    for bad in (
        {"internetMessageHeaders": [{"name": "Message-ID", "value": "<a@b>"}]},
        {"internetMessageId": "=?utf-8?q?=3Ca=40b=3E?="},
    ):
        async with http.post(base, json={**draft, **bad}, headers=auth) as r:
            assert r.status == 400, bad
