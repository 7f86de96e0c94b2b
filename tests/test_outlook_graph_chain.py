"""The group's Outlook thread through Graph is a chain: each mail answers the one before
(In-Reply-To, References, Thread-Topic, Thread-Index, all set by Exchange), across a
restart too (fake Graph and Entra ID over real protocols)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import pytest

from bot.config import Settings
from bot.core.model import MessageSummary, Source
from bot.core.ports import MailMedia, SendOutcome, ThreadMail
from bot.graph.client import GraphClient
from bot.media.disk import DiskMediaStore
from bot.outlook.card import OutlookCards
from bot.outlook.graph import GraphMail
from bot.outlook.tokens import CardTokens
from tests.conftest import (
    GRAPH_TENANT,
    OUTLOOK_SENDER,
    graph_client,
    graph_credentials,
    graph_settings,
    running_app,
)
from tests.contracts.media_contract import png_bytes
from tests.fakes.connector import FakeConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphCall, fail_first
from tests.outlook_helpers import MovableClock, card_in, card_texts, eventually
from tests.teams_world import TeamsWorld

SENDER = OUTLOOK_SENDER
CY = "cy@contoso.com"
Json = dict[str, Any]


def received_headers(graph: FakeGraph, mail: Json) -> dict[str, str]:
    """The headers of a received copy, as Graph returns them when `$select`ed."""
    shown = graph.public(mail, "internetMessageHeaders")["internetMessageHeaders"]
    return {h["name"]: h["value"] for h in shown}


def assert_chained(headers: list[dict[str, str]], topic: str) -> None:
    """Each mail answers the one before: In-Reply-To names it, References every mail
    before, Thread-Index is its parent's plus one 5-byte block, one Thread-Topic."""
    ids = [h["Message-ID"] for h in headers]
    assert "In-Reply-To" not in headers[0] and "References" not in headers[0]
    for n in range(1, len(headers)):
        assert headers[n]["In-Reply-To"] == ids[n - 1], n
        assert headers[n]["References"].split() == ids[:n], n
    indexes = [base64.b64decode(h["Thread-Index"], validate=True) for h in headers]
    assert [len(i) for i in indexes] == [22 + 5 * n for n in range(len(headers))]
    for parent, child in pairwise(indexes):
        assert child.startswith(parent)
    assert [h["Thread-Topic"] for h in headers] == [topic] * len(headers)


def assert_chained_everywhere(graph: FakeGraph, addresses: tuple[str, ...], topic: str) -> None:
    """The chain in Send's Sent Items and in every recipient's Inbox, the same mails."""
    sent = [graph.thread_headers(m) for m in graph.sent(SENDER)]
    assert_chained(sent, topic)
    for address in addresses:
        received = [received_headers(graph, m) for m in graph.mailbox(address)]
        assert_chained(received, topic)
        for mine, theirs in zip(sent, received, strict=True):
            assert {k: theirs[k] for k in mine} == mine, address


def answered(call: GraphCall) -> str:
    """The message a createReply answers (its id in the path)."""
    return call.path.split("?")[0].split("/")[-2]


def posts(graph: FakeGraph, since: int = 0) -> list[GraphCall]:
    return [c for c in graph.calls[since:] if c.method == "POST" and "/messages" in c.path]


def conversation_searches(graph: FakeGraph) -> list[GraphCall]:
    return [
        c
        for c in graph.calls
        if c.method == "GET" and "conversationId eq" in unquote(c.path.partition("?")[2])
    ]


# The app, with Teams people writing and Graph mailing.


class MailApp:
    """The app in Graph mode that a test can restart (same data, new process state)."""

    def __init__(self, settings: Settings, world: TeamsWorld) -> None:
        self.settings = settings
        self.world = world
        self._app = AsyncExitStack()

    async def start(self) -> None:
        self.world.app_url = await self._app.enter_async_context(running_app(self.settings))

    async def restart(self) -> None:
        await self._app.aclose()
        await self.start()

    async def stop(self) -> None:
        await self._app.aclose()


@pytest.fixture
async def app(
    tmp_path: Path,
    entra: FakeEntra,
    graph: FakeGraph,
    connector: tuple[FakeConnector, str],
) -> AsyncIterator[MailApp]:
    fake, connector_url = connector
    for name in ("Ann", "Bob"):
        graph.add_user(f"{name.lower()}@contoso.com", name)
    graph.add_user(CY, "Cy")
    graph.add_user(SENDER, "Send")
    async with TeamsWorld("http://unused", fake, connector_url) as world:
        running = MailApp(graph_settings(tmp_path, entra, graph), world)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


async def lunch(app: MailApp) -> tuple[str, ...]:
    world = app.world
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, {CY}")
    return ann.email, bob.email, CY


async def mails_in_every_inbox(graph: FakeGraph, addresses: tuple[str, ...], count: int) -> None:
    for address in addresses:
        await eventually(
            lambda a=address: len(graph.mailbox(a)) == count,  # type: ignore[misc]
            f"{count} mails to {address}",
        )


async def test_each_mail_answers_the_one_before(app: MailApp, graph: FakeGraph) -> None:
    addresses = await lunch(app)
    ann = app.world.person("Ann")
    for n, text in enumerate(("one", "two", "three"), start=1):
        await app.world.say(ann, text)
        await mails_in_every_inbox(graph, addresses, n)
    assert_chained_everywhere(graph, addresses, "[Send] Lunch")
    for address in addresses:
        assert len(graph.conversations(address)) == 1
    # A draft and its send for the first; createReply on the previous mail and its send
    # for each later one (2 requests: the new mail's id is known, for the next to answer).
    made = posts(graph)
    assert [c.path.split("?")[0].rsplit("/", 1)[-1] for c in made] == [
        "messages",
        "send",
        *["createReply", "send"] * 2,
    ]
    sent = graph.sent(SENDER)
    assert [answered(made[2]), answered(made[4])] == [sent[0]["id"], sent[1]["id"]]
    assert conversation_searches(graph) == []  # the latest mail was known in memory


async def test_the_chain_holds_across_a_restart(app: MailApp, graph: FakeGraph) -> None:
    """After a restart the latest mail is not in memory: Send finds it in Sent Items
    (one search on the conversation, newest by sentDateTime) and answers it."""
    addresses = await lunch(app)
    for n, text in enumerate(("one", "two"), start=1):
        await app.world.say(app.world.person("Ann"), text)
        await mails_in_every_inbox(graph, addresses, n)
    await app.restart()
    await app.world.say(app.world.person("Bob"), "three")
    await mails_in_every_inbox(graph, addresses, 3)
    assert_chained_everywhere(graph, addresses, "[Send] Lunch")
    (search,) = conversation_searches(graph)
    query = unquote(search.path.partition("?")[2])
    conversation = graph.sent(SENDER)[0]["conversationId"]
    assert f"$filter=conversationId eq '{conversation}'" in query
    assert "$select=id,sentDateTime" in query and "$orderby" not in query
    assert search.status == 200
    (reply,) = [c for c in posts(graph) if c.path.endswith("/createReply")][1:]
    assert answered(reply) == graph.sent(SENDER)[1]["id"]
    # The mail after that answers the third without searching again.
    await app.world.say(app.world.person("Ann"), "four")
    await mails_in_every_inbox(graph, addresses, 4)
    assert_chained_everywhere(graph, addresses, "[Send] Lunch")
    assert len(conversation_searches(graph)) == 1


# GraphMail alone: photos, deleted mails, a Sent Items that cannot be searched.

ADDRESSES = ("ann@contoso.com", "bob@contoso.com")


@pytest.fixture
async def client(entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[GraphClient]:
    for address in (SENDER, *ADDRESSES):
        graph.add_user(address)
    async with graph_client(entra, graph) as made:
        yield made


@pytest.fixture
async def vault(tmp_path: Path) -> DiskMediaStore:
    store = DiskMediaStore(tmp_path / "media")
    await store.open()
    return store


@pytest.fixture
def recorder(client: GraphClient, vault: DiskMediaStore) -> Callable[[], GraphMail]:
    """A new GraphMail each call: an instance that knows nothing yet (a restart)."""
    cards = OutlookCards("originator-id", "https://send.example", CardTokens(b"k" * 32), 2000)
    return lambda: GraphMail(client, SENDER, cards, MovableClock(), vault)


def mail(
    message_id: str,
    thread_id: str = "",
    conversation_id: str = "",
    media: tuple[MailMedia, ...] = (),
) -> ThreadMail:
    summary = MessageSummary(message_id, "ann", "Ann", message_id, datetime.now(UTC), Source.TEAMS)
    return ThreadMail(
        tenant_id=GRAPH_TENANT,
        group_id="g1",
        group_name="Lunch",
        message_id=message_id,
        thread_id=thread_id,
        addresses=ADDRESSES,
        recent=(summary,),
        media=media,
        conversation_id=conversation_id,
    )


async def delete_sent(client: GraphClient, message: Json) -> None:
    path = f"/users/{quote(SENDER)}/messages/{quote(message['id'], safe='')}"
    assert (await client.call("DELETE", path, mailbox=SENDER)).status == 204


async def test_a_mail_with_a_photo_chains_too(
    recorder: Callable[[], GraphMail], graph: FakeGraph, vault: DiskMediaStore
) -> None:
    graph_mail = recorder()
    first = await graph_mail.record(mail("m1"))
    assert first.outcome is SendOutcome.SENT
    second = await graph_mail.record(mail("m2", first.thread_id, first.conversation_id))
    photo = await vault.put(GRAPH_TENANT, "g1", "beach.png", png_bytes((64, 48)), by="ann")
    shown = MailMedia(photo, f"https://send.example/media/{photo.media_id}?sig=x", True)
    before = len(graph.calls)
    third = await graph_mail.record(
        mail("m3", first.thread_id, first.conversation_id, media=(shown,))
    )
    assert second.outcome is third.outcome is SendOutcome.SENT
    assert third.thread_id == first.thread_id
    made = posts(graph, before)
    assert [c.path.rsplit("/", 1)[-1] for c in made] == ["createReply", "attachments", "send"]
    sent = graph.sent(SENDER)
    assert answered(made[0]) == sent[1]["id"]
    assert [len(graph.attachments(m)) for m in sent] == [0, 0, 1]
    assert_chained_everywhere(graph, ADDRESSES, "[Send] Lunch")
    # The mail after the photo answers it.
    await graph_mail.record(mail("m4", first.thread_id, first.conversation_id))
    assert_chained_everywhere(graph, ADDRESSES, "[Send] Lunch")


async def test_a_deleted_previous_mail_is_replaced_by_the_first(
    recorder: Callable[[], GraphMail], client: GraphClient, graph: FakeGraph
) -> None:
    graph_mail = recorder()
    first = await graph_mail.record(mail("m1"))
    thread, conversation = first.thread_id, first.conversation_id
    await graph_mail.record(mail("m2", thread, conversation))
    await delete_sent(client, graph.sent(SENDER)[1])
    before = len(graph.calls)
    third = await graph_mail.record(mail("m3", thread, conversation))
    assert third.outcome is SendOutcome.SENT and third.thread_id == thread
    replies = [c for c in posts(graph, before) if c.path.endswith("/createReply")]
    assert [c.status for c in replies] == [404, 201]
    assert answered(replies[1]) == thread
    first_mail, third_mail = graph.sent(SENDER)
    assert graph.thread_headers(third_mail)["In-Reply-To"] == first_mail["internetMessageId"]
    # The chain goes on from the third: first, third, fourth.
    await graph_mail.record(mail("m4", thread, conversation))
    assert_chained([graph.thread_headers(m) for m in graph.sent(SENDER)], "[Send] Lunch")


async def test_the_first_and_the_previous_mail_deleted_start_a_new_conversation(
    recorder: Callable[[], GraphMail], client: GraphClient, graph: FakeGraph
) -> None:
    graph_mail = recorder()
    first = await graph_mail.record(mail("m1"))
    thread, conversation = first.thread_id, first.conversation_id
    await graph_mail.record(mail("m2", thread, conversation))
    for message in graph.sent(SENDER):
        await delete_sent(client, message)
    again = await graph_mail.record(mail("m3", thread, conversation))
    assert again.outcome is SendOutcome.SENT and again.thread_id not in ("", thread)
    assert again.conversation_id not in ("", conversation)
    (started,) = graph.sent(SENDER)
    assert started["subject"] == "[Send] Lunch"
    assert "In-Reply-To" not in graph.thread_headers(started)
    for address in ADDRESSES:
        assert len(graph.conversations(address)) == 2


async def test_without_a_conversation_or_a_searchable_sent_items_the_first_is_answered(
    recorder: Callable[[], GraphMail], graph: FakeGraph
) -> None:
    """A restarted instance that cannot find the latest mail answers the first: the
    mail still goes out, in the same conversation."""
    first = await recorder().record(mail("m1"))
    thread, conversation = first.thread_id, first.conversation_id
    await recorder().record(mail("m2", thread, conversation))
    first_id = graph.sent(SENDER)[0]["id"]
    # No conversationId known: no search at all.
    before = len(graph.calls)
    assert (await recorder().record(mail("m3", thread))).outcome is SendOutcome.SENT
    assert [c.method for c in graph.calls[before:]] == ["POST", "POST"]
    assert answered(graph.calls[before]) == first_id
    # The search refused (a permission): the first mail, and no retry of the search.
    graph.faults = fail_first(1, status=403, retry_after=None, method="GET")
    before = len(graph.calls)
    assert (await recorder().record(mail("m4", thread, conversation))).outcome is SendOutcome.SENT
    assert [(c.method, c.status) for c in graph.calls[before:]] == [
        ("GET", 403),
        ("POST", 201),
        ("POST", 202),
    ]
    assert answered(graph.calls[before + 1]) == first_id
    for address in ADDRESSES:
        assert len(graph.conversations(address)) == 1


async def test_the_latest_mail_is_the_newest_sent_whatever_order_graph_lists(
    recorder: Callable[[], GraphMail], graph: FakeGraph
) -> None:
    """Graph promises no order for a filtered folder without `$orderby` (and refuses that
    `$orderby` next to the filter): the newest sentDateTime decides, not the listing."""
    graph_mail = recorder()
    first = await graph_mail.record(mail("m1"))
    thread, conversation = first.thread_id, first.conversation_id
    for message_id in ("m2", "m3"):
        await graph_mail.record(mail(message_id, thread, conversation))
    one, two, three = graph.sent(SENDER)
    for n, message in enumerate((one, two, three), start=1):
        message["sentDateTime"] = f"2030-01-01T10:00:0{n}Z"
    box = graph.boxes[SENDER.lower()]
    box[two["id"]] = box.pop(two["id"])  # filed again: now listed first (newest)
    before = len(graph.calls)
    await recorder().record(mail("m4", thread, conversation))
    search, reply, _ = graph.calls[before:]
    assert search.method == "GET" and answered(reply) == three["id"]


# The fake's conversation search and threads are as strict as Graph's and Exchange's.


@pytest.fixture
async def auth(entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[dict[str, str]]:
    graph.add_user(SENDER)
    graph.add_user("ann@contoso.com")
    async with graph_credentials(entra) as credentials:
        yield await credentials.header()


async def test_the_fake_searches_a_conversation_as_graph_does(
    graph: FakeGraph, auth: dict[str, str]
) -> None:
    base = f"{graph.base_url}/users/{quote(SENDER)}"
    draft = {
        "subject": "RE: Fw: Lunch",
        "body": {"contentType": "html", "content": "<p>hi</p>"},
        "toRecipients": [{"emailAddress": {"address": "ann@contoso.com"}}],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/messages", json=draft, headers=auth) as r:
            made = await r.json()
        async with http.post(f"{base}/messages/{made['id']}/send", headers=auth) as r:
            assert r.status == 202
        async with http.post(f"{base}/messages/{made['id']}/createReply", headers=auth) as r:
            reply = await r.json()
        async with http.post(f"{base}/messages/{reply['id']}/send", headers=auth) as r:
            assert r.status == 202
        await graph.user_send("ann@contoso.com", [SENDER], "other", "<p>other</p>")

        async def search(**params: str) -> tuple[int, Json]:
            url = f"{base}/mailFolders/sentitems/messages"
            async with http.get(url, params=params, headers=auth) as r:
                return r.status, await r.json()

        condition = f"conversationId eq '{made['conversationId']}'"
        status, found = await search(**{"$filter": condition, "$select": "id,sentDateTime"})
        assert status == 200
        assert [m["id"] for m in found["value"]] == [reply["id"], made["id"]]  # newest first
        assert all(set(m) == {"@odata.etag", "id", "sentDateTime"} for m in found["value"])
        assert all(datetime.fromisoformat(m["sentDateTime"]) for m in found["value"])
        # Graph sorts a filtered folder only by what the filter names, first.
        status, refused = await search(**{"$filter": condition, "$orderby": "sentDateTime desc"})
        assert status == 400 and refused["error"]["code"] == "InefficientFilter"
        status, _ = await search(**{"$filter": condition, "$orderby": "conversationId"})
        assert status == 200
        # Without a filter the fake sorts by the times (to the second, as Graph keeps them).
        status, ordered = await search(**{"$orderby": "sentDateTime asc", "$select": "id"})
        assert status == 200 and {m["id"] for m in ordered["value"]} == {made["id"], reply["id"]}
        status, _ = await search(**{"$orderby": "bodyPreview"})
        assert status == 400
    # Thread-Topic: the subject without its prefixes, kept by the reply.
    topics = [graph.thread_headers(m)["Thread-Topic"] for m in graph.sent(SENDER)]
    assert topics == ["Lunch", "Lunch"]
    for received in graph.mailbox("ann@contoso.com"):
        assert received_headers(graph, received)["Thread-Topic"] == "Lunch"
    assert graph.thread_headers(graph.sent("ann@contoso.com")[0])["Thread-Topic"] == "other"


async def test_a_reply_draft_not_sent_before_a_later_mail_answers_the_latest(
    recorder: Callable[[], GraphMail], graph: FakeGraph
) -> None:
    """m2's send fails (Graph 503, definite); m3 goes out meanwhile; m2's retry makes a
    new draft on m3 rather than sending its old draft, which answers m1: no fork."""
    graph_mail = recorder()
    first = await graph_mail.record(mail("m1"))
    thread, conversation = first.thread_id, first.conversation_id
    sends = [1]  # a send is never repeated by the client itself

    def fail_sends(call: GraphCall) -> tuple[int, dict[str, str]] | None:
        if sends[0] and call.method == "POST" and call.path.endswith("/send"):
            sends[0] -= 1
            return 503, {}
        return None

    graph.faults = fail_sends
    failed = await graph_mail.record(mail("m2", thread, conversation))
    assert failed.outcome is SendOutcome.RETRY and sends == [0]
    assert (await graph_mail.record(mail("m3", thread, conversation))).outcome is SendOutcome.SENT
    again = await graph_mail.record(mail("m2", thread, conversation))
    assert again.outcome is SendOutcome.SENT
    sent = graph.sent(SENDER)
    # Read off each card's lines: the mail's signed tokens are random text that may hold "m2".
    assert ["m2" in card_texts(card_in(m["body"]["content"])) for m in sent] == [
        False,
        False,
        True,
    ]
    assert_chained([graph.thread_headers(m) for m in sent], "[Send] Lunch")
    assert graph.drafts(SENDER) == []  # the old draft was deleted, not left behind
