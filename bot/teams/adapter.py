"""The Bot Framework adapter: our own check of the channel's token, our own outbound calls.

`CloudAdapter.process_activity` builds a msrest ConnectorClient and a
UserTokenClient for every turn (about 5 ms of CPU each, and an HTTP session that
is never closed). Send needs neither: replies go through `TeamsConnector` on the
app's pooled session, and Send has no sign-in prompts.

Inbound tokens are checked by `ChannelTokenValidator`, not botbuilder's
`authenticate_request`, which (botframework-connector 4.17) fetches the signing keys
with synchronous `requests.get` and no timeout on the event loop, keeps them in a
process-wide cache, raises IndexError and bare Exception for an unknown `kid` or a
wrong `alg` (500s), and also accepts Emulator tokens, which carry no `serviceurl`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse
from botframework.connector.auth import (
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
)

from bot.config import is_loopback
from bot.core.ports import StoreError
from bot.teams.activity import reply_text
from bot.teams.connector import TeamsConnector
from bot.teams.turn_context import ReplyingTurnContext
from bot.teams.wire import activity_json

log = logging.getLogger("send.bot")

TEAMS_CHANNEL = "msteams"
CLOCK_SKEW_SECONDS = 300
KEYS_LIFETIME_SECONDS = 24 * 3600
# An unknown kid refreshes the keys (how rotation is picked up), at most this often, so
# tokens with made-up kids cannot make us fetch in a loop.
REFRESH_INTERVAL_SECONDS = 60
RETRY_AFTER_FAILURE_SECONDS = 30
KEY_FETCH_TIMEOUT_SECONDS = 10.0
# What botbuilder sets for a turn from the public Azure channel.
_CALLER_ID = "urn:botframework:azure"


class ChannelAuthError(Exception):
    """The request is not from the Bot Framework channel for this bot: a 401 with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SigningKeysUnavailable(Exception):
    """The Bot Framework's signing keys could not be fetched: a 503, Teams sends again."""


@dataclass(frozen=True)
class _Key:
    public: Any
    endorsements: frozenset[str]


@dataclass
class _Keys:
    issuer: str = ""
    by_kid: dict[str, _Key] = field(default_factory=dict)
    loaded: bool = False  # False until a fetch has succeeded
    refresh_at: float = 0.0  # time.monotonic() when these keys are due for a refresh
    forced_at: float = -REFRESH_INTERVAL_SECONDS  # the last refresh an unknown kid caused
    retry_at: float = 0.0  # after a failed fetch, none before this


def service_url_allowed(service_url: str, hosts: tuple[str, ...]) -> bool:
    """https to one of `hosts` or a subdomain of one; plain http only to a loopback host
    (a local fake connector), because the bot sends its own token to this address."""
    try:
        parts = urlsplit(service_url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


class ChannelTokenValidator:
    """Checks that an activity comes from Teams through the Bot Framework, for this bot.

    The token is an RS256 JWT from the Bot Framework: signed by a key of the JWKS that
    the OpenID metadata names, endorsed for msteams, `iss` the metadata's issuer
    (https://api.botframework.com), `aud` our app id, within 5 minutes of `nbf`/`exp`,
    and `serviceurl` the activity's own serviceUrl, which must also be a Teams host.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app_id: str,
        metadata_url: str,
        service_url_hosts: tuple[str, ...],
        *,
        fetch_timeout: float = KEY_FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self._session = session
        self._app_id = app_id
        self._metadata_url = metadata_url
        self._hosts = service_url_hosts
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout)
        self._keys = _Keys()
        self._lock = asyncio.Lock()

    async def validate(self, authorization: str, activity: Activity) -> dict[str, Any]:
        """The token's claims; raises ChannelAuthError or SigningKeysUnavailable."""
        if activity.channel_id != TEAMS_CHANNEL:
            raise ChannelAuthError("only Microsoft Teams activities are accepted (channelId)")
        service_url = activity.service_url or ""
        if not service_url_allowed(service_url, self._hosts):
            raise ChannelAuthError("the activity's serviceUrl is not a Bot Framework address")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ChannelAuthError("no bearer token")
        if not (token.isascii() and token.isprintable()):
            # PyJWT encodes the token first: other text (aiohttp decodes header bytes
            # with surrogateescape) raises UnicodeEncodeError, not a PyJWTError.
            raise ChannelAuthError("the token is not a JWT (not printable ASCII)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise ChannelAuthError("the token is not a JWT") from None
        if header.get("alg") != "RS256":
            raise ChannelAuthError("the token must be signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ChannelAuthError("the token names no signing key (kid)")
        keys = await self._current_keys(kid)
        key = keys.by_kid.get(kid)
        if key is None:
            raise ChannelAuthError("the token is signed with an unknown key")
        # A key that lists channels signs only for those (botbuilder's rule, too).
        if key.endorsements and TEAMS_CHANNEL not in key.endorsements:
            raise ChannelAuthError("the signing key is not endorsed for Microsoft Teams")
        claims = self._decode(token, key.public, keys.issuer)
        if claims.get(AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            raise ChannelAuthError("the token was issued for another serviceUrl")
        return claims

    def _decode(self, token: str, public_key: Any, issuer: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                audience=self._app_id,
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.MissingRequiredClaimError as error:
            raise ChannelAuthError(f"the token has no {error.claim} claim") from None
        except jwt.ExpiredSignatureError:
            raise ChannelAuthError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise ChannelAuthError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise ChannelAuthError("the token is for another bot (aud)") from None
        except jwt.InvalidIssuerError:
            # Emulator and other Entra ID tokens end here: only the channel's issuer counts.
            raise ChannelAuthError("the token was not issued by the Bot Framework") from None
        except jwt.InvalidSignatureError:
            raise ChannelAuthError("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise ChannelAuthError("the token's claims are invalid") from None
        return claims

    async def _current_keys(self, kid: str) -> _Keys:
        keys = self._keys
        if keys.loaded and time.monotonic() < keys.refresh_at and kid in keys.by_kid:
            return keys  # the hot path: no lock
        async with self._lock:
            now = time.monotonic()
            keys = self._keys  # another request may have refreshed them meanwhile
            if now < keys.retry_at:
                pass  # a fetch failed a moment ago: answer with what there is
            elif not keys.loaded or now >= keys.refresh_at:
                await self._refresh(now, forced=False)
            elif kid not in keys.by_kid and now - keys.forced_at >= REFRESH_INTERVAL_SECONDS:
                await self._refresh(now, forced=True)
            if not self._keys.loaded:
                raise SigningKeysUnavailable
            return self._keys

    async def _refresh(self, now: float, *, forced: bool) -> None:
        try:
            fetched = await self._fetch()
        except SigningKeysUnavailable:
            # Requests queued behind this one answer at once instead of each trying again.
            self._keys.retry_at = now + RETRY_AFTER_FAILURE_SECONDS
            if self._keys.loaded:
                log.warning("keeping the Bot Framework signing keys fetched before")
            return
        fetched.refresh_at = now + KEYS_LIFETIME_SECONDS
        fetched.forced_at = now if forced else self._keys.forced_at
        self._keys = fetched

    async def _fetch(self) -> _Keys:
        try:
            metadata = await self._get_json(self._metadata_url)
            issuer, jwks_uri = str(metadata["issuer"]), str(metadata["jwks_uri"])
            jwks = await self._get_json(jwks_uri)
            entries = jwks["keys"]
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "could not fetch the Bot Framework signing keys",
                extra={"reason": type(error).__name__},
            )
            raise SigningKeysUnavailable from None
        by_kid: dict[str, _Key] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
                continue
            try:
                public = jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWTError:
                continue  # one malformed key does not stop the others
            endorsements = entry.get("endorsements")
            names = endorsements if isinstance(endorsements, list) else []
            by_kid[str(entry["kid"])] = _Key(public, frozenset(str(n) for n in names))
        return _Keys(issuer, by_kid, loaded=True)

    async def _get_json(self, url: str) -> Any:
        async with self._session.get(url, timeout=self._timeout) as response:
            response.raise_for_status()
            return await response.json(content_type=None)


class SendAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(
        self,
        authentication: BotFrameworkAuthentication,
        connector: TeamsConnector,
        channel_auth: ChannelTokenValidator | None,
    ) -> None:
        """`channel_auth` None = local mode: activities are not authenticated."""
        super().__init__(authentication)
        self._connector = connector
        self._channel_auth = channel_auth

    async def process_activity(
        self,
        auth_header: str,
        activity: Activity,
        logic: Callable[[TurnContext], Awaitable[None]],
    ) -> Any:
        """Raises ChannelAuthError (401) or SigningKeysUnavailable (503) before the turn."""
        if self._channel_auth is None:
            identity = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
            activity.caller_id = None
        else:
            claims = await self._channel_auth.validate(auth_header, activity)
            identity = ClaimsIdentity(claims, True)
            activity.caller_id = _CALLER_ID
        context = ReplyingTurnContext(self, activity)
        context.turn_state[self.BOT_IDENTITY_KEY] = identity
        context.turn_state[self.BOT_CALLBACK_HANDLER_KEY] = logic
        context.turn_state[self.BOT_OAUTH_SCOPE_KEY] = (
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        )
        await self.run_pipeline(context, logic)
        return self._process_turn_results(context)

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        """Replaces a card the bot sent in this conversation (Teams keeps its place)."""
        await self._connector.update_in_conversation(
            context.activity.service_url,
            context.activity.conversation.id,
            activity.id or "",
            activity_json(activity),
        )
        return ResourceResponse(id=activity.id or "")

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            activity.id = None
            if activity.type == "delay":
                await asyncio.sleep((activity.value or 1000) / 1000)
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[self._INVOKE_RESPONSE_KEY] = activity
                responses.append(ResourceResponse(id=""))
            elif activity.type == ActivityTypes.trace:
                responses.append(ResourceResponse(id=""))
            else:
                sent_id = await self._connector.post_to_conversation(
                    activity.service_url,
                    activity.conversation.id,
                    activity_json(activity),
                    activity.reply_to_id or "",
                )
                responses.append(ResourceResponse(id=sent_id))
        return responses


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    if isinstance(error, StoreError):
        # Not acknowledged: the HTTP layer answers 503 so Teams sends the activity again.
        raise error
    activity = turn_context.activity
    log.error(
        "turn failed",
        exc_info=error,
        extra={"activity_id": activity.id, "activity_type": activity.type},
    )
    try:
        await reply_text(turn_context, "Sorry, something went wrong on my side; please try again.")
    except Exception:  # noqa: BLE001 - the person cannot be told; the failure is logged above
        log.warning("could not tell the person about the failure")
