"""The Entra ID and Graph fakes speak the real protocols: MSAL, PyJWT and aiohttp accept them."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import jwt
import msal
import pytest

from tests.conftest import GRAPH_CLIENT, GRAPH_SECRET, GRAPH_TENANT
from tests.fakes.entra import OUTLOOK_ACTIONS_APP_ID, FakeEntra
from tests.fakes.graph import FakeGraph, fail_first
from tests.fakes.tls import TlsFiles
from tests.waiting import wait_until

# The client the shared `entra` fixture (conftest.py) registers.
TENANT, CLIENT, SECRET = GRAPH_TENANT, GRAPH_CLIENT, GRAPH_SECRET
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SENDER = "send@contoso.example"
ALEX, MEGAN, ADELE = "alexw@contoso.example", "meganb@contoso.example", "adelev@contoso.example"


@pytest.fixture
def graph(graph: FakeGraph) -> FakeGraph:
    """The shared fake Graph, with this file's directory."""
    for address, name in [(SENDER, "Send"), (ALEX, "Alex Wilber"), (MEGAN, "Megan Bowen")]:
        graph.add_user(address, name)
    return graph


def acquire_twice(entra: FakeEntra, secret: str) -> list[dict[str, Any]]:
    """Runs MSAL exactly as the bot would (blocking, so from a thread)."""
    app = msal.ConfidentialClientApplication(
        CLIENT,
        client_credential=secret,
        authority=entra.authority(TENANT),
        instance_discovery=False,
    )
    try:
        return [app.acquire_token_for_client(scopes=[GRAPH_SCOPE]) for _ in range(2)]
    finally:
        app.http_client.close()


async def graph_token(entra: FakeEntra, http: aiohttp.ClientSession) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": GRAPH_SCOPE,
    }
    async with http.post(f"{entra.authority(TENANT)}/oauth2/v2.0/token", data=form) as response:
        assert response.status == 200
        body = await response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    return str(body["access_token"])


async def jwks(entra: FakeEntra, http: aiohttp.ClientSession) -> jwt.PyJWKSet:
    async with http.get(entra.openid_configuration_url(TENANT)) as response:
        config = await response.json()
    assert config["issuer"] == entra.issuer_v2(TENANT)
    async with http.get(config["jwks_uri"]) as response:
        return jwt.PyJWKSet.from_dict(await response.json())


def verify(token: str, keys: jwt.PyJWKSet, audience: str, issuer: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(
        token, keys[kid].key, algorithms=["RS256"], audience=audience, issuer=issuer
    )
    return claims


async def test_msal_gets_a_token_once_and_then_serves_it_from_its_cache(
    entra: FakeEntra, tls: TlsFiles
) -> None:
    first, second = await asyncio.to_thread(acquire_twice, entra, SECRET)
    assert "access_token" in first, first
    assert first["token_source"] == "identity_provider" and second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"] in entra.issued
    assert entra.token_requests == 1 and entra.discovery_fetches == 1


async def test_msal_with_a_wrong_secret_gets_entras_invalid_client(
    entra: FakeEntra, tls: TlsFiles
) -> None:
    result, _ = await asyncio.to_thread(acquire_twice, entra, "wrong")
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret")
    assert not entra.issued


async def test_the_certificate_is_trusted_through_ssl_cert_file(
    entra: FakeEntra, tls: TlsFiles
) -> None:
    context = ssl.create_default_context()  # made after SSL_CERT_FILE is set
    async with (
        aiohttp.ClientSession() as session,
        session.get(entra.jwks_url(TENANT), ssl=context) as response,
    ):
        assert response.status == 200
    assert entra.jwks_fetches == 1


async def test_unknown_grant_and_scope_without_default_are_refused(
    entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    url = f"{entra.authority(TENANT)}/oauth2/v2.0/token"
    form = {"client_id": CLIENT, "client_secret": SECRET, "scope": GRAPH_SCOPE}
    async with http.post(url, data={**form, "grant_type": "password"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"
    bad_scope = {**form, "grant_type": "client_credentials", "scope": "Mail.Send"}
    async with http.post(url, data=bad_scope) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid_scope"


async def test_access_token_verifies_against_the_jwks_and_names_the_app(
    entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    token = await graph_token(entra, http)
    claims = verify(
        token, await jwks(entra, http), "https://graph.microsoft.com", entra.issuer_v1(TENANT)
    )
    assert claims["appid"] == claims["azp"] == CLIENT and claims["tid"] == TENANT
    assert "Mail.Send" in claims["roles"] and claims["exp"] > claims["iat"]


async def test_action_tokens_rotation_and_forgeries(
    entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    action = {"aud": "https://send.example", "appid": OUTLOOK_ACTIONS_APP_ID, "upn": ALEX}
    old_kid = entra.current.kid
    v1 = entra.mint(action, tenant=TENANT)
    new_kid = entra.rotate_key()
    v2 = entra.mint({**action, "iss": entra.issuer_v2(TENANT)}, tenant=TENANT)
    keys = await jwks(entra, http)
    assert {old_kid, new_kid} <= {key.key_id for key in keys.keys} and new_kid != old_kid
    assert verify(v1, keys, action["aud"], entra.issuer_v1(TENANT))["upn"] == ALEX
    assert jwt.get_unverified_header(v2)["kid"] == new_kid
    assert verify(v2, keys, action["aud"], entra.issuer_v2(TENANT))["tid"] == TENANT
    rogue = entra.mint(action, tenant=TENANT, key="rogue")
    assert jwt.get_unverified_header(rogue)["kid"] == new_kid
    with pytest.raises(jwt.InvalidSignatureError):
        verify(rogue, keys, action["aud"], entra.issuer_v1(TENANT))
    with pytest.raises(KeyError):
        verify(
            entra.mint(action, tenant=TENANT, key="unknown"),
            keys,
            action["aud"],
            entra.issuer_v1(TENANT),
        )
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(
            entra.mint(action, tenant=TENANT, lifetime=-60),
            keys,
            action["aud"],
            entra.issuer_v1(TENANT),
        )
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(
            entra.mint(action, tenant=TENANT, alg="HS256"),
            keys,
            action["aud"],
            entra.issuer_v1(TENANT),
        )
    assert entra.jwks_fetches == 1


async def test_graph_refuses_missing_and_unknown_bearer_tokens(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    url = f"{graph.base_url}/users/{SENDER}/messages/nope"
    forged = entra.mint(
        {"aud": "https://graph.microsoft.com", "roles": ["Mail.Read"]}, tenant=TENANT
    )
    for headers in ({}, {"Authorization": f"Bearer {forged}"}):
        async with http.get(url, headers=headers) as response:
            assert response.status == 401 and response.headers["request-id"]
            assert (await response.json())["error"]["code"] == "InvalidAuthenticationToken"


async def test_a_thread_of_send_reply_all_and_a_targeted_reply(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"Bearer {await graph_token(entra, http)}"}
    base = f"{graph.base_url}/users/{SENDER}/messages"
    draft = {
        "subject": "[Send] lunch",
        "body": {"contentType": "html", "content": "<p>hi</p>"},
        "toRecipients": [{"emailAddress": {"address": ALEX, "name": "Alex"}}],
        "ccRecipients": [
            {"emailAddress": {"address": MEGAN}},
            {"emailAddress": {"address": ADELE}},
        ],
    }
    async with http.post(base, json=draft, headers=auth) as response:
        assert response.status == 201 and response.headers["request-id"]
        created = await response.json()
    assert created["isDraft"] and created["parentFolderId"] == "drafts"
    assert created["from"]["emailAddress"]["address"] == SENDER
    mid = created["id"]
    async with http.post(f"{base}/{mid}/send", headers=auth) as response:
        assert response.status == 202
    for n in range(2):
        async with http.post(
            f"{base}/{mid}/replyAll", json={"comment": f"more {n}"}, headers=auth
        ) as response:
            assert response.status == 202
    people = (ALEX, MEGAN, ADELE)
    for person in people:
        inbox = graph.mailbox(person)
        assert [m["subject"] for m in inbox] == [
            "[Send] lunch",
            "RE: [Send] lunch",
            "RE: [Send] lunch",
        ]
        assert len({m["conversationId"] for m in inbox}) == 1 == len(graph.conversations(person))
        assert inbox[0]["conversationId"] == created["conversationId"]
        assert inbox[2]["_inReplyTo"] == created["internetMessageId"]
    assert graph.sent(SENDER)[0]["id"] == mid and len(graph.sent(SENDER)) == 3
    async with http.get(f"{base}/{mid}", headers=auth) as response:
        sent = await response.json()
    assert sent["isDraft"] is False and sent["parentFolderId"] == "sentitems"
    assert "_inReplyTo" not in sent
    only_alex = {
        "message": {"toRecipients": [{"emailAddress": {"address": ALEX}}]},
        "comment": "psst",
    }
    async with http.post(f"{base}/{mid}/reply", json=only_alex, headers=auth) as response:
        assert response.status == 202
    assert [len(graph.mailbox(p)) for p in people] == [4, 3, 3]
    assert graph.mailbox(ALEX)[-1]["body"]["content"] == "psst"
    both = {"message": {"body": {"contentType": "text", "content": "x"}}, "comment": "y"}
    async with http.post(f"{base}/{mid}/reply", json=both, headers=auth) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "ErrorInvalidRequest"
    # Megan answers with Reply All from her own inbox copy: everyone else gets it.
    theirs = graph.mailbox(MEGAN)[0]["id"]
    async with http.post(
        f"{graph.base_url}/users/{MEGAN}/messages/{theirs}/replyAll",
        json={"comment": "ok"},
        headers=auth,
    ) as response:
        assert response.status == 202
    assert graph.mailbox(SENDER)[-1]["from"]["emailAddress"]["address"] == MEGAN
    assert [len(graph.mailbox(p)) for p in people] == [5, 3, 4]
    async with http.get(f"{base}/unknown", headers=auth) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "ErrorItemNotFound"


async def test_user_lookup(graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession) -> None:
    auth = {"Authorization": f"Bearer {await graph_token(entra, http)}"}
    async with http.get(f"{graph.base_url}/users/AlexW@Contoso.example", headers=auth) as response:
        user = await response.json()
    assert user["displayName"] == "Alex Wilber" and user["userPrincipalName"] == ALEX
    async with http.get(f"{graph.base_url}/users/nobody@contoso.example", headers=auth) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "Request_ResourceNotFound"


async def test_throttling_answers_retry_after_and_concurrency_is_measured(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"Bearer {await graph_token(entra, http)}"}
    url = f"{graph.base_url}/users/{ALEX}"
    graph.faults = fail_first(1, retry_after="7")
    async with http.get(url, headers=auth) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "7"
        assert (await response.json())["error"]["code"] == "TooManyRequests"
    async with http.get(url, headers=auth) as response:
        assert response.status == 200
    graph.mailbox_concurrency = 4
    # Five requests in flight at once: held until all five have arrived, not hoped to
    # overlap because each takes a while (TLS handshakes on a loaded machine take longer).
    graph.hold = release = asyncio.Event()

    async def status() -> int:
        async with http.get(url, headers=auth) as response:
            return response.status

    five = asyncio.gather(*(status() for _ in range(5)))
    try:
        await wait_until(lambda: graph.in_flight.get(ALEX) == 5, what="five requests in flight")
    finally:
        release.set()
    statuses = await five
    assert sorted(statuses) == [200, 200, 200, 200, 429]
    assert graph.max_in_flight[ALEX] == 5
    assert [c.status for c in graph.requests_to(ALEX)][:2] == [429, 200]
