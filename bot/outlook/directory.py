"""People of the organisation, looked up in Microsoft Graph's directory by address.

`GET /users/{id or userPrincipalName}` finds a user by those two only; an address that is
someone's primary SMTP address or a proxy address but not their UPN needs a `$filter`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.core.ports import DirectoryEntry, DirectoryUnavailable
from bot.graph.client import GraphClient
from bot.http_status import is_passing_failure

_FIELDS = "id,displayName,mail,userPrincipalName,proxyAddresses,preferredLanguage"


class GraphDirectory:
    """Member lookup by address in the organisation's directory."""

    searchable = True

    def __init__(self, graph: GraphClient, mailbox: str, tenant_id: str) -> None:
        self._graph = graph
        self._mailbox = mailbox
        self._tenant_id = tenant_id.lower()

    def covers(self, tenant_id: str) -> bool:
        return tenant_id.lower() == self._tenant_id

    async def find(self, tenant_id: str, email: str) -> DirectoryEntry | None:
        """The user with that address; None when the directory has none; raises
        DirectoryUnavailable when Graph did not answer (nothing can be said then)."""
        return await self._lookup(email)

    async def _lookup(self, address: str) -> DirectoryEntry | None:
        response = await self._graph.call(
            "GET", f"/users/{quote(address)}?$select={_FIELDS}", mailbox=self._mailbox
        )
        if response.ok:
            return _entry(response.body, address)
        if is_passing_failure(response.status):
            raise DirectoryUnavailable(str(response.status))
        literal = address.replace("'", "''")
        condition = f"mail eq '{literal}' or proxyAddresses/any(a:a eq 'smtp:{literal}')"
        response = await self._graph.call(
            "GET",
            f"/users?$filter={quote(condition, safe='')}&$select={_FIELDS}",
            mailbox=self._mailbox,
        )
        if is_passing_failure(response.status):
            raise DirectoryUnavailable(str(response.status))
        found = response.body.get("value") if response.ok else None
        # One address names one user; several would be a directory to not guess in.
        if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], dict):
            return None
        return _entry(found[0], address)


def _entry(body: dict[str, Any], asked: str) -> DirectoryEntry:
    upn = str(body.get("userPrincipalName") or "")
    address = str(body.get("mail") or upn or asked)
    proxies = [
        str(p).split(":", 1)[1]
        for p in body.get("proxyAddresses") or []
        if str(p).lower().startswith("smtp:")
    ]
    others = tuple(dict.fromkeys(a.lower() for a in [upn, *proxies] if a))
    return DirectoryEntry(
        address,
        str(body.get("displayName") or address),
        str(body.get("id", "")),
        tuple(a for a in others if a != address.lower()),
        str(body.get("preferredLanguage") or ""),
    )
