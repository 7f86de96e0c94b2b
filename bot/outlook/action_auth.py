"""Checking the Entra ID token Outlook sends with an Actionable Message action.

Keys come from the tenant's OpenID configuration under AAD_AUTHORITY_HOST and are
cached; an unknown `kid` triggers one refresh (at most once a minute per tenant),
which is how key rotation is picked up. RS256 only; 5 minutes of clock skew.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

OUTLOOK_ACTIONS_APP_ID = "48af08dc-f6d2-435f-b2a7-069abd99c086"
CLOCK_SKEW_SECONDS = 300
# A tenant id (GUID) or a tenant domain; anything else is not looked up at all.
_TENANT_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,126}[A-Za-z0-9])?$")
# Tenants whose keys are kept; unverified tokens choose the tenant, so memory is bounded.
MAX_TENANTS = 1000
CONFIG_LIFETIME_SECONDS = 24 * 3600
REFRESH_INTERVAL_SECONDS = 60


class ActionTokenError(Exception):
    """The action's bearer token is not acceptable; `status` is 401 or 403."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Actor:
    tenant_id: str
    address: str
    # Every address the token gives (upn, preferred_username, email): a person may be
    # known to Send by their UPN or by their mail address.
    addresses: tuple[str, ...] = ()


@dataclass
class _TenantKeys:
    issuer: str
    jwks_uri: str
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = 0.0
    # When an unknown kid last forced a refresh: bogus kids cannot make us fetch in a loop.
    forced_at: float = -REFRESH_INTERVAL_SECONDS


class ActionTokenValidator:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        authority_host: str,
        audience: str,
        allowed_tenants: frozenset[str],
    ) -> None:
        self._session = session
        self._host = authority_host.rstrip("/")
        self._audience = audience
        self._allowed = allowed_tenants
        self._tenants: dict[str, _TenantKeys] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def validate(self, authorization: str) -> Actor:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ActionTokenError(401, "Missing bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ActionTokenError(401, "Malformed bearer token") from None
        if header.get("alg") != "RS256":
            raise ActionTokenError(401, "Token must be signed with RS256")
        tenant = str(unverified.get("tid", ""))
        if not _TENANT_ID.match(tenant):
            raise ActionTokenError(401, "Token has no tenant")
        if self._allowed and tenant not in self._allowed:
            raise ActionTokenError(403, "Tenant is not allowed to use this service")
        keys = await self._keys(tenant, str(header.get("kid", "")))
        key = keys.keys.get(str(header.get("kid", "")))
        if key is None:
            raise ActionTokenError(401, "Token signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "aud", "iss"], "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            raise ActionTokenError(401, "Token expired") from None
        except jwt.InvalidAudienceError:
            raise ActionTokenError(401, "Token audience is not this service") from None
        except jwt.PyJWTError:
            raise ActionTokenError(401, "Token signature or claims are invalid") from None
        if claims.get("iss") not in (keys.issuer, f"https://sts.windows.net/{tenant}/"):
            raise ActionTokenError(401, "Token issuer is not the tenant's")
        if OUTLOOK_ACTIONS_APP_ID not in (claims.get("azp"), claims.get("appid")):
            raise ActionTokenError(401, "Token was not issued to Outlook Actionable Messages")
        named = [claims.get(c) for c in ("upn", "preferred_username", "email")]
        addresses = tuple(dict.fromkeys(str(a).lower() for a in named if a))
        if not addresses:
            raise ActionTokenError(401, "Token names no user")
        return Actor(tenant, addresses[0], addresses)

    async def _keys(self, tenant: str, kid: str) -> _TenantKeys:
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            known = self._tenants.get(tenant)
            now = time.monotonic()
            if known is None and len(self._tenants) >= MAX_TENANTS:
                oldest = min(self._tenants, key=lambda t: self._tenants[t].fetched_at)
                del self._tenants[oldest]
                self._locks.pop(oldest, None)
            if known is None or now - known.fetched_at > CONFIG_LIFETIME_SECONDS:
                known = self._tenants[tenant] = await self._fetch(tenant)
            elif kid not in known.keys and now - known.forced_at > REFRESH_INTERVAL_SECONDS:
                known = self._tenants[tenant] = await self._fetch(tenant)
                known.forced_at = now
            return known

    async def _fetch(self, tenant: str) -> _TenantKeys:
        url = f"{self._host}/{tenant}/v2.0/.well-known/openid-configuration"
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    raise ActionTokenError(401, "Unknown tenant")
                config = await response.json(content_type=None)
            async with self._session.get(str(config["jwks_uri"])) as response:
                jwks = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError, TypeError):
            raise ActionTokenError(401, "Could not fetch the tenant's signing keys") from None
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                try:
                    keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256").key
                except jwt.PyJWTError:
                    continue
        return _TenantKeys(
            str(config.get("issuer", "")), str(config["jwks_uri"]), keys, time.monotonic()
        )
