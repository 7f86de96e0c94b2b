"""Installing Send as a personal Teams app for a colleague who never opened it.

Microsoft Graph, with the application permission
`TeamsAppInstallation.ReadWriteSelfForUser.All` (and `AppCatalog.Read.All` to find the
app in the organisation's catalog): install (`POST /users/{id}/teamwork/installedApps`;
409 = installed already), then the installation's 1:1 chat with the bot, whose id the
Bot Connector accepts as a conversation id. Teams also sends the install event to
`/api/messages`; whichever comes first is used.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from bot.core.ports import InstallOutcome, InstallResult
from bot.graph.client import GraphClient, GraphResponse
from bot.http_status import is_passing_failure

log = logging.getLogger("send.teams.install")

# Graph requests of installations share one concurrency lane (not a mailbox's).
_LANE = "teams-app-installation"


class GraphTeamsInstaller:
    installs = True

    def __init__(
        self, graph: GraphClient, endpoint: str, teams_app_id: str, tenant_id: str
    ) -> None:
        self._graph = graph
        self._endpoint = endpoint.rstrip("/")
        self._external_id = teams_app_id
        self._tenant_id = tenant_id.lower()
        self._catalog_id = ""  # found once, then kept: it never changes for a published app

    async def install(self, tenant_id: str, aad_object_id: str) -> InstallResult:
        if tenant_id.lower() != self._tenant_id:
            return InstallResult(InstallOutcome.REFUSED, detail="they are in another organisation")
        catalog = await self._catalog()
        if isinstance(catalog, InstallResult):
            return catalog
        apps = f"/users/{quote(aad_object_id, safe='')}/teamwork/installedApps"
        bind = {"teamsApp@odata.bind": f"{self._endpoint}/appCatalogs/teamsApps/{catalog}"}
        response = await self._graph.call("POST", apps, mailbox=_LANE, json=bind)
        if not response.ok and response.status != 409:  # 409: installed already
            return _refusal(response, "installing Send")
        condition = quote(f"teamsApp/externalId eq '{_odata(self._external_id)}'", safe="")
        response = await self._graph.call(
            "GET", f"{apps}?$expand=teamsApp&$filter={condition}", mailbox=_LANE
        )
        if not response.ok:
            return _refusal(response, "finding the installation")
        found = [i for i in response.body.get("value") or [] if isinstance(i, dict)]
        if not found:
            # Installed a moment ago and not listed yet: the next attempt sees it.
            return InstallResult(InstallOutcome.RETRY, detail="installation not listed yet")
        installation = quote(str(found[0].get("id", "")), safe="")
        response = await self._graph.call("GET", f"{apps}/{installation}/chat", mailbox=_LANE)
        if not response.ok:
            # Installed: the chat can still be opened through the Bot Connector.
            return InstallResult(InstallOutcome.READY)
        return InstallResult(InstallOutcome.READY, conversation_id=str(response.body.get("id", "")))

    async def _catalog(self) -> str | InstallResult:
        if self._catalog_id:
            return self._catalog_id
        condition = quote(f"externalId eq '{_odata(self._external_id)}'", safe="")
        response = await self._graph.call(
            "GET", f"/appCatalogs/teamsApps?$filter={condition}", mailbox=_LANE
        )
        if not response.ok:
            return _refusal(response, "finding Send in the app catalog")
        apps = [a for a in response.body.get("value") or [] if isinstance(a, dict) and a.get("id")]
        if not apps:
            log.error("teams app not in the organisation catalog", extra={"app": self._external_id})
            return InstallResult(
                InstallOutcome.REFUSED,
                detail="Send is not in your organisation's Teams app catalog",
            )
        self._catalog_id = str(apps[0]["id"])
        return self._catalog_id


def _odata(value: str) -> str:
    return value.replace("'", "''")


def _refusal(response: GraphResponse, doing: str) -> InstallResult:
    if is_passing_failure(response.status):
        return InstallResult(
            InstallOutcome.RETRY,
            detail=f"graph {response.status} {doing}",
            retry_after=response.retry_after,
        )
    if response.status == 403:
        error = response.body.get("error") or {}
        said = f"{error.get('code', '')} {error.get('message', '')}".lower()
        if "permission policy" in said or "blocked" in said:
            detail = "your organisation's Teams app policy does not allow Send for them"
        elif "missing role" in said or "accessdenied" in said or "requestdenied" in said:
            # The administrator's to fix (docs/deploy.md), not the person's.
            log.error("graph permission missing", extra={"doing": doing})
            detail = "Send lacks the Microsoft Graph permission to install itself"
        else:
            detail = "Teams refused to install Send for them"
        return InstallResult(InstallOutcome.REFUSED, detail=detail)
    if response.status == 404:
        return InstallResult(InstallOutcome.REFUSED, detail="they have no Teams account")
    return InstallResult(InstallOutcome.REFUSED, detail=f"Teams answered {response.status}")
