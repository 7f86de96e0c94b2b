"""Teams apps for the fake Graph: the organisation's app catalog and personal installations.

`FakeGraph` mixes this in. It speaks Graph v1.0's wire protocol for
- the app catalog, `GET /appCatalogs/teamsApps?$filter=externalId eq '{manifest id}'`
  (also `distributionMethod eq 'organization' and externalId eq '...'`; any other filter
  is a 400), see https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps; a test
  puts apps in it with `publish_app`;
- installing an app in a user's personal scope, `POST /users/{id | upn}/teamwork/installedApps`
  with `{"teamsApp@odata.bind": ".../appCatalogs/teamsApps/{catalog id}"}`, see
  https://learn.microsoft.com/graph/api/userteamwork-post-installedapps: 201 with no body;
  409 Conflict when it is installed already; 403 Forbidden "App is blocked by app
  permission policy" for users in `block_installs`; 404 NotFound for an unknown user, a
  user without a Teams licence, or an app not in the catalog; 400 for a missing or
  malformed bind;
- listing a user's installations, `GET .../installedApps?$expand=teamsApp&$filter=teamsApp/
  externalId eq '...'` (or `teamsApp/id eq '...'`; filtering on teamsApp needs that
  `$expand`, as Graph has it), and an installation's 1:1 chat with the bot,
  `GET .../installedApps/{installation id}/chat`, whose id
  `19:{user object id}_{bot_app_id}@unq.gbl.spaces` the fake Bot Connector takes as a
  name of that user's personal chat.
Like Teams, which tells the bot about the installation, a successful install runs
`on_install(user)` in the background (after `install_event_delay` seconds); its failures
are kept in `install_hook_errors`, and `stop()` settles what still runs.

Permissions are application roles in the token, as Graph checks them (the Teams
workload answers a missing one with 403 Forbidden "Missing role permissions on the
request. API requires one of '...'. Roles on the request '...'."): the catalog needs
AppCatalog.Read.All, AppCatalog.ReadWrite.All or AppCatalog.Submit; installing needs
TeamsAppInstallation.ReadWriteSelfForUser.All, .ReadWriteForUser.All or
.ReadWriteAndConsentForUser.All; reading installations and their chat also takes
TeamsAppInstallation.ReadForUser.All. An app published with a `web_application_id`
(its manifest's webApplicationInfo.id) can be managed with the *Self* permission only
by that Entra app: another caller's install is a 403, and its list leaves the app out.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from aiohttp import web

from tests.fakes.graph_inbound import CLAIMS

if TYPE_CHECKING:
    from tests.fakes.graph import GraphUser

Json = dict[str, Any]
log = logging.getLogger("tests.fakes.graph_teamwork")

CATALOG_ROLES = ("AppCatalog.Read.All", "AppCatalog.ReadWrite.All", "AppCatalog.Submit")
SELF_INSTALL_ROLE = "TeamsAppInstallation.ReadWriteSelfForUser.All"
INSTALL_ROLES = (
    SELF_INSTALL_ROLE,
    "TeamsAppInstallation.ReadWriteForUser.All",
    "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
)
READ_INSTALLATION_ROLES = ("TeamsAppInstallation.ReadForUser.All", *INSTALL_ROLES)
# Permissions not limited to the caller's own app (the Self one is).
_ANY_APP_WRITE = INSTALL_ROLES[1:]
_ANY_APP_READ = ("TeamsAppInstallation.ReadForUser.All", *_ANY_APP_WRITE)
_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
_ODATA_STRING = r"'(?:[^']|'')*'"
_CATALOG_FILTER = re.compile(
    r"^\s*(?:distributionMethod\s+eq\s+'organization'\s+and\s+)?"
    rf"externalId\s+eq\s+(?P<value>{_ODATA_STRING})\s*$",
    re.IGNORECASE,
)
_INSTALLED_FILTER = re.compile(
    rf"^\s*teamsApp/(?P<property>externalId|id)\s+eq\s+(?P<value>{_ODATA_STRING})\s*$",
    re.IGNORECASE,
)
# .../appCatalogs/teamsApps/{id} or .../appCatalogs/teamsApps('{id}')
_BIND = re.compile(
    r"/appCatalogs/teamsApps(?:/(?P<plain>[^/?#()']+)|\('(?P<keyed>[^'/]+)'\))$", re.IGNORECASE
)
_EXPANDABLE = {"teamsapp": "teamsApp", "teamsappdefinition": "teamsAppDefinition"}


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class CatalogApp:
    """A Teams app in the organisation's catalog (`teamsApp`)."""

    id: str  # the catalog's id, not the manifest's
    external_id: str  # the manifest's id
    display_name: str
    distribution_method: str = "organization"
    web_application_id: str = ""  # webApplicationInfo.id; "" = not checked by the fake
    version: str = "1.0.0"

    def json(self) -> Json:
        return {
            "id": self.id,
            "externalId": self.external_id,
            "displayName": self.display_name,
            "distributionMethod": self.distribution_method,
        }

    def definition(self) -> Json:
        """Its published `teamsAppDefinition`."""
        return {
            "id": base64.b64encode(f"{self.id}##{self.version}##Published".encode()).decode(),
            "teamsAppId": self.id,
            "displayName": self.display_name,
            "version": self.version,
        }


# Runs after a successful install, as Teams then sends the bot its install events.
InstallHook = Callable[["GraphUser"], Awaitable[None]]


class TeamsApps:
    """The app catalog and personal app installations; the host is `FakeGraph`."""

    if TYPE_CHECKING:  # provided by FakeGraph
        users: dict[str, GraphUser]

        def directory_user(self, raw: str) -> GraphUser | None: ...
        @staticmethod
        async def _body(request: web.Request) -> Json: ...
        @staticmethod
        def _refuse(status: int, code: str, message: str) -> NoReturn: ...

    def _init_teamwork(self) -> None:
        self.catalog: dict[str, CatalogApp] = {}  # by catalog id
        self.block_installs: set[str] = set()  # object ids an app permission policy blocks
        self.install_attempts: list[tuple[str, int]] = []  # (object id or path, status)
        self.installed_apps: dict[str, dict[str, str]] = {}  # oid -> installation -> app
        self.on_install: InstallHook | None = None
        self.install_event_delay = 0.0  # seconds between the 201 and `on_install`
        self.install_hook_errors: list[BaseException] = []
        self.bot_app_id = "send-bot"  # the bot's Microsoft App id, in Graph's chat ids
        self._install_events: set[asyncio.Task[None]] = set()

    def _add_teamwork_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v1.0/appCatalogs/teamsApps", self._catalog_apps)
        r.add_post("/v1.0/users/{mbx}/teamwork/installedApps", self._install_app)
        r.add_get("/v1.0/users/{mbx}/teamwork/installedApps", self._installed_apps)
        r.add_get("/v1.0/users/{mbx}/teamwork/installedApps/{iid}/chat", self._installed_chat)

    async def _stop_teamwork(self) -> None:
        """Lets install events in flight finish (briefly), cancels the rest."""
        if self._install_events:
            _, pending = await asyncio.wait(set(self._install_events), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- what tests set up and look at ---------------------------------------------------

    def publish_app(
        self, external_id: str, display_name: str = "Send", *, web_application_id: str = ""
    ) -> str:
        """Publishes an app to the organisation's catalog; returns its (new) catalog id."""
        app = CatalogApp(
            str(uuid.uuid4()), external_id, display_name, web_application_id=web_application_id
        )
        self.catalog[app.id] = app
        return app.id

    def preinstall(self, object_id: str, catalog_id: str) -> str:
        """The app was installed for the user earlier (by themselves or a policy), with no
        event now; returns the installation id."""
        installation = self.installation_id(object_id, catalog_id)
        self.installed_apps.setdefault(object_id, {})[installation] = catalog_id
        return installation

    @staticmethod
    def installation_id(object_id: str, catalog_id: str) -> str:
        """Graph's installation id: base64 of "{user id}##{catalog id}"."""
        return base64.b64encode(f"{object_id}##{catalog_id}".encode()).decode()

    def chat_id(self, object_id: str) -> str:
        """Graph's id of the user's 1:1 chat with the bot."""
        return f"19:{object_id}_{self.bot_app_id}@unq.gbl.spaces"

    async def installs_settled(self, timeout: float = 10.0) -> None:
        """Waits until the install events started so far have run."""
        if self._install_events:
            await asyncio.wait(set(self._install_events), timeout=timeout)

    # -- permissions and lookups ---------------------------------------------------------

    @staticmethod
    def _roles(request: web.Request) -> set[str]:
        return {str(role) for role in request[CLAIMS].get("roles") or []}

    def _need_teams(self, request: web.Request, *roles: str) -> None:
        held = self._roles(request)
        if not held & set(roles):
            self._refuse(
                403,
                "Forbidden",
                f"Missing role permissions on the request. API requires one of "
                f"'{', '.join(roles)}'. Roles on the request '{', '.join(sorted(held))}'.",
            )

    def _manages(self, request: web.Request, app: CatalogApp, broader: tuple[str, ...]) -> bool:
        """Whether the caller may manage `app`: with a broader permission, or with the
        Self one as the Entra app its manifest names."""
        if not app.web_application_id or self._roles(request) & set(broader):
            return True
        return str(request[CLAIMS].get("appid", "")).lower() == app.web_application_id.lower()

    def _teams_user(self, request: web.Request) -> GraphUser:
        """The user the path names, if Teams can have apps for them."""
        raw = request.match_info["mbx"]
        user = self.directory_user(raw)
        if user is None:
            self._refuse(404, "NotFound", f"User '{raw}' was not found.")
        if not user.teams_licence:
            self._refuse(
                404,
                "NotFound",
                f"The user '{user.id}' does not have a Microsoft Teams license assigned.",
            )
        return user

    # -- endpoints -----------------------------------------------------------------------

    async def _catalog_apps(self, request: web.Request) -> web.Response:
        self._need_teams(request, *CATALOG_ROLES)
        condition = request.query.get("$filter")
        apps = list(self.catalog.values())
        if condition is not None:
            match = _CATALOG_FILTER.match(condition)
            if match is None:
                self._refuse(400, "BadRequest", "The $filter is not supported on teamsApps.")
            wanted = _unquote(match["value"]).lower()
            apps = [a for a in apps if a.external_id.lower() == wanted]
        value = [a.json() for a in apps]
        return web.json_response(
            {"@odata.context": f"{_CONTEXT}#appCatalogs/teamsApps", "value": value}
        )

    async def _install_app(self, request: web.Request) -> web.Response:
        named = self.directory_user(request.match_info["mbx"])
        who = named.id if named is not None else request.match_info["mbx"]
        try:
            user, app = await self._installable(request)
        except Exception as refusal:  # GraphError or aiohttp's: both carry the status
            self.install_attempts.append((who, int(getattr(refusal, "status", 500))))
            raise
        installation = self.installation_id(user.id, app.id)
        self.installed_apps.setdefault(user.id, {})[installation] = app.id
        self.install_attempts.append((user.id, 201))
        if self.on_install is not None:
            task = asyncio.get_running_loop().create_task(self._announce(self.on_install, user))
            self._install_events.add(task)
            task.add_done_callback(self._install_events.discard)
        return web.Response(status=201)

    async def _installable(self, request: web.Request) -> tuple[GraphUser, CatalogApp]:
        """Every check of an install, in Graph's order; the user and app to install."""
        self._need_teams(request, *INSTALL_ROLES)
        body = await self._body(request)
        bind = body.get("teamsApp@odata.bind")
        match = _BIND.search(bind) if isinstance(bind, str) else None
        if match is None:
            self._refuse(
                400,
                "BadRequest",
                "teamsApp@odata.bind must name an app: "
                "'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}'.",
            )
        user = self._teams_user(request)
        catalog_id = match["plain"] or match["keyed"]
        app = self.catalog.get(catalog_id)
        if app is None:
            self._refuse(
                404, "NotFound", f"The app '{catalog_id}' was not found in the app catalog."
            )
        if not self._manages(request, app, _ANY_APP_WRITE):
            appid = request[CLAIMS].get("appid", "")
            self._refuse(
                403,
                "Forbidden",
                f"AAD App Id '{appid}' is not allowed to manage the Teams App '{app.id}'.",
            )
        if user.id in self.block_installs:
            tenant = request[CLAIMS].get("tid", "")
            self._refuse(
                403,
                "Forbidden",
                f"App is blocked by app permission policy. TenantId: {tenant}, UserObjectId: "
                f"{user.id}, AppId: {app.id}, AppType: Private",
            )
        if app.id in self.installed_apps.get(user.id, {}).values():
            self._refuse(
                409,
                "Conflict",
                f"AppEntitlement id: '{app.id}' already exists for user '{user.id}'.",
            )
        return user, app

    async def _announce(self, hook: InstallHook, user: GraphUser) -> None:
        if self.install_event_delay:
            await asyncio.sleep(self.install_event_delay)
        try:
            await hook(user)
        except Exception as error:
            log.exception("the install event for %s failed", user.id)
            self.install_hook_errors.append(error)

    async def _installed_apps(self, request: web.Request) -> web.Response:
        self._need_teams(request, *READ_INSTALLATION_ROLES)
        user = self._teams_user(request)
        expand: set[str] = set()
        for raw in request.query.get("$expand", "").split(","):
            if raw.strip():
                name = _EXPANDABLE.get(raw.strip().lower())
                if name is None:
                    self._refuse(
                        400, "BadRequest", f"Could not find a property named '{raw.strip()}'."
                    )
                expand.add(name)
        installations = [
            (iid, self.catalog[cid])
            for iid, cid in self.installed_apps.get(user.id, {}).items()
            if cid in self.catalog
        ]
        # With only the Self permission, Graph lists no other Entra app's Teams app.
        installations = [
            (i, a) for i, a in installations if self._manages(request, a, _ANY_APP_READ)
        ]
        condition = request.query.get("$filter")
        if condition is not None:
            match = _INSTALLED_FILTER.match(condition)
            if match is None:
                self._refuse(400, "BadRequest", "The $filter is not supported on installedApps.")
            if "teamsApp" not in expand and "teamsAppDefinition" not in expand:
                self._refuse(
                    400,
                    "BadRequest",
                    "Filtering on teamsApp needs $expand=teamsApp (or teamsAppDefinition).",
                )
            wanted = _unquote(match["value"]).lower()
            field = "external_id" if match["property"].lower() == "externalid" else "id"
            installations = [
                (i, a) for i, a in installations if getattr(a, field).lower() == wanted
            ]
        value = []
        for iid, app in installations:
            item: Json = {
                "@odata.type": "#microsoft.graph.userScopeTeamsAppInstallation",
                "id": iid,
                "consentedPermissionSet": None,
            }
            if "teamsApp" in expand:
                item["teamsApp"] = app.json()
            if "teamsAppDefinition" in expand:
                item["teamsAppDefinition"] = app.definition()
            value.append(item)
        context = f"{_CONTEXT}#users('{user.id}')/teamwork/installedApps"
        return web.json_response({"@odata.context": context, "value": value})

    async def _installed_chat(self, request: web.Request) -> web.Response:
        self._need_teams(request, *READ_INSTALLATION_ROLES)
        user = self._teams_user(request)
        iid = request.match_info["iid"]
        if iid not in self.installed_apps.get(user.id, {}):
            self._refuse(404, "NotFound", f"The installation '{iid}' was not found.")
        chat = self.chat_id(user.id)
        tenant = str(request[CLAIMS].get("tid", ""))
        stamp = _stamp()
        return web.json_response(
            {
                "@odata.context": f"{_CONTEXT}#chats/$entity",
                "id": chat,
                "topic": None,
                "createdDateTime": stamp,
                "lastUpdatedDateTime": stamp,
                "chatType": "oneOnOne",
                "webUrl": f"https://teams.microsoft.com/l/chat/{quote(chat, safe='')}/0"
                f"?tenantId={tenant}",
                "tenantId": tenant,
                "onlineMeetingInfo": None,
                "viewpoint": None,
            }
        )
