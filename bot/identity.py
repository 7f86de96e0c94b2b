"""Client-credential tokens from Microsoft Entra ID through one reused MSAL client.

MSAL is synchronous and its constructor fetches the authority's metadata, so the
client is built on first use in a worker thread and reused afterwards: its token
cache answers until a token is about to expire.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msal

MICROSOFT_LOGIN = "https://login.microsoftonline.com"


class CredentialError(Exception):
    """Entra ID did not give us a token (wrong secret, unknown app, unreachable)."""


class ClientCredentials:
    def __init__(
        self, client_id: str, secret: str, authority_host: str, tenant: str, scope: str
    ) -> None:
        self._client_id = client_id
        self._secret = secret
        self._authority = f"{authority_host.rstrip('/')}/{tenant}"
        # Instance discovery only knows Microsoft's hosts; elsewhere it would hang.
        self._discovery = authority_host.rstrip("/") == MICROSOFT_LOGIN
        self._scope = scope
        self._app: Any = None
        self._lock = asyncio.Lock()
        self._token = ""
        self._token_good_until = 0.0

    def _build(self) -> Any:
        return msal.ConfidentialClientApplication(
            self._client_id,
            client_credential=self._secret,
            authority=self._authority,
            instance_discovery=self._discovery,
        )

    async def token(self) -> str:
        # The hot path: a token still good for five minutes needs no lock and no thread.
        if self._token and time.monotonic() < self._token_good_until:
            return self._token
        # One at a time: concurrent first calls would each miss the cache and each fetch.
        async with self._lock:
            if self._app is None:
                try:
                    self._app = await asyncio.to_thread(self._build)
                except Exception as error:  # a bad authority, or its metadata unreachable
                    raise CredentialError(
                        f"authority {self._authority}: {type(error).__name__}"
                    ) from error
            try:
                result: dict[str, Any] = await asyncio.to_thread(
                    self._app.acquire_token_for_client, scopes=[self._scope]
                )
            except Exception as error:  # MSAL's HTTP client raises requests' errors
                raise CredentialError(f"token request failed: {type(error).__name__}") from error
        token = result.get("access_token")
        if not token:
            raise CredentialError(f"no token: {result.get('error', 'unknown error')}")
        self._token = str(token)
        lifetime = float(result.get("expires_in", 0) or 0)
        self._token_good_until = time.monotonic() + max(0.0, lifetime - 300)
        return self._token

    async def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    def close(self) -> None:
        if self._app is not None:
            self._app.http_client.close()
