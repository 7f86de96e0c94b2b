"""A fake Bot Framework token service (login.botframework.com) over https.

It serves what a bot reads to check the channel's tokens: the OpenID metadata
(`/v1/.well-known/openidconfiguration`, issuer `https://api.botframework.com`) and the
JWKS it names (`/v1/.well-known/keys`), whose keys carry `endorsements` (the channels
each key may sign for) as the real ones do. `token` signs what the Bot Connector puts
on each request it sends a bot: an RS256 JWT with `iss`, `aud` (the bot's app id),
`serviceurl`, `nbf` and `exp`. `hold` makes both documents hang until it is set.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from tests.fakes.entra import SigningKey, sign_jwt
from tests.fakes.server import LocalServer
from tests.fakes.tls import TlsFiles

Json = dict[str, Any]

ISSUER = "https://api.botframework.com"
# What the real keys list (abridged): Teams is one channel among many.
ENDORSEMENTS = ("msteams", "skype", "webchat", "directline", "email", "slack")


class FakeBotFramework(LocalServer):
    def __init__(self, tls: TlsFiles, *, host: str = "127.0.0.1") -> None:
        super().__init__(host, tls.server)
        self.key = SigningKey.generate()
        self.endorsements: dict[str, tuple[str, ...]] = {self.key.kid: ENDORSEMENTS}
        self.keys = [self.key]
        self.metadata_fetches = 0
        self.jwks_fetches = 0
        # While an unset Event, both documents hang (a stalled key server); waiting counts them.
        self.hold: asyncio.Event | None = None
        self.waiting = 0

    @property
    def metadata_url(self) -> str:
        """What `BOT_OPENID_METADATA_URL` is set to."""
        return f"{self.origin}/v1/.well-known/openidconfiguration"

    def add_key(self, endorsements: tuple[str, ...]) -> SigningKey:
        """Publishes another key, endorsed for `endorsements` only."""
        key = SigningKey.generate()
        self.keys.append(key)
        self.endorsements[key.kid] = endorsements
        return key

    @staticmethod
    def claims(app_id: str, service_url: str, lifetime: int = 3600) -> Json:
        """The claims of a channel token for `app_id`, like the Bot Connector's."""
        now = int(time.time())
        return {
            "serviceurl": service_url,
            "nbf": now,
            "exp": now + lifetime,
            "iss": ISSUER,
            "aud": app_id,
        }

    def token(self, claims: Json, *, key: SigningKey | None = None, kid: bool = True) -> str:
        """An RS256 JWT over `claims` (by default with the published key); `kid=False`
        leaves the key id out of the header."""
        key = key or self.key
        private = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        headers = {"kid": key.kid, "x5t": key.kid} if kid else {}
        return jwt.encode(claims, private, algorithm="RS256", headers=headers)

    def forged(self, claims: Json, alg: str) -> str:
        """A token naming the published key but signed with `alg`: "none" (no signature)
        or "HS256" keyed with the public key (the algorithm-confusion attack)."""
        return sign_jwt(claims, self.key, alg)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._jwks)
        return app

    async def _held(self) -> None:
        hold = self.hold
        if hold is not None:
            self.waiting += 1
            try:
                await hold.wait()
            finally:
                self.waiting -= 1

    async def _metadata(self, _: web.Request) -> web.Response:
        self.metadata_fetches += 1
        await self._held()
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.origin}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        await self._held()
        keys = []
        for key in self.keys:
            jwk = key.jwk(ISSUER)
            del jwk["issuer"]  # Entra's JWKS has it; the Bot Framework's does not
            keys.append({**jwk, "endorsements": list(self.endorsements[key.kid])})
        return web.json_response({"keys": keys})
