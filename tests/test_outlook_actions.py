"""One-click replies from the Outlook card: Entra ID tokens checked as docs/architecture.md says."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.core.membership.policy import CONSUMER_TENANT, PERSONAL_ACCOUNT
from bot.outlook import action_auth
from bot.outlook.action_auth import ActionTokenError, ActionTokenValidator
from bot.outlook.actions import parse_action_body
from bot.outlook.tokens import CardTokenError, CardTokens
from bot.web.app import create_app
from bot.web.json_body import JsonBodyError
from tests.conftest import AM_AUDIENCE, FAST_TUNING, serve
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.entra import OUTLOOK_ACTIONS_APP_ID, FakeEntra
from tests.outlook_helpers import (
    MovableClock,
    action_body,
    card_in,
    card_texts,
    eml_files,
    eventually,
    html_of,
    read_eml,
)
from tests.teams_world import TeamsWorld, card_text

TENANT = "tenant-a"


def object_id(address: str) -> str:
    """The Entra object id TeamsWorld gives the person with this address."""
    return "aad-" + re.sub(r"[^a-z]", "", address.split("@")[0])


@dataclass
class Scene:
    world: TeamsWorld
    entra: FakeEntra
    data: Path
    clock: MovableClock
    card: dict[str, Any]

    def token(self, actor: str = "bob@contoso.com", **changes: Any) -> str:
        key = changes.pop("key", "current")
        lifetime = changes.pop("lifetime", 3600)
        tenant = changes.pop("tenant", TENANT)
        claims: dict[str, Any] = {
            "aud": AM_AUDIENCE,
            "azp": OUTLOOK_ACTIONS_APP_ID,
            "upn": actor,
            "iss": f"https://sts.windows.net/{tenant}/",
        }
        claims.update(changes)
        if "oid" not in changes:  # Entra puts the user's object id in every user token
            claims["oid"] = object_id(str(claims.get("upn") or claims.get("preferred_username")))
        claims = {k: v for k, v in claims.items() if v is not None}
        return self.entra.mint(claims, tenant=tenant, key=key, lifetime=lifetime)

    async def act(
        self, reply: str, token: str | None, header: str = "Authorization", body: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[header] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.world.app_url}/api/outlook/actions",
                data=(body if body is not None else action_body(self.card, reply)).encode(),
                headers=headers,
            ) as response,
        ):
            return response.status, dict(response.headers), await response.text()


@pytest.fixture
async def scene(
    tmp_path: Path, entra: FakeEntra, connector: tuple[FakeConnector, str]
) -> AsyncIterator[Scene]:
    fake, connector_url = connector
    clock = MovableClock()
    settings = Settings(
        data_dir=tmp_path,
        aad_authority_host=entra.base_url,
        am_audience=AM_AUDIENCE,
        am_originator="originator-id",
        public_base_url="https://send.example",
    )
    app = create_app(settings, clock=clock, tuning=FAST_TUNING)
    async with serve(app) as url, TeamsWorld(url, fake, connector_url) as world:
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        await world.say(ann, f"new Lunch: {bob.email}")
        await world.say(ann, "Pizza at 12?")
        await eventually(lambda: len(eml_files(tmp_path, bob.email)) == 1, "the first mail")
        card = card_in(html_of(read_eml(eml_files(tmp_path, bob.email)[0])))
        yield Scene(world, entra, tmp_path, clock, card)


async def test_a_valid_action_relays_and_refreshes_the_card(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    status, headers, body = await scene.act("Yes, 12 is fine", scene.token())
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    assert headers["CARD-UPDATE-IN-BODY"] == "true"
    assert headers["CARD-ACTION-STATUS"] == "Sent to Lunch"
    refreshed = card_in(f'<script type="application/adaptivecard+json">{body}</script>')
    assert card_texts(refreshed)[-1] == "Yes, 12 is fine"
    await scene.world.wait_relayed(ann, 1)
    assert "Bob" in card_text(scene.world.relayed(ann)[0])
    assert "Yes, 12 is fine" in card_text(scene.world.relayed(ann)[0])
    await eventually(lambda: len(eml_files(scene.data, ann.email)) == 2, "the reply in the thread")
    second = read_eml(eml_files(scene.data, ann.email)[1])
    assert second["In-Reply-To"] == read_eml(eml_files(scene.data, ann.email)[0])["Message-ID"]
    await scene.world.say(ann, "history")
    assert "Bob: Yes, 12 is fine" in scene.world.last_reply(ann)


async def test_action_authorization_header_and_v2_issuer(scene: Scene) -> None:
    token = scene.token(iss=scene.entra.issuer_v2(TENANT), azp=None, appid=OUTLOOK_ACTIONS_APP_ID)
    status, headers, _ = await scene.act("from the v2 token", token, header="Action-Authorization")
    assert status == 200, headers.get("CARD-ACTION-STATUS")


async def test_quotes_typed_into_the_card_survive(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    status, _, _ = await scene.act('He said "yes" \\o/', scene.token())
    assert status == 200
    await scene.world.wait_relayed(ann, 1)
    assert 'He said "yes" \\o/' in card_text(scene.world.relayed(ann)[0])


async def test_the_same_action_twice_is_one_message(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    token = scene.token()
    assert (await scene.act("only once", token))[0] == 200
    assert (await scene.act("only once", token))[0] == 200
    await scene.world.wait_relayed(ann, 1)
    await scene.world.say(ann, "history")
    assert scene.world.last_reply(ann).count("only once") == 1


async def test_key_rotation_is_picked_up(scene: Scene) -> None:
    assert (await scene.act("before", scene.token()))[0] == 200
    scene.entra.rotate_key()
    status, headers, _ = await scene.act("after", scene.token())
    assert status == 200, headers.get("CARD-ACTION-STATUS")


REFUSALS: list[tuple[str, dict[str, Any], int, str]] = [
    ("wrong key", {"key": "rogue"}, 401, "Token signature or claims are invalid"),
    ("unknown key", {"key": "unknown"}, 401, "Token signed with an unknown key"),
    (
        "wrong issuer",
        {"iss": "https://sts.windows.net/other/"},
        401,
        "Token issuer is not the tenant's",
    ),
    ("wrong audience", {"aud": "https://other.example"}, 401, "Token audience is not this service"),
    ("wrong client", {"azp": "11111111-2222-3333-4444-555555555555"}, 401, "not issued to Outlook"),
    ("expired", {"lifetime": -600}, 401, "Token expired"),
    ("no user", {"upn": None}, 401, "Token names no user"),
    ("HS256", {"alg": "HS256"}, 401, "Token must be signed with RS256"),
    ("other tenant", {"tenant": "tenant-b"}, 403, "This card belongs to another organisation"),
    ("not a member", {"upn": "eve@contoso.com"}, 403, "You are not a member of Lunch"),
]


@pytest.mark.parametrize(
    ("case", "changes", "status", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_refusals_relay_nothing(
    scene: Scene, case: str, changes: dict[str, Any], status: int, reason: str
) -> None:
    alg = changes.pop("alg", None)
    token = (
        scene.entra.mint(
            {"aud": AM_AUDIENCE, "azp": OUTLOOK_ACTIONS_APP_ID, "upn": "bob@contoso.com"},
            tenant=TENANT,
            alg=alg,
        )
        if alg
        else scene.token(**changes)
    )
    got, headers, _ = await scene.act(f"refused: {case}", token)
    assert got == status
    assert reason in headers["CARD-ACTION-STATUS"]
    await nothing_relayed(scene)


async def test_missing_token(scene: Scene) -> None:
    got, headers, _ = await scene.act("no token", None)
    assert (got, headers["CARD-ACTION-STATUS"]) == (401, "Missing bearer token")
    got, headers, _ = await scene.act("garbage", "not.a.jwt")
    assert (got, headers["CARD-ACTION-STATUS"]) == (401, "Malformed bearer token")
    await nothing_relayed(scene)


async def test_removed_member_is_refused(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    await scene.world.say(ann, "remove lunch: bob@contoso.com")
    got, headers, _ = await scene.act("still here?", scene.token())
    assert (got, headers["CARD-ACTION-STATUS"]) == (403, "You are not a member of Lunch")
    await nothing_relayed(scene)


async def test_tampered_and_expired_card_tokens(scene: Scene) -> None:
    body = action_body(scene.card, "tampered")
    token_value = body.split('"token": "')[1].split('"')[0]
    payload, mac = token_value.split(".")
    forged = body.replace(token_value, f"{payload}x.{mac}")
    got, headers, _ = await scene.act("", scene.token(), body=forged)
    assert (got, headers["CARD-ACTION-STATUS"]) == (
        403,
        "the card token is not one this service signed",
    )
    got, headers, _ = await scene.act("", scene.token(), body='{"nothing": "here"}')
    assert got == 400
    scene.clock.advance(timedelta(days=31))
    got, headers, _ = await scene.act("too late", scene.token())
    assert (got, headers["CARD-ACTION-STATUS"]) == (
        403,
        "the card has expired; answer from a newer message",
    )
    await nothing_relayed(scene)


async def test_empty_and_too_long_replies(scene: Scene) -> None:
    got, headers, _ = await scene.act("  ", scene.token())
    assert got == 400 and "nothing to send" in headers["CARD-ACTION-STATUS"]
    got, headers, _ = await scene.act("x" * 2001, scene.token())
    assert got == 400 and "limit is 2000" in headers["CARD-ACTION-STATUS"]
    await nothing_relayed(scene)


async def nothing_relayed(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    await scene.world.say(ann, "history")
    assert scene.world.last_reply(ann).count("\n") == 1  # only Ann's first message
    assert scene.world.relayed(ann) == []
    assert len(eml_files(scene.data, ann.email)) == 1


async def test_the_object_id_finds_the_member_whatever_the_upn(scene: Scene) -> None:
    """UPN and mail address can differ: the token's oid is the member's, so it is Bob."""
    token = scene.token(actor="bob.b@contoso.onmicrosoft.com", oid=object_id("bob@contoso.com"))
    status, headers, _ = await scene.act("from my other address", token)
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    await scene.world.wait_relayed(scene.world.person("Ann"), 1)
    assert "Bob" in card_text(scene.world.relayed(scene.world.person("Ann"))[0])


IMPERSONATIONS: list[tuple[str, dict[str, Any]]] = [
    # The email claim names a member, the upn does not: the upn is who acted.
    ("upn of a non-member, email of a member", {"actor": "eve@contoso.com", "oid": None}),
    ("same, with the non-member's oid", {"actor": "eve@contoso.com"}),
    # A guest's upn has #EXT#; their email claim is whatever their home account says.
    (
        "guest upn, email of a member",
        {"actor": "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "oid": "aad-guest"},
    ),
    # Bob's address, but not Bob's object id: someone else holds that address now.
    ("member's upn, another oid", {"oid": "aad-someone-else"}),
    ("member's upn, no oid", {"oid": None}),
]


@pytest.mark.parametrize(
    ("case", "changes"), IMPERSONATIONS, ids=[case for case, _ in IMPERSONATIONS]
)
async def test_impersonating_a_member_is_refused(
    scene: Scene, case: str, changes: dict[str, Any]
) -> None:
    token = scene.token(email="bob@contoso.com", **changes)
    got, headers, _ = await scene.act(f"as Bob: {case}", token)
    assert (got, headers["CARD-ACTION-STATUS"]) == (403, "You are not a member of Lunch")
    await nothing_relayed(scene)


async def test_preferred_username_alone_names_the_actor(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    # Dee is an Outlook-only member: Send knows her address, not her object id.
    await scene.world.say(ann, "add lunch: dee@contoso.com")
    token = scene.token(upn=None, preferred_username="Dee@contoso.com", oid="entra-oid-of-dee")
    status, headers, _ = await scene.act("Dee here", token)
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    await scene.world.wait_relayed(ann, 1)
    assert "Dee here" in card_text(scene.world.relayed(ann)[0])
    # Bob with only preferred_username is found by his object id.
    token = scene.token(upn=None, preferred_username="bob@contoso.com")
    status, headers, _ = await scene.act("Bob here", token)
    assert status == 200, headers.get("CARD-ACTION-STATUS")


async def test_an_unknown_tenant_is_looked_up_once(scene: Scene) -> None:
    scene.entra.missing_tenants.add("no-such-tenant")
    before = scene.entra.discovery_fetches
    token = scene.token(tenant="no-such-tenant")
    answers = await asyncio.gather(*(scene.act(f"try {n}", token) for n in range(50)))
    assert {(status, headers["CARD-ACTION-STATUS"]) for status, headers, _ in answers} == {
        (401, "Unknown tenant")
    }
    assert scene.entra.discovery_fetches - before == 1
    await nothing_relayed(scene)


async def test_a_personal_microsoft_account_is_refused_before_any_lookup(scene: Scene) -> None:
    before = scene.entra.discovery_fetches
    token = scene.token(tenant=CONSUMER_TENANT)
    status, headers, _ = await scene.act("hello", token)
    assert (status, headers["CARD-ACTION-STATUS"]) == (403, PERSONAL_ACCOUNT)
    assert scene.entra.discovery_fetches == before
    await nothing_relayed(scene)


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_unverified_tenants_leave_no_locks_and_a_bounded_memory(
    entra: FakeEntra, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens choose the tenant before they are verified: what is kept for them is bounded."""
    monkeypatch.setattr(action_auth, "MAX_TENANTS", 3)
    clock = SteppedClock()
    validator = ActionTokenValidator(http, entra.base_url, AM_AUDIENCE, frozenset(), clock)
    tenants = [f"gone-{n}" for n in range(5)]
    entra.missing_tenants.update(tenants)
    claims = {"aud": AM_AUDIENCE, "azp": OUTLOOK_ACTIONS_APP_ID, "upn": "bob@contoso.com"}
    for tenant in tenants:
        with pytest.raises(ActionTokenError, match="Unknown tenant"):
            await validator.validate(f"Bearer {entra.mint(claims, tenant=tenant)}")
    # The locks, the remembered refusals: the memory under test is the validator's own.
    assert len(validator._locks) == 0
    assert list(validator._unknown) == tenants[-3:]
    fetched = entra.discovery_fetches
    again = f"Bearer {entra.mint(claims, tenant=tenants[-1])}"
    with pytest.raises(ActionTokenError, match="Unknown tenant"):
        await validator.validate(again)
    assert entra.discovery_fetches == fetched
    clock.now += action_auth.UNKNOWN_TENANT_SECONDS + 1  # a minute later Entra is asked again
    with pytest.raises(ActionTokenError, match="Unknown tenant"):
        await validator.validate(again)
    assert entra.discovery_fetches == fetched + 1


@pytest.mark.parametrize(
    "raw",
    [
        b'{"token": "a.b", "reply": "hi \\ud800"}',
        b'{"token": "a.b", "reply": "ok", "\\udfff": 1}',
        b'{"token": "\\udbff.b", "reply": "hi"}',
    ],
)
def test_an_action_body_with_a_lone_surrogate_is_refused(raw: bytes) -> None:
    with pytest.raises(JsonBodyError, match="lone surrogate"):
        parse_action_body(raw)


def test_outlooks_broken_json_keeps_escapes_as_typed() -> None:
    """The fixed-shape reading (a quote broke the JSON) leaves `\\ud800` as six characters."""
    token, reply = parse_action_body(b'{"token": "a.b", "reply": "say "hi" \\ud800"}')
    assert (token, reply) == ("a.b", 'say "hi" \\ud800')
    assert reply.encode("utf-8")  # no lone surrogate


def test_a_paired_surrogate_escape_is_one_character() -> None:
    assert parse_action_body(b'{"token": "a.b", "reply": "\\ud83d\\ude00"}') == (
        "a.b",
        "\U0001f600",
    )


@pytest.mark.parametrize("token", ["\u00e9", "abc.d\u00e9f", "\u00e9abc.def", "abc.\udcff"])
def test_a_card_token_that_is_not_ascii_is_not_ours(token: str) -> None:
    tokens = CardTokens(b"k" * 32)
    now = datetime.now(UTC)
    payload, _, mac = tokens.sign(TENANT, "g1", now).partition(".")
    for candidate in (token, f"{payload}.{mac}{token}", f"{token}{payload}.{mac}"):
        with pytest.raises(CardTokenError, match="not one this service signed"):
            tokens.verify(candidate, now)


@pytest.mark.parametrize(
    "authorization", ["Bearer \udcff\udcfe", "Bearer a.b\u00e9.c", "Bearer a.b\x7f.c"]
)
async def test_a_bearer_token_that_is_not_printable_ascii_is_malformed(
    authorization: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        validator = ActionTokenValidator(session, "http://127.0.0.1:9", AM_AUDIENCE, frozenset())
        with pytest.raises(ActionTokenError) as refused:
            await validator.validate(authorization)
    assert (refused.value.status, refused.value.reason) == (401, "Malformed bearer token")


def one_click(card: dict[str, Any], title: str) -> str:
    """The body of one of the card's one-click answers, exactly as the card carries it."""
    (action,) = [a for a in card["actions"] if a["title"] == title]
    assert action["type"] == "Action.Http" and action["method"] == "POST"
    assert "{{" not in action["body"]  # no input: one click sends it
    return str(action["body"])


async def test_the_card_offers_one_click_answers(scene: Scene) -> None:
    titles = [a["title"] for a in scene.card["actions"]]
    assert titles == ["Send reply", "Yes", "No", "On my way", "Got it", "Manage"]


async def test_a_one_click_answer_relays_it_from_the_person_who_clicked(scene: Scene) -> None:
    ann = scene.world.person("Ann")
    body = one_click(scene.card, "On my way")
    status, headers, refreshed = await scene.act("", scene.token(), body=body)
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    assert (
        card_texts(card_in(f'<script type="application/adaptivecard+json">{refreshed}</script>'))[
            -1
        ]
        == "On my way"
    )
    await scene.world.wait_relayed(ann, 1)
    shown = card_text(scene.world.relayed(ann)[0])
    assert shown.startswith("Bob") and "On my way" in shown
    await eventually(lambda: len(eml_files(scene.data, ann.email)) == 2, "the answer in the thread")


async def test_an_answer_the_card_does_not_offer_is_refused(scene: Scene) -> None:
    forged = one_click(scene.card, "Yes").replace('"Yes"', '"Wire me 1000 EUR"')
    got, headers, _ = await scene.act("", scene.token(), body=forged)
    assert got == 400
    assert headers["CARD-ACTION-STATUS"] == (
        "That answer is not one Send offers; type your reply instead."
    )
    await nothing_relayed(scene)


def poll_cards(world: TeamsWorld, person: TeamsPerson) -> list[tuple[str, dict[str, Any]]]:
    """(activity id, card) of each poll card the person received."""
    chat = world.connector.chat_of(person.user_id)
    return [
        (item.id, att["content"])
        for item in world.connector.received
        if item.conversation_id == chat
        for att in item.activity.get("attachments") or []
        if any(
            a.get("data", {}).get("sendAction") == "vote" for a in att["content"].get("actions", [])
        )
    ]


def tally(card: dict[str, Any]) -> str:
    return " ".join(card_text(card).split())


async def test_a_poll_answered_from_teams_and_outlook_shows_one_tally_everywhere(
    scene: Scene,
) -> None:
    world = scene.world
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await world.install(cy)
    await world.say(ann, f"add lunch: {cy.email}")
    await world.say(ann, "poll lunch: Friday 12:30, are you in? | yes | no | late")
    for person in (ann, bob, cy):  # the asker gets it too
        await world.connector.wait_for(lambda p=person: bool(poll_cards(world, p)), what="polls")  # type: ignore[misc]
    bob_card_id, bob_card = poll_cards(world, bob)[0]
    assert [a["title"] for a in bob_card["actions"]] == ["yes", "no", "late"]
    assert "Not answered yet: Ann, Bob, Cy" in tally(bob_card)

    # Bob and Cy answer in Teams; Ann in Outlook, on the poll's mail.
    await world.submit(bob, bob_card["actions"][0]["data"], bob_card_id)
    cy_card_id, cy_card = poll_cards(world, cy)[0]
    await world.submit(cy, cy_card["actions"][2]["data"], cy_card_id)
    await eventually(lambda: len(eml_files(scene.data, ann.email)) >= 2, "the poll's mail")
    poll_mail = card_in(html_of(read_eml(eml_files(scene.data, ann.email)[1])))
    assert poll_mail["autoInvokeAction"]["type"] == "Action.Http"
    status, headers, refreshed = await scene.act(
        "", scene.token("ann@contoso.com"), body=one_click(poll_mail, "no")
    )
    assert status == 200, headers.get("CARD-ACTION-STATUS")
    assert "no — 1: Ann" in tally(
        card_in(f'<script type="application/adaptivecard+json">{refreshed}</script>')
    )

    expected = "yes 1: Bob no 1: Ann late 1: Cy Not answered yet: nobody"
    for person in (ann, bob, cy):
        (card_id, _) = poll_cards(world, person)[0]

        def shows_all(p: TeamsPerson = person, card_id: str = card_id) -> bool:
            updates = world.connector.updates_to(world.connector.chat_of(p.user_id))
            return (
                bool(updates)
                and updates[-1].reply_to == card_id
                and tally(updates[-1].activity["attachments"][0]["content"]).endswith(expected)
            )

        await world.connector.wait_for(shows_all, what=f"{person.name}'s card updated")

    # Bob changes his mind: his vote moves, on every card.
    await world.submit(bob, bob_card["actions"][2]["data"], bob_card_id)

    def moved() -> bool:
        updates = world.connector.updates_to(world.connector.chat_of(cy.user_id))
        return tally(updates[-1].activity["attachments"][0]["content"]).endswith(
            "yes 0 no 1: Ann late 2: Cy, Bob Not answered yet: nobody"
        )

    await world.connector.wait_for(moved, what="Bob's vote moved")
    await world.say(ann, "history")
    history = world.last_reply(ann)
    assert "Poll: Friday 12:30, are you in? (yes / no / late)" in history
    assert "Bob: late, instead of yes (poll: Friday 12:30, are you in?)" in history

    # Opening the mail later shows today's tally (the card's autoInvokeAction).
    refresh = str(poll_mail["autoInvokeAction"]["body"])
    status, _, refreshed = await scene.act("", scene.token(), body=refresh)
    assert status == 200
    assert "late — 2: Cy, Bob" in tally(
        card_in(f'<script type="application/adaptivecard+json">{refreshed}</script>')
    )


async def test_invented_tenants_cost_at_most_ten_lookups_a_minute(
    entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    """Each token may name a tenant never seen: only so many are looked up a minute, and a
    token for another audience is refused before any lookup."""
    clock = SteppedClock()
    validator = ActionTokenValidator(http, entra.base_url, AM_AUDIENCE, frozenset(), clock)
    claims = {"aud": AM_AUDIENCE, "azp": OUTLOOK_ACTIONS_APP_ID, "upn": "bob@contoso.com"}
    before = entra.discovery_fetches
    wrong_audience = {**claims, "aud": "api://someone-else"}
    with pytest.raises(ActionTokenError, match="audience is not this service"):
        await validator.validate(f"Bearer {entra.mint(wrong_audience, tenant='invented-0')}")
    assert entra.discovery_fetches == before

    invented = [f"invented-{n}" for n in range(1, 13)]
    entra.missing_tenants.update(invented)
    refusals = []
    for tenant in invented:
        with pytest.raises(ActionTokenError) as refused:
            await validator.validate(f"Bearer {entra.mint(claims, tenant=tenant)}")
        refusals.append((refused.value.status, refused.value.reason))
    assert refusals[:10] == [(401, "Unknown tenant")] * 10
    assert refusals[10:] == [(429, "Too many new tenants at once; try again in a minute")] * 2
    assert entra.discovery_fetches - before == 10
    clock.now += 61
    with pytest.raises(ActionTokenError, match="Unknown tenant"):
        await validator.validate(f"Bearer {entra.mint(claims, tenant=invented[-1])}")
    assert entra.discovery_fetches - before == 11
