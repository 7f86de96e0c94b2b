"""A fake Microsoft Entra ID (login.microsoftonline.com) over https, for any tenant id.

It speaks the wire protocol MSAL and token verifiers use: OpenID Connect discovery
(`/<tid>/v2.0/.well-known/openid-configuration`, and the v1 one), the JWKS of its
signing keys (`/<tid>/discovery/v2.0/keys`), and the OAuth 2.0 client-credentials grant
on `/<tid>/oauth2/v2.0/token` with Entra's success and `AADSTS…` error bodies. Access
tokens are RS256 JWTs shaped like Entra v1 app tokens (Graph's tokens are v1). Keys rotate
on demand while old keys stay published, and `mint` signs arbitrary tokens (for Outlook
Actionable Message action tokens), including with an unpublished "rogue" key.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server import LocalServer
from tests.fakes.tls import TlsFiles

Json = dict[str, Any]

# The first-party client id Outlook uses for Actionable Message action tokens.
OUTLOOK_ACTIONS_APP_ID = "48af08dc-f6d2-435f-b2a7-069abd99c086"
DEFAULT_ROLES = (
    "Mail.ReadWrite",
    "Mail.Send",
    "User.Read.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "AppCatalog.Read.All",
    "Calendars.ReadWrite",
)
# Decides the answer to one request by path: None = serve it, else (status, headers).
FaultPlan = Callable[[str], tuple[int, dict[str, str]] | None]
_MULTI_TENANT = {"common", "organizations", "consumers"}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


# AADSTS code -> (HTTP status, OAuth error, description template), as Entra answers them.
_AADSTS: dict[int, tuple[int, str, str]] = {
    70003: (400, "unsupported_grant_type", "The app requested an unsupported grant type '{0}'."),
    700016: (
        400,
        "unauthorized_client",
        "Application with identifier '{0}' was not found in the directory '{1}'. This can "
        "happen if the application has not been installed by the administrator of the tenant "
        "or consented to by any user in the tenant.",
    ),
    7000218: (
        401,
        "invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
    ),
    7000215: (
        401,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app '{0}'.",
    ),
    90033: (503, "temporarily_unavailable", "A transient error has occurred. Please try again."),
    90002: (
        400,
        "invalid_tenant",
        "Tenant '{0}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    ),
    90014: (400, "invalid_request", "The required field 'scope' is missing from the credential."),
    1002012: (
        400,
        "invalid_scope",
        "The provided value for scope {0} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    ),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


_KEY_RING_SIZE = 16
_KEY_RING: list[rsa.RSAPrivateKey] = []
_KEY_TURNS = itertools.count()


@dataclass
class SigningKey:
    """One RSA signing key; `kid` looks like Entra's (base64url SHA-1 thumbprint)."""

    private: rsa.RSAPrivateKey
    kid: str = ""

    def __post_init__(self) -> None:
        if not self.kid:
            der = self.private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.kid = b64url(hashlib.sha1(der).digest())

    @classmethod
    def generate(cls, kid: str = "") -> SigningKey:
        """A key unlike the last few made in this process: the next of a ring of RSA keys,
        each made once, since an RSA-2048 key takes about a tenth of a second to make and
        tests make several. Tests see at most a handful of keys at a time."""
        if len(_KEY_RING) < _KEY_RING_SIZE:
            _KEY_RING.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
            private = _KEY_RING[-1]
        else:
            private = _KEY_RING[next(_KEY_TURNS) % _KEY_RING_SIZE]
        return cls(private, kid)

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, issuer: str) -> Json:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
            "issuer": issuer,
        }


def sign_jwt(claims: Json, key: SigningKey, alg: str = "RS256") -> str:
    """Compact JWS. RS*/PS* sign with the key; HS256 uses its public PEM as the HMAC
    secret (the classic algorithm-confusion attack); "none" leaves the signature empty."""
    header: Json = {"typ": "JWT", "alg": alg, "kid": key.kid}
    if alg.startswith("RS"):
        header["x5t"] = key.kid
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    ).encode("ascii")
    if alg == "none":
        signature = b""
    elif alg.startswith("HS"):
        digest = getattr(hashlib, "sha" + alg[2:])
        signature = hmac.new(key.public_pem(), signing_input, digest).digest()
    elif alg[:2] in ("RS", "PS"):
        algorithm = _HASHES[alg[2:]]()
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(padding.MGF1(algorithm), padding.PSS.DIGEST_LENGTH)
        )
        signature = key.private.sign(signing_input, pad, algorithm)
    else:
        raise ValueError(f"unsupported alg {alg}")
    return signing_input.decode("ascii") + "." + b64url(signature)


@dataclass
class RegisteredClient:
    """An app registration (service principal) in one tenant."""

    secret: str
    roles: tuple[str, ...] = DEFAULT_ROLES
    display_name: str = "Send"
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class FakeEntra(LocalServer):
    """Entra ID for any tenant: discovery, JWKS and client-credentials tokens over https."""

    def __init__(self, tls: TlsFiles, *, host: str = "127.0.0.1") -> None:
        super().__init__(host, tls.server)
        self.tls = tls
        self.clients: dict[tuple[str, str], RegisteredClient] = {}
        self.keys: list[SigningKey] = [SigningKey.generate()]
        self._rogue = SigningKey.generate()
        self.issued: dict[str, Json] = {}  # access token -> its claims
        self.token_requests = 0
        self.jwks_fetches = 0
        self.discovery_fetches = 0  # OpenID configuration requests, answered or refused
        # Tenants that do not exist: Entra answers their endpoints with AADSTS90002.
        self.missing_tenants: set[str] = set()
        self.faults: FaultPlan | None = None
        self.token_lifetime = 3599

    # -- configuration -------------------------------------------------------------------

    def register_client(
        self, tenant: str, client_id: str, secret: str, roles: tuple[str, ...] = DEFAULT_ROLES
    ) -> RegisteredClient:
        client = RegisteredClient(secret, roles)
        self.clients[(tenant.lower(), client_id)] = client
        return client

    @property
    def current(self) -> SigningKey:
        return self.keys[-1]

    def rotate_key(self) -> str:
        """Publishes a new signing key and signs with it from now on; returns its kid."""
        self.keys.append(SigningKey.generate())
        return self.current.kid

    def unpublish(self, kid: str) -> None:
        """Removes a key from the JWKS (a retired key)."""
        self.keys = [k for k in self.keys if k.kid != kid]

    # -- addresses -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What `AAD_AUTHORITY_HOST` is set to: `https://127.0.0.1:<port>`."""
        return self.origin

    def authority(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}"

    def openid_configuration_url(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/v2.0/.well-known/openid-configuration"

    def jwks_url(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/discovery/v2.0/keys"

    def issuer_v2(self, tenant: str) -> str:
        shown = "{tenantid}" if tenant.lower() in _MULTI_TENANT else tenant
        return f"{self.base_url}/{shown}/v2.0"

    @staticmethod
    def issuer_v1(tenant: str) -> str:
        return f"https://sts.windows.net/{tenant}/"

    # -- tokens --------------------------------------------------------------------------

    def mint(
        self,
        claims: Json,
        *,
        tenant: str,
        key: str = "current",
        alg: str = "RS256",
        lifetime: int = 3600,
    ) -> str:
        """A signed JWT. Fills `iat`, `nbf`, `exp` (now + lifetime; negative = expired),
        `tid` and `iss` (v1) unless `claims` sets them. `key` is "current", "rogue" (an
        unpublished key with the current kid), "unknown" (an unpublished key and kid) or the
        kid of a published key."""
        now = int(time.time())
        full: Json = {
            "iss": self.issuer_v1(tenant),
            "tid": tenant,
            "iat": now,
            "nbf": min(now, now + lifetime),
            "exp": now + lifetime,
        }
        full.update(claims)
        return sign_jwt(full, self._key(key), alg)

    def _key(self, key: str) -> SigningKey:
        if key == "current":
            return self.current
        if key == "rogue":
            return SigningKey(self._rogue.private, self.current.kid)
        if key == "unknown":
            return self._rogue
        for candidate in self.keys:
            if candidate.kid == key:
                return candidate
        raise KeyError(f"no published key {key!r}")

    # -- the HTTP protocol ---------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults])
        app.router.add_get("/{tid}/v2.0/.well-known/openid-configuration", self._discovery_v2)
        app.router.add_get("/{tid}/.well-known/openid-configuration", self._discovery_v1)
        app.router.add_get("/{tid}/discovery/v2.0/keys", self._jwks)
        app.router.add_get("/{tid}/discovery/keys", self._jwks)
        app.router.add_post("/{tid}/oauth2/v2.0/token", self._token)
        return app

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        fault = self.faults(request.path) if self.faults is not None else None
        if fault is None:
            response: web.StreamResponse = await handler(request)
            return response
        return self._error(request, 90033, fault=fault)

    async def _discovery_v2(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        tid = request.match_info["tid"]
        if tid in self.missing_tenants:
            return self._error(request, 90002, tid)
        base = f"{self.base_url}/{tid}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.issuer_v2(tid),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def _discovery_v1(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        tid = request.match_info["tid"]
        if tid in self.missing_tenants:
            return self._error(request, 90002, tid)
        base = f"{self.base_url}/{tid}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/token",
                "jwks_uri": f"{base}/discovery/keys",
                "issuer": self.issuer_v1(tid),
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
                "subject_types_supported": ["pairwise"],
                "tenant_region_scope": "EU",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if request.match_info["tid"] in self.missing_tenants:
            return self._error(request, 90002, request.match_info["tid"])
        issuer = f"{self.base_url}/{{tenantid}}/v2.0"
        return web.json_response({"keys": [k.jwk(issuer) for k in self.keys]})

    def _error(
        self,
        request: web.Request,
        code: int,
        *args: str,
        fault: tuple[int, dict[str, str]] | None = None,
    ) -> web.Response:
        """Entra's OAuth error body; `fault` = (status, headers) of an injected failure."""
        status, error, template = _AADSTS[code]
        status, headers = fault or (status, {})
        trace = str(uuid.uuid4())
        correlation = request.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return web.json_response(
            {
                "error": error,
                "error_description": f"AADSTS{code}: {template.format(*args)} "
                f"Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"{self.base_url}/error?code={code}",
            },
            status=status,
            headers={"Cache-Control": "no-store, no-cache", **headers},
        )

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        tid = request.match_info["tid"]
        if tid in self.missing_tenants:
            return self._error(request, 90002, tid)
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # client_secret_basic (RFC 6749 §2.3.1)
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret = client_id or user, secret or password
        grant = fields.get("grant_type", "")
        client = self.clients.get((tid.lower(), client_id))
        scopes = fields.get("scope", "").split()
        if grant != "client_credentials":
            return self._error(request, 70003, grant)
        if client is None:
            return self._error(request, 700016, client_id, tid)
        if not secret:
            return self._error(request, 7000218)
        if not hmac.compare_digest(secret.encode(), client.secret.encode()):
            return self._error(request, 7000215, client_id)
        if not scopes:
            return self._error(request, 90014)
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._error(request, 1002012, " ".join(scopes))
        now = int(time.time())
        claims: Json = {
            "aud": scopes[0].removesuffix("/.default"),
            "iss": self.issuer_v1(tid),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "app_displayname": client.display_name,
            "appid": client_id,
            "azp": client_id,
            "appidacr": "1",
            "idp": self.issuer_v1(tid),
            "idtyp": "app",
            "oid": client.object_id,
            "sub": client.object_id,
            "roles": list(client.roles),
            "tid": tid,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        token = sign_jwt(claims, self.current)
        self.issued[token] = claims
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )
