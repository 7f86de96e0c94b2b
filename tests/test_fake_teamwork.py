"""The fakes are as strict as Teams and Graph about reaching people who never opened Send:
the Bot Connector's roster rules, the directory's lookups, the app catalog, installing
the app for a colleague through Graph, and the install events Teams then sends the bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from tests.conftest import GRAPH_CLIENT, GRAPH_SECRET, GRAPH_TENANT, serve
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, GraphUser
from tests.teams_world import BOT_ID, TeamsWorld

Json = dict[str, Any]
MANIFEST_ID = "5c2e8f6a-0d3b-4b8e-9a51-7f0c3d2e1b40"
NOT_IN_ROSTER = {
    "error": {
        "code": "BotNotInConversationRoster",
        "message": "The bot is not part of the conversation roster.",
    }
}


def person(name: str) -> TeamsPerson:
    slug = name.lower()
    return TeamsPerson(f"29:{slug}", name, f"{slug}@contoso.com", f"aad-{slug}")


def one_to_one(fake: FakeConnector, member: str) -> Json:
    return {
        "isGroup": False,
        "bot": {"id": BOT_ID},
        "members": [{"id": member}],
        "tenantId": fake.tenant_id,
        "channelData": {"tenant": {"id": fake.tenant_id}},
    }


def activities(base: str, conversation_id: str, reply_to: str = "") -> URL:
    url = f"{base}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    return URL(url + (f"/{reply_to}" if reply_to else ""), encoded=True)


async def post(session: aiohttp.ClientSession, url: str | URL, body: Json) -> tuple[int, Json]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json(content_type=None) or {}


# -- the Bot Connector ---------------------------------------------------------------------


async def test_a_1_to_1_chat_needs_the_app_or_a_shared_group_roster(
    connector: tuple[FakeConnector, str],
) -> None:
    fake, url = connector
    dee = person("Dee")
    fake.people[dee.user_id] = dee  # in the tenant, without the app
    async with aiohttp.ClientSession() as session:
        for member in (dee.user_id, dee.aad_object_id):
            status, body = await post(session, f"{url}/v3/conversations", one_to_one(fake, member))
            assert (status, body) == (403, NOT_IN_ROSTER)
        status, _ = await post(session, f"{url}/v3/conversations", one_to_one(fake, "29:nobody"))
        assert status == 403
        # A bot may open a 1:1 with the members of a group chat it is in.
        fake.rosters["19:lunch@thread.v2"] = [dee.user_id]
        by_aad = one_to_one(fake, dee.aad_object_id.upper())  # object ids in any case
        status, body = await post(session, f"{url}/v3/conversations", by_aad)
        assert (status, body) == (201, {"id": fake.chat_of(dee.user_id)})
        status, _ = await post(session, activities(url, body["id"]), {"text": "hi"})
        assert status == 201 and fake.texts_to(fake.chat_of(dee.user_id)) == ["hi"]
        # The other checks stay: one member, the tenant, not a group.
        for wrong in ({"isGroup": True}, {"tenantId": "other", "channelData": {}}):
            status, _ = await post(
                session, f"{url}/v3/conversations", one_to_one(fake, dee.user_id) | wrong
            )
            assert status == 400
    assert fake.created_chats == [fake.chat_of(dee.user_id)]


async def test_installing_and_uninstalling_decide_whether_the_bot_may_post(
    connector: tuple[FakeConnector, str],
) -> None:
    fake, url = connector
    ann, dee = person("Ann"), person("Dee")
    assert fake.add_person(ann) == fake.chat_of(ann.user_id) and ann.user_id in fake.installed
    fake.people[dee.user_id] = dee
    with pytest.raises(KeyError):
        fake.install("29:stranger")
    assert fake.install(dee.user_id) == fake.chat_of(dee.user_id)
    chat = fake.chat_of(dee.user_id)
    async with aiohttp.ClientSession() as session:
        status, body = await post(
            session, f"{url}/v3/conversations", one_to_one(fake, dee.aad_object_id)
        )
        assert (status, body) == (201, {"id": chat})
        assert (await post(session, activities(url, chat), {"text": "one"}))[0] == 201
        fake.uninstall(dee.user_id)
        assert await post(session, activities(url, chat), {"text": "two"}) == (403, NOT_IN_ROSTER)
        status, _ = await post(session, activities(url, chat, "act-1"), {"text": "three"})
        assert status == 403
        status, _ = await post(session, f"{url}/v3/conversations", one_to_one(fake, dee.user_id))
        assert status == 403
        # Ann still has the app: her chat is unaffected.
        assert (await post(session, activities(url, fake.chat_of(ann.user_id)), {}))[0] == 201
    assert fake.texts_to(chat) == ["one"]
    assert [r.activity["text"] for r in fake.not_in_roster] == ["two", "three"]
    assert fake.refused == []  # that list stays for the faults a test injects


async def test_graphs_chat_id_is_another_name_of_the_personal_chat(
    connector: tuple[FakeConnector, str],
) -> None:
    fake, url = connector
    ann = person("Ann")
    chat = fake.add_person(ann)
    alias = fake.graph_chat_id(ann.user_id)
    assert alias == "19:aad-ann_send-bot@unq.gbl.spaces"
    async with aiohttp.ClientSession() as session:
        status, _ = await post(session, activities(url, alias), {"text": "via graph"})
        assert status == 201
        status, _ = await post(session, activities(url, alias, "act-1"), {"text": "reply"})
        assert status == 201
        members = URL(f"{url}/v3/conversations/{quote(alias, safe='')}/members", encoded=True)
        async with session.get(members) as response:
            assert [m["id"] for m in await response.json()] == [ann.user_id]
        for unknown in (
            "19:aad-ann_another-bot@unq.gbl.spaces",
            "19:aad-nobody_send-bot@unq.gbl.spaces",
        ):
            assert (await post(session, activities(url, unknown), {"text": "x"}))[0] == 404
        fake.uninstall(ann.user_id)
        assert await post(session, activities(url, alias), {"text": "gone"}) == (
            403,
            NOT_IN_ROSTER,
        )
    assert fake.texts_to(chat) == ["via graph", "reply"]
    assert {r.conversation_id for r in fake.received} == {chat}
    assert fake.not_in_roster[0].conversation_id == chat


# -- Graph: tokens, the directory, the catalog ----------------------------------------------


async def bearer(
    entra: FakeEntra,
    http: aiohttp.ClientSession,
    client: str = GRAPH_CLIENT,
    secret: str = GRAPH_SECRET,
) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": client,
        "client_secret": secret,
        "scope": "https://graph.microsoft.com/.default",
    }
    async with http.post(f"{entra.authority(GRAPH_TENANT)}/oauth2/v2.0/token", data=form) as r:
        assert r.status == 200
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def bearer_with(entra: FakeEntra, http: aiohttp.ClientSession, *roles: str) -> dict[str, str]:
    """A token of another app registration that holds only `roles`."""
    client = f"client-{len(entra.clients)}"
    entra.register_client(GRAPH_TENANT, client, "other-secret", roles=roles)
    return await bearer(entra, http, client, "other-secret")


async def get(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str], **query: str
) -> tuple[int, Json]:
    async with http.get(url, params=query, headers=auth) as response:
        return response.status, await response.json(content_type=None) or {}


def error_code(body: Json) -> str:
    return str(body["error"]["code"])


async def test_the_directory_finds_users_by_id_or_upn_and_filters_by_address(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    auth = await bearer(entra, http)
    ann = graph.add_user(
        "ann.smith@contoso.example",
        "Ann",
        upn="ann@contoso.example",
        aliases=["a.s@contoso.example"],
    )
    graph.add_user("bob@contoso.example", "Bob", preferred_language="de-DE")
    assert ann.proxy_addresses == ("SMTP:ann.smith@contoso.example", "smtp:a.s@contoso.example")
    users = f"{graph.base_url}/users"
    for key in ("ann@contoso.example", "ANN@contoso.example", ann.id):
        status, body = await get(http, f"{users}/{key}", auth)
        assert status == 200 and body["id"] == ann.id
    assert "proxyAddresses" not in body and body["preferredLanguage"] is None  # defaults
    status, body = await get(http, f"{users}/{ann.id}", auth, **{"$select": "id,proxyAddresses"})
    assert set(body) == {"@odata.context", "id", "proxyAddresses"}
    assert body["proxyAddresses"] == list(ann.proxy_addresses)
    # By mail or by an alias, the directory does not find anyone: a $filter does.
    for address in ("ann.smith@contoso.example", "a.s@contoso.example"):
        status, body = await get(http, f"{users}/{address}", auth)
        assert status == 404 and error_code(body) == "Request_ResourceNotFound"
    select = {"$select": "id,mail,preferredLanguage"}
    for condition in (
        "proxyAddresses/any(p:p eq 'SMTP:A.S@CONTOSO.EXAMPLE')",
        "mail eq 'nobody@x' or proxyAddresses/any(x: x eq 'smtp:ann.smith@contoso.example')",
        "userPrincipalName eq 'Ann@Contoso.Example'",
        "mail eq 'ann.smith@contoso.example' or mail eq 'nobody@contoso.example'",
    ):
        status, body = await get(http, users, auth, **{"$filter": condition}, **select)
        assert status == 200, condition
        assert body["value"] == [
            {"id": ann.id, "mail": "ann.smith@contoso.example", "preferredLanguage": None}
        ]
    status, body = await get(http, users, auth, **{"$filter": "mail eq 'bob@contoso.example'"})
    assert [u["preferredLanguage"] for u in body["value"]] == ["de-DE"]
    status, body = await get(
        http, users, auth, **{"$filter": "mail eq 'a.s@contoso.example'"}, **select
    )
    assert status == 200 and body["value"] == []
    for condition in (
        "startswith(mail,'ann')",
        "proxyAddresses/any(x:y eq 'smtp:a.s@contoso.example')",
        "mail eq 'a' and mail eq 'b'",
        "mail eq 'a' or",
    ):
        status, body = await get(http, users, auth, **{"$filter": condition})
        assert status == 400, condition
    status, body = await get(http, f"{users}/{ann.id}", auth, **{"$select": "id,shoeSize"})
    assert status == 400
    no_directory = await bearer_with(entra, http, "Mail.Send")
    status, body = await get(http, users, no_directory, **{"$filter": "mail eq 'x@y'"})
    assert status == 403 and error_code(body) == "ErrorAccessDenied"


async def test_the_catalog_finds_the_app_by_its_manifest_id(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    auth = await bearer(entra, http)
    catalog_id = graph.publish_app(MANIFEST_ID)
    graph.publish_app("another-app", "Other")
    url = f"{graph.base_url}/appCatalogs/teamsApps"
    send = {
        "id": catalog_id,
        "externalId": MANIFEST_ID,
        "displayName": "Send",
        "distributionMethod": "organization",
    }
    for condition in (
        f"externalId eq '{MANIFEST_ID}'",
        f"distributionMethod eq 'organization' and externalId eq '{MANIFEST_ID.upper()}'",
    ):
        status, body = await get(http, url, auth, **{"$filter": condition})
        assert (status, body["value"]) == (200, [send])
    status, body = await get(http, url, auth, **{"$filter": "externalId eq 'unknown'"})
    assert (status, body["value"]) == (200, [])
    status, body = await get(http, url, auth, **{"$filter": "displayName eq 'Send'"})
    assert status == 400
    no_catalog = await bearer_with(entra, http, "User.Read.All")
    status, body = await get(http, url, no_catalog, **{"$filter": f"externalId eq '{MANIFEST_ID}'"})
    assert status == 403 and error_code(body) == "Forbidden"
    assert body["error"]["message"].startswith("Missing role permissions on the request.")


# -- Graph: installing the app for a colleague ----------------------------------------------


class Bot:
    """Stands in for the bot's /api/messages: keeps every activity Teams posts."""

    def __init__(self) -> None:
        self.activities: list[Json] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        self.activities.append(await request.json())
        return web.Response(status=200)


@pytest.fixture
async def teams(connector: tuple[FakeConnector, str]) -> AsyncIterator[tuple[TeamsWorld, Bot]]:
    fake, connector_url = connector
    bot = Bot()
    async with serve(bot.app()) as bot_url, TeamsWorld(bot_url, fake, connector_url) as world:
        yield world, bot


def install_url(graph: FakeGraph, user: str) -> str:
    return f"{graph.base_url}/users/{quote(user)}/teamwork/installedApps"


def bind(graph: FakeGraph, catalog_id: str) -> Json:
    return {"teamsApp@odata.bind": f"{graph.base_url}/appCatalogs/teamsApps/{catalog_id}"}


async def install(
    http: aiohttp.ClientSession, graph: FakeGraph, user: str, body: Json, auth: dict[str, str]
) -> tuple[int, bytes, Json]:
    async with http.post(install_url(graph, user), json=body, headers=auth) as response:
        raw = await response.read()
        return response.status, raw, (await response.json() if raw else {})


async def test_installing_for_a_colleague_opens_their_chat_and_tells_the_bot(
    graph: FakeGraph,
    entra: FakeEntra,
    http: aiohttp.ClientSession,
    teams: tuple[TeamsWorld, Bot],
    connector: tuple[FakeConnector, str],
) -> None:
    world, bot = teams
    fake, connector_url = connector
    auth = await bearer(entra, http)
    catalog_id = graph.publish_app(MANIFEST_ID)
    dee = world.colleague("Dee", graph)
    world.connect_installs(graph)
    user = graph.directory_user(dee.email)
    assert user is not None and user.id == dee.aad_object_id and dee.user_id not in fake.installed
    async with aiohttp.ClientSession() as session:
        opened = one_to_one(fake, dee.aad_object_id)
        assert await post(session, f"{connector_url}/v3/conversations", opened) == (
            403,
            NOT_IN_ROSTER,
        )
        status, raw, _ = await install(
            http, graph, dee.aad_object_id, bind(graph, catalog_id), auth
        )
        assert (status, raw) == (201, b"")
        await graph.installs_settled()
        assert graph.install_hook_errors == []
        chat = fake.chat_of(dee.user_id)
        assert dee.user_id in fake.installed and chat in fake.rosters
        update, added = bot.activities
        assert update["type"] == "installationUpdate" and update["action"] == "add"
        assert added["type"] == "conversationUpdate" and added["membersAdded"] == [{"id": BOT_ID}]
        for event in (update, added):
            assert event["from"] == {"id": dee.user_id, "aadObjectId": dee.aad_object_id}
            assert event["conversation"] == {
                "id": chat,
                "conversationType": "personal",
                "tenantId": fake.tenant_id,
            }
            assert event["channelData"]["tenant"]["id"] == fake.tenant_id
            assert event["serviceUrl"] == connector_url + "/"
            assert event["recipient"]["id"] == BOT_ID
        assert [t for _, t, _ in world.install_events] == [
            "installationUpdate",
            "conversationUpdate",
        ]
        assert await post(session, f"{connector_url}/v3/conversations", opened) == (
            201,
            {"id": chat},
        )
        # Installed already: a 409, and no second event.
        status, _, body = await install(http, graph, dee.email, bind(graph, catalog_id), auth)
        assert status == 409 and error_code(body) == "Conflict"
        assert len(bot.activities) == 2
        # The installation, found by the app's manifest id (or catalog id), and its chat.
        apps = install_url(graph, dee.aad_object_id)
        query = {"$expand": "teamsApp", "$filter": f"teamsApp/externalId eq '{MANIFEST_ID}'"}
        status, body = await get(http, apps, auth, **query)
        [found] = body["value"]
        assert found["teamsApp"]["id"] == catalog_id
        assert found["id"] == graph.installation_id(dee.aad_object_id, catalog_id)
        query["$filter"] = f"teamsApp/id eq '{catalog_id}'"
        assert (await get(http, apps, auth, **query))[1]["value"] == [found]
        query["$filter"] = "teamsApp/externalId eq 'another-app'"
        assert (await get(http, apps, auth, **query))[1]["value"] == []
        status, body = await get(
            http, apps, auth, **{"$filter": f"teamsApp/externalId eq '{MANIFEST_ID}'"}
        )
        assert status == 400  # filtering on teamsApp needs the $expand
        status, body = await get(http, apps, auth)
        [plain] = body["value"]  # no $expand: the installation without its app
        assert plain["id"] == found["id"] and "teamsApp" not in plain
        installation = quote(found["id"], safe="")
        status, body = await get(http, f"{apps}/{installation}/chat", auth)
        assert status == 200 and body["chatType"] == "oneOnOne"
        assert body["id"] == fake.graph_chat_id(dee.user_id)
        status, _ = await post(session, activities(connector_url, body["id"]), {"text": "hello"})
        assert status == 201 and fake.texts_to(chat) == ["hello"]
        wrong = quote(graph.installation_id(dee.aad_object_id, "nope"), safe="")
        assert (await get(http, f"{apps}/{wrong}/chat", auth))[0] == 404
    assert graph.install_attempts == [(dee.aad_object_id, 201), (dee.aad_object_id, 409)]
    assert graph.installed_apps == {dee.aad_object_id: {found["id"]: catalog_id}}


async def test_graph_refuses_installs_as_teams_does(
    graph: FakeGraph,
    entra: FakeEntra,
    http: aiohttp.ClientSession,
    teams: tuple[TeamsWorld, Bot],
) -> None:
    world, bot = teams
    auth = await bearer(entra, http)
    catalog_id = graph.publish_app(MANIFEST_ID)
    world.connect_installs(graph)
    blocked = world.colleague("Blocked", graph, blocked=True)
    unlicensed = world.colleague("Nolicence", graph, licence=False)
    aliased = graph.add_user("al.x@contoso.example", "Al", upn="al@contoso.example")
    good = bind(graph, catalog_id)
    cases: list[tuple[str, Json, int, str]] = [
        (blocked.aad_object_id, good, 403, "blocked by app permission policy"),
        (unlicensed.aad_object_id, good, 404, "Teams license"),
        ("00000000-0000-0000-0000-000000000000", good, 404, "not found"),
        ("al.x@contoso.example", good, 404, "not found"),  # a mail, not the UPN
        (aliased.id, bind(graph, "not-in-the-catalog"), 404, "catalog"),
        (aliased.id, {}, 400, "teamsApp@odata.bind"),
        (aliased.id, {"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/me"}, 400, ""),
    ]
    for user, body, expected, words in cases:
        status, _, answer = await install(http, graph, user, body, auth)
        assert status == expected, (user, body, answer)
        assert words.lower() in answer["error"]["message"].lower()
    assert error_code((await install(http, graph, blocked.aad_object_id, good, auth))[2]) == (
        "Forbidden"
    )
    no_install = await bearer_with(entra, http, "User.Read.All", "AppCatalog.Read.All")
    status, _, answer = await install(http, graph, aliased.id, good, no_install)
    assert status == 403 and "Missing role permissions" in answer["error"]["message"]
    status, body = await get(http, install_url(graph, aliased.id), no_install)
    assert status == 403
    reader = await bearer_with(entra, http, "TeamsAppInstallation.ReadForUser.All")
    assert (await get(http, install_url(graph, aliased.id), reader))[0] == 200
    assert graph.installed_apps == {} and bot.activities == []
    assert [status for _, status in graph.install_attempts] == [
        403,
        404,
        404,
        404,
        404,
        400,
        400,
        403,
        403,
    ]
    # A UPN works as well as an object id.
    status, _, _ = await install(http, graph, "al@contoso.example", good, auth)
    assert status == 201 and aliased.id in graph.installed_apps


async def test_the_self_permission_manages_only_the_callers_own_app(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    auth = await bearer(entra, http)
    mine = graph.publish_app(MANIFEST_ID, web_application_id=GRAPH_CLIENT)
    theirs = graph.publish_app("their-app", "Theirs", web_application_id="someone-else")
    user = graph.add_user("eve@contoso.example", "Eve")
    assert (await install(http, graph, user.id, bind(graph, mine), auth))[0] == 201
    status, _, body = await install(http, graph, user.id, bind(graph, theirs), auth)
    assert status == 403 and "not allowed to manage" in body["error"]["message"]
    graph.preinstall(user.id, theirs)
    status, body = await get(http, install_url(graph, user.id), auth, **{"$expand": "teamsApp"})
    assert [i["teamsApp"]["id"] for i in body["value"]] == [mine]
    broad = await bearer_with(entra, http, "TeamsAppInstallation.ReadWriteForUser.All")
    status, body = await get(http, install_url(graph, user.id), broad, **{"$expand": "teamsApp"})
    assert sorted(i["teamsApp"]["id"] for i in body["value"]) == sorted([mine, theirs])


async def test_the_install_event_runs_after_the_answer_and_its_failures_are_kept(
    entra: FakeEntra, http: aiohttp.ClientSession
) -> None:
    seen: list[GraphUser] = []
    release = asyncio.Event()

    async def slow(user: GraphUser) -> None:
        await release.wait()
        seen.append(user)

    async def broken(user: GraphUser) -> None:
        raise RuntimeError("the bot is down")

    async with FakeGraph(entra) as graph:
        auth = await bearer(entra, http)
        catalog_id = graph.publish_app(MANIFEST_ID)
        ann, bob = (graph.add_user(f"{n}@contoso.example", n) for n in ("ann", "bob"))
        graph.on_install = slow
        assert (await install(http, graph, ann.id, bind(graph, catalog_id), auth))[0] == 201
        assert seen == []  # answered before the event ran
        release.set()
        await graph.installs_settled()
        assert seen == [ann]
        graph.on_install = broken
        assert (await install(http, graph, bob.id, bind(graph, catalog_id), auth))[0] == 201
        await graph.installs_settled()
        assert [str(e) for e in graph.install_hook_errors] == ["the bot is down"]
        graph.on_install = slow
        release.clear()
        carol = graph.add_user("carol@contoso.example", "Carol")
        assert (await install(http, graph, carol.id, bind(graph, catalog_id), auth))[0] == 201
        release.set()  # stop() lets the event still running finish
    assert seen == [ann, carol]
