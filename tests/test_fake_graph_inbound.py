"""The fake Graph's inbound mail speaks Graph's protocols: subscription validation, change
notifications to the notificationUrl, and the Inbox delta query with its links."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import GRAPH_CLIENT, GRAPH_SECRET, GRAPH_TENANT
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.fakes.server import LocalServer

# The client the shared `entra` fixture (conftest.py) registers.
TENANT, CLIENT, SECRET = GRAPH_TENANT, GRAPH_CLIENT, GRAPH_SECRET
SENDER = "send@contoso.example"
ALEX, MEGAN, ADELE = "alexw@contoso.example", "meganb@contoso.example", "adelev@contoso.example"
# As the app spells it: the address percent-encoded (`quote` encodes "@").
INBOX = f"/users/{quote(SENDER)}/mailFolders('Inbox')/messages"


class Receiver(LocalServer):
    """The app's notification endpoint: answers Graph's validation request (the token as
    text/plain, unless `echo` is off) and records each notification body, answering 202."""

    def __init__(self) -> None:
        super().__init__()
        self.echo = True
        self.tokens: list[str] = []
        self.notifications: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/graph/notifications", self._post)
        return app

    @property
    def url(self) -> str:
        return f"{self.origin}/api/graph/notifications"

    async def _post(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            assert request.content_type == "text/plain" and not await request.read()
            self.tokens.append(token)
            return web.Response(text=token if self.echo else "nope", content_type="text/plain")
        self.notifications.append(await request.json())
        return web.Response(status=202)


@pytest.fixture
def graph(graph: FakeGraph) -> FakeGraph:
    """The shared fake Graph, with this file's directory."""
    for address, name in [(SENDER, "Send"), (ALEX, "Alex Wilber"), (MEGAN, "Megan Bowen")]:
        graph.add_user(address, name)
    return graph


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


@pytest.fixture
async def auth(entra: FakeEntra, http: aiohttp.ClientSession) -> dict[str, str]:
    """A client-credentials Graph token, as `Authorization` header."""
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    async with http.post(f"{entra.authority(TENANT)}/oauth2/v2.0/token", data=form) as response:
        return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


def in_minutes(minutes: int) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    return moment.isoformat().replace("+00:00", "Z")


async def subscribe(
    graph: FakeGraph,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    url: str,
    **overrides: Any,
) -> tuple[int, dict[str, Any]]:
    body = {
        "changeType": "created",
        "notificationUrl": url,
        "resource": INBOX,
        "expirationDateTime": in_minutes(3 * 24 * 60),
        "clientState": "s3cret-state",
        **overrides,
    }
    async with http.post(f"{graph.base_url}/subscriptions", json=body, headers=auth) as response:
        return response.status, await response.json()


async def thread(graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]) -> str:
    """The service mailbox sends a mail to Alex, Cc Megan, through Graph; returns its id."""
    draft = {
        "subject": "[Send] lunch",
        "body": {"contentType": "html", "content": "<p>Lunch at noon?</p>"},
        "toRecipients": [{"emailAddress": {"address": ALEX}}],
        "ccRecipients": [{"emailAddress": {"address": MEGAN}}],
    }
    base = f"{graph.base_url}/users/{SENDER}/messages"
    async with http.post(base, json=draft, headers=auth) as response:
        mid = str((await response.json())["id"])
    async with http.post(f"{base}/{mid}/send", headers=auth) as response:
        assert response.status == 202
    return mid


async def get(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str], page_size: int = 0
) -> tuple[int, dict[str, Any]]:
    headers = {**auth, "Prefer": f"odata.maxpagesize={page_size}"} if page_size else auth
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_a_reply_all_into_the_subscribed_inbox_is_notified(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    status, created = await subscribe(graph, http, auth, receiver.url)
    assert status == 201, created
    assert created["resource"] == INBOX and created["clientState"] == "s3cret-state"
    assert created["applicationId"] == CLIENT and created["latestSupportedTlsVersion"] == "v1_2"
    assert created["@odata.context"].endswith("#subscriptions/$entity")
    assert graph.validations == 1 and receiver.tokens[0].startswith("Validation: ")
    assert set(graph.subscriptions) == {created["id"]}
    mid = await thread(graph, http, auth)
    assert graph.notifications_sent == []  # nothing arrived in the service mailbox
    original = graph.mailbox(ALEX)[0]
    reply = await graph.user_reply_all(ALEX, original["id"], "<p>Count me in</p>")
    assert (
        reply["subject"] == "RE: [Send] lunch"
        and reply["conversationId"] == original["conversationId"]
    )
    assert reply["from"]["emailAddress"]["address"] == ALEX
    assert [r["emailAddress"]["address"] for r in reply["toRecipients"]] == [SENDER]
    assert [r["emailAddress"]["address"] for r in reply["ccRecipients"]] == [MEGAN]
    assert reply["body"]["content"].startswith("<p>Count me in</p><hr")
    assert 'id="divRplyFwdMsg"' in reply["body"]["content"]
    assert "Lunch at noon?" in reply["body"]["content"]
    assert graph.sent(ALEX)[-1]["id"] == reply["id"] and len(graph.mailbox(MEGAN)) == 2
    arrived = graph.mailbox(SENDER)[-1]
    await graph.wait_for(lambda: len(graph.notifications_sent) == 1, what="notification")
    sent = graph.notifications_sent[0]
    assert sent.status == 202 and sent.url == receiver.url
    assert receiver.notifications == [sent.body]
    resource = f"Users/{graph.users[SENDER].id}/Messages/{arrived['id']}"
    (item,) = sent.body["value"]
    assert item == {
        "subscriptionId": created["id"],
        "subscriptionExpirationDateTime": item["subscriptionExpirationDateTime"],
        "changeType": "created",
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": resource,
            "@odata.etag": f'W/"{arrived["changeKey"]}"',
            "id": arrived["id"],
        },
        "clientState": "s3cret-state",
        "tenantId": TENANT,
    }
    assert datetime.datetime.fromisoformat(item["subscriptionExpirationDateTime"]).tzinfo
    url = f"{graph.base_url}/users/{SENDER}/messages/{arrived['id']}?$select=uniqueBody,subject"
    status, shown = await get(http, url, auth)
    assert shown["uniqueBody"] == {"contentType": "html", "content": "<p>Count me in</p>"}
    assert mid != arrived["id"]


async def test_an_endpoint_that_does_not_echo_the_token_is_refused(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    receiver.echo = False
    status, body = await subscribe(graph, http, auth, receiver.url)
    assert status == 400 and body["error"]["code"] == "ValidationError"
    assert body["error"]["message"].startswith("Subscription validation request failed.")
    assert graph.validations == 1 and not graph.subscriptions
    status, body = await subscribe(graph, http, auth, f"{graph.origin}/nowhere")
    assert status == 400 and body["error"]["code"] == "ValidationError"
    status, body = await subscribe(graph, http, auth, "http://example.com/hook")
    assert status == 400 and graph.validations == 2  # refused before any validation
    too_long = in_minutes(10080 + 5)
    status, body = await subscribe(graph, http, auth, receiver.url, expirationDateTime=too_long)
    assert status == 400 and "10080 minutes" in body["error"]["message"]
    async with http.post(f"{graph.base_url}/subscriptions", json={}) as response:
        assert response.status == 401


async def test_renew_list_and_delete_a_subscription(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    resource = f"users/{SENDER.upper()}/mailfolders/INBOX/messages"
    status, created = await subscribe(graph, http, auth, receiver.url, resource=resource)
    assert status == 201
    url = f"{graph.base_url}/subscriptions/{created['id']}"
    later = in_minutes(5000)
    async with http.patch(url, json={"expirationDateTime": later}, headers=auth) as response:
        assert response.status == 200
        renewed = await response.json()
    assert (
        renewed["id"] == created["id"]
        and renewed["expirationDateTime"] != created["expirationDateTime"]
    )
    status, listed = await get(http, f"{graph.base_url}/subscriptions", auth)
    assert status == 200 and [s["id"] for s in listed["value"]] == [created["id"]]
    async with http.delete(url, headers=auth) as response:
        assert response.status == 204
    assert not graph.subscriptions
    for method in ("PATCH", "DELETE"):
        async with http.request(method, url, json={"expirationDateTime": later}, headers=auth) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "ResourceNotFound"
    await graph.user_send(ALEX, [SENDER], "hello", "<p>hi</p>")
    assert graph.validations == 1 and graph.notifications_sent == []


async def test_delta_pages_then_returns_only_what_arrived_since(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    for n in range(3):
        await graph.user_send(ALEX, [SENDER, MEGAN], f"note {n}", f"<p>{n}</p>")
    first = f"{graph.base_url}/users/{SENDER}/mailFolders('Inbox')/messages/delta"
    status, page = await get(http, first, auth, page_size=2)
    assert status == 200 and page["@odata.context"].endswith("#Collection(message)")
    assert [m["subject"] for m in page["value"]] == ["note 0", "note 1"]
    assert page["value"][0]["uniqueBody"] == {"contentType": "html", "content": "<p>0</p>"}
    assert "@odata.deltaLink" not in page
    next_link = page["@odata.nextLink"]
    assert next_link.startswith(f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/")
    assert "$skiptoken=" in next_link
    status, page = await get(http, next_link, auth, page_size=2)
    assert [m["subject"] for m in page["value"]] == ["note 2"]
    delta_link = page["@odata.deltaLink"]
    assert "$deltatoken=" in delta_link and "@odata.nextLink" not in page
    status, page = await get(http, delta_link, auth)
    assert status == 200 and page["value"] == []
    delta_link = page["@odata.deltaLink"]
    original = graph.mailbox(MEGAN)[1]
    reply = await graph.user_reply_all(MEGAN, original["id"], "<p>Yes</p>")
    status, page = await get(http, delta_link, auth)
    (mail,) = page["value"]
    assert mail["conversationId"] == reply["conversationId"] and mail["id"] != reply["id"]
    assert mail["uniqueBody"]["content"] == "<p>Yes</p>" and mail["isDraft"] is False
    assert "divRplyFwdMsg" in mail["body"]["content"] and mail["parentFolderId"] == "inbox"
    select = "$select=id,subject,uniqueBody"
    url = f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/messages/delta?{select}"
    status, page = await get(http, url, auth)
    assert len(page["value"]) == 4 and set(page["value"][3]) == {
        "@odata.etag",
        "id",
        "subject",
        "uniqueBody",
    }
    assert graph.notifications_sent == []  # nobody subscribed


async def test_unknown_delta_and_skip_tokens_are_gone(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    base = f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/messages/delta"
    for query in ("$deltatoken=nope", "$skiptoken=nope"):
        status, body = await get(http, f"{base}?{query}", auth)
        assert status == 410 and body["error"]["code"] == "SyncStateNotFound"
    status, page = await get(http, base, auth)
    other = page["@odata.deltaLink"].replace(SENDER, ALEX)
    status, body = await get(http, other, auth)
    assert status == 410  # a token is only good for the mailbox it was issued for


async def test_with_notifications_off_delta_still_sees_the_mail(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    status, _ = await subscribe(graph, http, auth, receiver.url)
    assert status == 201
    base = f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/messages/delta"
    status, page = await get(http, base, auth)
    assert page["value"] == []
    graph.notifications_enabled = False
    await thread(graph, http, auth)
    await graph.user_reply_all(ALEX, graph.mailbox(ALEX)[0]["id"], "<p>late</p>")
    status, page = await get(http, page["@odata.deltaLink"], auth)
    assert [m["uniqueBody"]["content"] for m in page["value"]] == ["<p>late</p>"]
    assert graph.notifications_sent == [] and receiver.notifications == []
    graph.notifications_enabled = True
    await graph.user_send(MEGAN, [SENDER], "ping", "<p>ping</p>")
    await graph.wait_for(lambda: len(receiver.notifications) == 1, what="notification")


async def test_internet_message_headers_only_when_selected(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    mid = await thread(graph, http, auth)
    await graph.user_reply_all(ALEX, graph.mailbox(ALEX)[0]["id"], "<p>in</p>", sender=MEGAN)
    await graph.user_send("dee@fabrikam.example", [SENDER], "hello", "<p>hi</p>")
    intra, outside = graph.mailbox(SENDER)
    base = f"{graph.base_url}/users/{SENDER}/messages"
    status, shown = await get(http, f"{base}/{intra['id']}", auth)
    assert status == 200 and "internetMessageHeaders" not in shown
    assert shown["from"]["emailAddress"]["address"] == ALEX
    assert shown["sender"]["emailAddress"]["address"] == MEGAN  # sent on Alex's behalf
    select = "?$select=internetMessageHeaders"
    status, shown = await get(http, f"{base}/{intra['id']}{select}", auth)
    headers = shown["internetMessageHeaders"]
    assert set(shown) == {"@odata.etag", "id", "internetMessageHeaders"}
    names = [h["name"] for h in headers]
    assert names[:2] == ["Received", "Authentication-Results"] and "Sender" in names
    assert headers[1]["value"] == (
        "dkim=none (message not signed) header.d=none;dmarc=none action=none "
        "header.from=contoso.example;"
    )
    status, shown = await get(http, f"{base}/{outside['id']}{select}", auth)
    verdict = shown["internetMessageHeaders"][1]["value"]
    assert "dmarc=pass action=none header.from=fabrikam.example" in verdict
    # What was never received has no transport headers.
    status, shown = await get(http, f"{base}/{mid}{select}", auth)
    assert status == 200 and "internetMessageHeaders" not in shown
    delta = f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/messages/delta"
    status, page = await get(http, delta, auth)
    assert all("internetMessageHeaders" not in m for m in page["value"])
    status, page = await get(http, f"{delta}?$select=subject,internetMessageHeaders", auth)
    assert all(
        m["internetMessageHeaders"][1]["name"] == "Authentication-Results" for m in page["value"]
    )


async def test_delta_selects_the_recipients_of_a_reply_and_a_reply_all(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    """Reply goes to the original's sender alone (plus a Cc added by hand); Reply All to
    the sender and the To, Cc the original Cc, minus the one answering."""
    await thread(graph, http, auth)  # To Alex, Cc Megan
    select = "$select=uniqueBody,from,toRecipients,ccRecipients"
    delta = f"{graph.base_url}/users/{SENDER}/mailFolders/inbox/messages/delta?{select}"
    status, page = await get(http, delta, auth)
    await graph.user_reply(ALEX, graph.mailbox(ALEX)[0]["id"], "<p>just Send</p>")
    await graph.user_reply(ALEX, graph.mailbox(ALEX)[0]["id"], "<p>and Adele</p>", cc=[ADELE])
    await graph.user_reply_all(MEGAN, graph.mailbox(MEGAN)[0]["id"], "<p>everyone</p>")
    # The delta link keeps the first request's $select.
    status, page = await get(http, page["@odata.deltaLink"], auth)
    assert status == 200

    def who(recipients: list[dict[str, Any]]) -> list[str]:
        return [r["emailAddress"]["address"] for r in recipients]

    seen = [
        (m["uniqueBody"]["content"], who(m["toRecipients"]), who(m["ccRecipients"]))
        for m in page["value"]
    ]
    assert seen == [
        ("<p>just Send</p>", [SENDER], []),
        ("<p>and Adele</p>", [SENDER], [ADELE]),
        ("<p>everyone</p>", [SENDER, ALEX], []),
    ]
    assert set(page["value"][0]) == {
        "@odata.etag",
        "id",
        "uniqueBody",
        "from",
        "toRecipients",
        "ccRecipients",
    }
    (to_adele,) = graph.mailbox(ADELE)
    assert graph.public(to_adele, "uniqueBody")["uniqueBody"]["content"] == "<p>and Adele</p>"


async def test_lifecycle_notifications(
    graph: FakeGraph, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    status, plain = await subscribe(graph, http, auth, receiver.url)
    assert status == 201 and plain["lifecycleNotificationUrl"] is None
    with pytest.raises(ValueError, match="lifecycleNotificationUrl"):
        await graph.lifecycle(plain["id"], "missed")
    assert graph.validations == 1
    status, created = await subscribe(
        graph, http, auth, receiver.url, lifecycleNotificationUrl=receiver.url
    )
    assert status == 201 and created["lifecycleNotificationUrl"] == receiver.url
    assert graph.validations == 3  # both endpoints, each on its own
    sent = await graph.lifecycle(created["id"], "reauthorizationRequired")
    assert sent.status == 202 and receiver.notifications[-1] == sent.body
    assert sent.body == {
        "value": [
            {
                "subscriptionId": created["id"],
                "subscriptionExpirationDateTime": created["expirationDateTime"],
                "tenantId": TENANT,
                "clientState": "s3cret-state",
                "lifecycleEvent": "reauthorizationRequired",
            }
        ]
    }
    # Until it is renewed, the subscription tells nothing; the other one still does.
    await graph.user_send(ALEX, [SENDER], "while paused", "<p>1</p>")
    url = f"{graph.base_url}/subscriptions/{created['id']}"
    async with http.patch(url, json={"expirationDateTime": in_minutes(60)}, headers=auth) as r:
        assert r.status == 200
    assert graph.subscriptions[created["id"]].renewals == 1
    await graph.user_send(ALEX, [SENDER], "renewed", "<p>2</p>")

    def told(sid: str) -> list[dict[str, Any]]:
        return [n.body["value"][0] for n in graph.notifications_sent if n.subscription_id == sid]

    # The other subscription tells of both mails; this one, its lifecycle event and mail 2.
    await graph.wait_for(
        lambda: len(told(plain["id"])) == 2 and len(told(created["id"])) == 2,
        what="notifications",
    )
    renewed_mail = graph.mailbox(SENDER)[-1]
    lifecycle_item, change = told(created["id"])
    assert lifecycle_item["lifecycleEvent"] == "reauthorizationRequired"
    assert change["changeType"] == "created"
    assert change["resourceData"]["id"] == renewed_mail["id"]
    sent = await graph.lifecycle(created["id"], "subscriptionRemoved")
    assert sent.body["value"][0]["lifecycleEvent"] == "subscriptionRemoved"
    assert set(graph.subscriptions) == {plain["id"]}
