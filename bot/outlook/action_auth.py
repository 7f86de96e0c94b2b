"""Checking the Entra ID token Outlook sends with an Actionable Message action.

Keys come from the tenant's OpenID configuration under AAD_AUTHORITY_HOST and are
cached; an unknown `kid` triggers one refresh (at most once a minute per tenant),
which is how key rotation is picked up. RS256 only; 5 minutes of clock skew.
The tenant id comes from the token before it is verified, so everything kept per tenant
is bounded: keys for MAX_TENANTS tenants, a lock only while a lookup is under way, and a
tenant Entra does not know is remembered for a minute instead of asked about again.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from bot.core.membership.policy import PERSONAL_ACCOUNT, TenantGate, TenantRefusal
from bot.http_status import is_passing_failure

OUTLOOK_ACTIONS_APP_ID = "48af08dc-f6d2-435f-b2a7-069abd99c086"
CLOCK_SKEW_SECONDS = 300
# A tenant id (GUID) or a tenant domain; anything else is not looked up at all.
_TENANT_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,126}[A-Za-z0-9])?$")
# Tenants whose keys are kept; unverified tokens choose the tenant, so memory is bounded.
MAX_TENANTS = 1000
CONFIG_LIFETIME_SECONDS = 24 * 3600
REFRESH_INTERVAL_SECONDS = 60
# How long a tenant whose OpenID configuration Entra refused is answered from memory.
UNKNOWN_TENANT_SECONDS = 60
# Tenants looked up for the first time, per minute: each costs a fetch from Entra, and a
# token can name any tenant id; past this, tokens of tenants not seen yet wait a minute.
NEW_TENANTS_PER_MINUTE = 10
# The claims that name the user, strongest first; only the first present one counts.
_NAME_CLAIMS = ("upn", "preferred_username", "email")


class ActionTokenError(Exception):
    """The action's bearer token is not acceptable; `status` is 401 or 403 (429 when too
    many tenants not seen before were looked up this minute)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Actor:
    tenant_id: str
    # The token's upn, else preferred_username, else email: the first present, never "any
    # of them", or a token whose email claim names a member would act as that member.
    address: str
    # The user's Entra object id (`oid`): the surest way to tell which member acted.
    object_id: str = ""


class _UnknownTenant(Exception):
    """Entra answered the tenant's OpenID configuration with a definite refusal."""


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._host = authority_host.rstrip("/")
        self._audience = audience
        self._gate = TenantGate(allowed_tenants)
        self._monotonic = monotonic
        self._tenants: dict[str, _TenantKeys] = {}
        # A lock lives only while some request holds or waits for it: idle ones go away.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Tenant -> when Entra said it does not know it (insertion order: oldest first).
        self._unknown: dict[str, float] = {}
        # When tenants not seen before were looked up, over the last minute.
        self._new_lookups: deque[float] = deque()

    async def validate(self, authorization: str) -> Actor:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ActionTokenError(401, "Missing bearer token")
        token = token.strip()
        if not (token.isascii() and token.isprintable()):
            # PyJWT encodes the token first: other text (aiohttp decodes header bytes
            # with surrogateescape) raises UnicodeEncodeError, not a PyJWTError.
            raise ActionTokenError(401, "Malformed bearer token")
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
        refusal = self._gate.refusal(tenant)
        if refusal is TenantRefusal.PERSONAL_ACCOUNT:
            raise ActionTokenError(403, PERSONAL_ACCOUNT)  # whatever ALLOWED_TENANTS says
        if refusal is TenantRefusal.NOT_ALLOWED:
            raise ActionTokenError(403, "Tenant is not allowed to use this service")
        # Checked again once the signature is, but first here: a token for another
        # audience is refused before any key is fetched for its tenant.
        audience = unverified.get("aud")
        if audience != self._audience and not (
            isinstance(audience, list) and self._audience in audience
        ):
            raise ActionTokenError(401, "Token audience is not this service")
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
        claim = next((c for c in _NAME_CLAIMS if claims.get(c)), "")
        if not claim:
            raise ActionTokenError(401, "Token names no user")
        address = str(claims[claim]).lower()
        if claim == "email" and claims.get("acct") == 1:
            # A guest's email claim is whatever their home account says: it proves nothing.
            address = ""
        return Actor(tenant, address, str(claims.get("oid") or ""))

    async def _keys(self, tenant: str, kid: str) -> _TenantKeys:
        lock = self._locks.get(tenant)
        if lock is None:
            lock = self._locks[tenant] = asyncio.Lock()
        async with lock:
            now = self._monotonic()
            refused_at = self._unknown.get(tenant)
            if refused_at is not None and now - refused_at < UNKNOWN_TENANT_SECONDS:
                raise ActionTokenError(401, "Unknown tenant")
            known = self._tenants.get(tenant)
            if known is None and len(self._tenants) >= MAX_TENANTS:
                oldest = min(self._tenants, key=lambda t: self._tenants[t].fetched_at)
                del self._tenants[oldest]
            if known is None:
                self._count_new_lookup(now)
            if known is None or now - known.fetched_at > CONFIG_LIFETIME_SECONDS:
                known = self._tenants[tenant] = await self._fetch_remembering(tenant)
            elif kid not in known.keys and now - known.forced_at > REFRESH_INTERVAL_SECONDS:
                known = self._tenants[tenant] = await self._fetch_remembering(tenant)
                known.forced_at = now
            return known

    def _count_new_lookup(self, now: float) -> None:
        while self._new_lookups and now - self._new_lookups[0] >= 60:
            self._new_lookups.popleft()
        if len(self._new_lookups) >= NEW_TENANTS_PER_MINUTE:
            raise ActionTokenError(429, "Too many new tenants at once; try again in a minute")
        self._new_lookups.append(now)

    async def _fetch_remembering(self, tenant: str) -> _TenantKeys:
        """`_fetch`, remembering for a while a tenant Entra said it does not know."""
        self._unknown.pop(tenant, None)
        try:
            return await self._fetch(tenant)
        except _UnknownTenant:
            if len(self._unknown) >= MAX_TENANTS:
                del self._unknown[next(iter(self._unknown))]
            self._unknown[tenant] = self._monotonic()
            raise ActionTokenError(401, "Unknown tenant") from None

    async def _fetch(self, tenant: str) -> _TenantKeys:
        url = f"{self._host}/{tenant}/v2.0/.well-known/openid-configuration"
        try:
            async with self._session.get(url) as response:
                if is_passing_failure(response.status):
                    # Entra is unwell, not sure of its answer: the next request asks again.
                    raise ActionTokenError(401, "Could not fetch the tenant's signing keys")
                if response.status != 200:
                    raise _UnknownTenant
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
            str(config.get("issuer", "")), str(config["jwks_uri"]), keys, self._monotonic()
        )
