"""Inbound mail for the fake Graph: change notifications and delta queries on an Inbox.

`FakeGraph` mixes this in. It speaks Graph v1.0's wire protocol for
- subscriptions (`POST/GET /subscriptions`, `PATCH/DELETE /subscriptions/{id}`), see
  https://learn.microsoft.com/graph/api/subscription-post-subscriptions: creating one first
  proves the endpoint by POSTing `?validationToken=...` and wanting the token echoed as
  text/plain within 10 s;
- change notifications: every message filed into a subscribed Inbox is POSTed to the
  subscription's notificationUrl as `{"value": [{subscriptionId, changeType: "created",
  resource, resourceData, clientState, tenantId, ...}]}`, in the background;
- lifecycle notifications (https://learn.microsoft.com/graph/change-notifications-lifecycle-events),
  only for a subscription made with a `lifecycleNotificationUrl` (validated like the
  notificationUrl, each on its own): `{"value": [{subscriptionId,
  subscriptionExpirationDateTime, tenantId, clientState, lifecycleEvent}]}` with
  `reauthorizationRequired` (no change notifications until the app renews it),
  `subscriptionRemoved` (it is gone) or `missed`; a test sends them with `lifecycle`;
- the Inbox delta query (https://learn.microsoft.com/graph/api/message-delta), paged by
  `Prefer: odata.maxpagesize=N` through `@odata.nextLink` (`$skiptoken`) up to an
  `@odata.deltaLink` (`$deltatoken`) that later returns only what arrived since; both
  links keep the first request's `$select` (toRecipients, ccRecipients and the rest are
  returned only when selected, or when nothing is);
- a message's attachments (https://learn.microsoft.com/graph/api/message-list-attachments):
  `GET /users/{mbx}/messages/{id}/attachments`, 404 for a message the mailbox does not
  have, pages of `$top` (10 unless given) linked by `@odata.nextLink`, each attachment as
  Graph shows it: `@odata.type` (`#microsoft.graph.fileAttachment` with base64
  `contentBytes`, `itemAttachment`, `referenceAttachment`), id, name, contentType, size,
  isInline, contentId, lastModifiedDateTime. As in Graph, a message's `hasAttachments` is
  true only when it has an attachment that is not inline.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import re
import secrets
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import web
from yarl import URL

if TYPE_CHECKING:
    from tests.fakes.graph import GraphUser

Json = dict[str, Any]

# The caller's access-token claims, put on each request by FakeGraph's authentication.
CLAIMS = web.RequestKey("claims", dict[str, Any])
MAIL_READ_ROLES = ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic", "Mail.ReadBasic.All")
CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# /users/{mbx}/mailFolders('Inbox')/messages or users/{mbx}/mailFolders/inbox/messages
_INBOX_RESOURCE = re.compile(
    r"^/?users/(?P<mbx>[^/]+)/mailfolders(?:\('inbox'\)|/inbox)/messages$", re.IGNORECASE
)
_MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
_JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}
VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with "
    "200 OK to validation request."
)
SYNC_STATE_NOT_FOUND = (410, "SyncStateNotFound", "The sync state generation is not found.")


def _graph_time(moment: datetime.datetime) -> str:
    """Graph's own spelling of a UTC instant: 7 fractional digits and `Z`."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")


@dataclass(frozen=True)
class MailAttachment:
    """An attachment of a mail a person writes in Outlook (`user_reply_all` and the rest).
    `kind`: "file" (bytes), "item" (an attached mail) or "reference" (a OneDrive link)."""

    name: str
    content_type: str
    data: bytes = b""
    inline: bool = False
    content_id: str = ""
    kind: str = "file"

    def json(self) -> Json:
        """As Graph keeps it on the message (its `id` is made here)."""
        odata = {"file": "fileAttachment", "item": "itemAttachment"}
        odata["reference"] = "referenceAttachment"
        out: Json = {
            "@odata.type": f"#microsoft.graph.{odata[self.kind]}",
            "id": "AAMkAGAtt" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),
            "lastModifiedDateTime": _graph_time(datetime.datetime.now(datetime.UTC)),
            "name": self.name,
            "contentType": self.content_type,
            "size": len(self.data) if self.kind == "file" else 2048,
            "isInline": self.inline,
        }
        if self.kind == "file":
            out["contentId"] = self.content_id or None
            out["contentLocation"] = None
            out["contentBytes"] = base64.b64encode(self.data).decode("ascii")
        return out


def has_attachments(attachments: list[Json]) -> bool:
    """Graph's `hasAttachments`: inline attachments (pictures in the body) do not count."""
    return any(not a.get("isInline") for a in attachments)


@dataclass
class Subscription:
    """One change-notification subscription, as `POST /subscriptions` created it."""

    id: str
    resource: str
    mailbox: str  # lower-case address of the subscribed Inbox
    change_type: str
    notification_url: str
    client_state: str | None
    expires: datetime.datetime
    application_id: str
    creator_id: str
    tenant_id: str
    lifecycle_notification_url: str | None = None
    # Set by a reauthorizationRequired lifecycle event; a renewal (PATCH) clears it.
    reauthorization_required: bool = False
    renewals: int = 0

    @property
    def live(self) -> bool:
        return self.expires > datetime.datetime.now(datetime.UTC)

    def json(self) -> Json:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_notification_url,
            "expirationDateTime": _graph_time(self.expires),
            "creatorId": self.creator_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationQueryOptions": None,
            "notificationUrlAppId": None,
        }


@dataclass
class NotificationSent:
    """One notification POST and what the endpoint answered (0: unreachable or timed out)."""

    subscription_id: str
    url: str
    body: Json
    status: int
    at: float


@dataclass
class _SyncState:
    """What a `$deltatoken` (next round) or `$skiptoken` (rest of this round) stands for."""

    mailbox: str
    watermark: int  # inbox filings up to this sequence number are in the round
    select: str
    pending: list[str] = field(default_factory=list)  # ids still to page out (skiptoken)


class InboundMail:
    """Subscriptions, notifications and Inbox delta; the host is `FakeGraph`."""

    max_subscription_minutes = 10080  # Outlook messages: under 7 days
    validation_timeout = 10.0
    notification_timeout = 10.0

    if TYPE_CHECKING:  # provided by FakeGraph
        users: dict[str, GraphUser]
        _changed: asyncio.Condition

        @property
        def base_url(self) -> str: ...
        def _box(self, address: str) -> dict[str, Json]: ...
        def _address(self, raw: str) -> str: ...
        @staticmethod
        def public(message: Json, select: str = "") -> Json: ...
        @staticmethod
        def _need(request: web.Request, *roles: str) -> None: ...
        @staticmethod
        async def _body(request: web.Request) -> Json: ...
        @staticmethod
        def _refuse(status: int, code: str, message: str) -> NoReturn: ...

    def _init_inbound(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.validations = 0  # validation requests sent to notification endpoints
        self.notifications_enabled = True  # False: mail still arrives, nobody is told
        self.notifications_sent: list[NotificationSent] = []
        self._notifying: set[asyncio.Task[None]] = set()
        self._outbound: aiohttp.ClientSession | None = None
        self._filings = 0  # sequence number of the latest message filed into any inbox
        self._delta_tokens: dict[str, _SyncState] = {}
        self._skip_tokens: dict[str, _SyncState] = {}

    def _add_inbound_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/v1.0/subscriptions", self._subscribe)
        r.add_get("/v1.0/subscriptions", self._list_subscriptions)
        r.add_patch("/v1.0/subscriptions/{sid}", self._renew)
        r.add_delete("/v1.0/subscriptions/{sid}", self._unsubscribe)
        r.add_get("/v1.0/users/{mbx}/mailFolders/{folder}/messages/delta", self._delta)
        r.add_get(r"/v1.0/users/{mbx}/mailFolders{folder:\('[^'/]+'\)}/messages/delta", self._delta)
        r.add_get("/v1.0/users/{mbx}/messages/{id}/attachments", self._list_attachments)

    async def _stop_inbound(self) -> None:
        """Lets notifications in flight finish (briefly), cancels the rest, closes the client."""
        if self._notifying:
            _, pending = await asyncio.wait(set(self._notifying), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._outbound is not None:
            await self._outbound.close()
            self._outbound = None

    def _client(self) -> aiohttp.ClientSession:
        """Outbound http(s); https trusts what `SSL_CERT_FILE` names (the test's certificate)."""
        if self._outbound is None:
            connector = aiohttp.TCPConnector(ssl=ssl.create_default_context())
            self._outbound = aiohttp.ClientSession(connector=connector)
        return self._outbound

    # -- subscriptions -------------------------------------------------------------------

    def _expiry(self, value: Any) -> datetime.datetime:
        if not isinstance(value, str) or not value:
            self._refuse(
                400,
                "InvalidRequest",
                "expirationDateTime is a required property for subscription creation.",
            )
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            self._refuse(400, "InvalidRequest", f"Cannot convert '{value}' to a DateTimeOffset.")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        ahead = moment - datetime.datetime.now(datetime.UTC)
        if ahead <= datetime.timedelta(0):
            self._refuse(400, "ExtensionError", "Subscription expiration time is in the past.")
        if ahead > datetime.timedelta(minutes=self.max_subscription_minutes):
            self._refuse(
                400,
                "ExtensionError",
                f"Subscription expiration can only be {self.max_subscription_minutes} minutes "
                "in the future.",
            )
        return moment.astimezone(datetime.UTC)

    def _mine(self, request: web.Request) -> Subscription:
        """The subscription the path names, if this app created it (Graph shows no other)."""
        sid = request.match_info["sid"]
        found = self.subscriptions.get(sid)
        if found is None or found.application_id != request[CLAIMS].get("appid"):
            self._refuse(404, "ResourceNotFound", f"The object '{sid}' was not found.")
        return found

    @staticmethod
    def _answer(subscription: Subscription, status: int = 200) -> web.Response:
        body = {"@odata.context": f"{_CONTEXT}#subscriptions/$entity", **subscription.json()}
        return web.json_response(body, status=status)

    async def _subscribe(self, request: web.Request) -> web.Response:
        self._need(request, *MAIL_READ_ROLES)
        args = await self._body(request)
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not isinstance(args.get(name), str) or not args[name]:
                message = f"{name} is a required property for subscription creation."
                self._refuse(400, "InvalidRequest", message)
        changes = [c.strip().lower() for c in str(args["changeType"]).split(",")]
        if not set(changes) <= CHANGE_TYPES:
            self._refuse(400, "InvalidRequest", f"Invalid changeType '{args['changeType']}'.")
        match = _INBOX_RESOURCE.match(str(args["resource"]))
        if match is None:
            self._refuse(
                400, "InvalidRequest", f"Unsupported resource '{args['resource']}' (fake Graph)."
            )
        client_state = args.get("clientState")
        if client_state is not None and (
            not isinstance(client_state, str) or len(client_state) > 128
        ):
            self._refuse(
                400, "InvalidRequest", "clientState must be a string of at most 128 characters."
            )
        url = self._endpoint(args["notificationUrl"], "notificationUrl")
        lifecycle_url = args.get("lifecycleNotificationUrl")
        if lifecycle_url is not None:
            lifecycle_url = self._endpoint(lifecycle_url, "lifecycleNotificationUrl")
        expires = self._expiry(args["expirationDateTime"])
        # Both endpoints are validated, each with its own request, even when they are one.
        for endpoint in [url] if lifecycle_url is None else [url, lifecycle_url]:
            if not await self._validate(endpoint):
                self._refuse(400, "ValidationError", VALIDATION_FAILED)
        claims = request[CLAIMS]
        subscription = Subscription(
            id=str(uuid.uuid4()),
            resource=str(args["resource"]),
            mailbox=self._address(unquote(match["mbx"])),
            change_type=",".join(changes),
            notification_url=url,
            client_state=client_state,
            expires=expires,
            application_id=str(claims.get("appid", "")),
            creator_id=str(claims.get("oid", "")),
            tenant_id=str(claims.get("tid", "")),
            lifecycle_notification_url=lifecycle_url,
        )
        self.subscriptions[subscription.id] = subscription
        return self._answer(subscription, status=201)

    def _endpoint(self, value: Any, name: str) -> str:
        url = str(value) if isinstance(value, str) else ""
        parsed = URL(url)
        local_http = parsed.scheme == "http" and parsed.host in LOCAL_HOSTS
        if not url or not parsed.absolute or (parsed.scheme != "https" and not local_http):
            self._refuse(400, "InvalidRequest", f"The {name} must use the https scheme.")
        return url

    async def _validate(self, url: str) -> bool:
        """Graph's handshake: POST `?validationToken=<token>`, want the token back as text."""
        self.validations += 1
        token = (
            "Validation: Testing client application reachability for subscription "
            f"Request-Id: {uuid.uuid4()}"
        )
        separator = "&" if "?" in url else "?"
        target = URL(f"{url}{separator}validationToken={quote(token, safe='')}", encoded=True)
        headers = {"Content-Type": "text/plain"}
        timeout = aiohttp.ClientTimeout(total=self.validation_timeout)
        try:
            async with self._client().post(
                target, data=b"", headers=headers, timeout=timeout
            ) as response:
                text = await response.text()
                return (
                    response.status == 200
                    and response.content_type == "text/plain"
                    and text == token
                )
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            return False

    async def _list_subscriptions(self, request: web.Request) -> web.Response:
        appid = request[CLAIMS].get("appid")
        value = [s.json() for s in self.subscriptions.values() if s.application_id == appid]
        return web.json_response({"@odata.context": f"{_CONTEXT}#subscriptions", "value": value})

    async def _renew(self, request: web.Request) -> web.Response:
        subscription = self._mine(request)
        args = await self._body(request)
        if "expirationDateTime" in args:
            subscription.expires = self._expiry(args["expirationDateTime"])
        subscription.renewals += 1
        subscription.reauthorization_required = False
        return self._answer(subscription)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        del self.subscriptions[self._mine(request).id]
        return web.Response(status=204)

    # -- notifications -------------------------------------------------------------------

    def _arrived(self, mailbox: str, message: Json) -> None:
        """`message` was just filed into `mailbox`'s inbox: number it for delta, notify."""
        self._filings += 1
        message["_filed"] = self._filings
        if not self.notifications_enabled:
            return
        for subscription in list(self.subscriptions.values()):
            wanted = "created" in subscription.change_type.split(",")
            paused = subscription.reauthorization_required
            if subscription.mailbox == mailbox and wanted and subscription.live and not paused:
                body = self._notification(subscription, message)
                task = asyncio.get_running_loop().create_task(self._notify(subscription, body))
                self._notifying.add(task)
                task.add_done_callback(self._notifying.discard)

    def _notification(self, subscription: Subscription, message: Json) -> Json:
        user = self.users.get(subscription.mailbox)
        resource = f"Users/{user.id if user else subscription.mailbox}/Messages/{message['id']}"
        return {
            "value": [
                {
                    "subscriptionId": subscription.id,
                    "subscriptionExpirationDateTime": subscription.expires.isoformat(),
                    "changeType": "created",
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Message",
                        "@odata.id": resource,
                        "@odata.etag": f'W/"{message["changeKey"]}"',
                        "id": message["id"],
                    },
                    "clientState": subscription.client_state,
                    "tenantId": subscription.tenant_id,
                }
            ]
        }

    async def lifecycle(self, subscription_id: str, event: str) -> NotificationSent:
        """Graph sends lifecycle notification `event` for the subscription and waits for the
        answer; subscriptionRemoved deletes the subscription first."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"not a lifecycle event: {event}")
        subscription = self.subscriptions[subscription_id]
        url = subscription.lifecycle_notification_url
        if url is None:
            raise ValueError("made without a lifecycleNotificationUrl: Graph would send nothing")
        if event == "reauthorizationRequired":
            subscription.reauthorization_required = True
        elif event == "subscriptionRemoved":
            del self.subscriptions[subscription_id]
        item = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": _graph_time(subscription.expires),
            "tenantId": subscription.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
        await self._notify(subscription, {"value": [item]}, url)
        return self.notifications_sent[-1]

    async def _notify(self, subscription: Subscription, body: Json, url: str = "") -> None:
        url = url or subscription.notification_url
        timeout = aiohttp.ClientTimeout(total=self.notification_timeout)
        try:
            data = json.dumps(body).encode()
            async with self._client().post(
                url, data=data, headers=_JSON_UTF8, timeout=timeout
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.notifications_sent.append(
            NotificationSent(subscription.id, url, body, status, time.monotonic())
        )
        async with self._changed:
            self._changed.notify_all()

    # -- delta ---------------------------------------------------------------------------

    async def _delta(self, request: web.Request) -> web.Response:
        self._need(request, *MAIL_READ_ROLES)
        folder = request.match_info["folder"].strip("()'").lower()
        if folder != "inbox":
            self._refuse(404, "ErrorItemNotFound", "The specified folder could not be found.")
        mailbox = self._address(request.match_info["mbx"])
        box = self._box(mailbox)
        query = request.query
        if "$skiptoken" in query:
            state = self._skip_tokens.pop(query["$skiptoken"], None)
            if state is None or state.mailbox != mailbox:
                self._refuse(*SYNC_STATE_NOT_FOUND)
            pending = state.pending
        else:
            since, selected = 0, ""
            if "$deltatoken" in query:
                state = self._delta_tokens.get(query["$deltatoken"])
                if state is None or state.mailbox != mailbox:
                    self._refuse(*SYNC_STATE_NOT_FOUND)
                since, selected = state.watermark, state.select  # the link keeps $select
            inbox = [m for m in box.values() if m["parentFolderId"] == "inbox"]
            pending = [m["id"] for m in inbox if m.get("_filed", 0) > since]
            state = _SyncState(mailbox, self._filings, query.get("$select", selected))
        select = query.get("$select", state.select)
        size = 10
        prefer = _MAX_PAGE_SIZE.search(request.headers.get("Prefer", ""))
        if prefer is not None and int(prefer[1]) > 0:
            size = int(prefer[1])
        page, rest = pending[:size], pending[size:]
        value = []
        for message_id in page:
            message = box.get(message_id)
            if message is not None and message["parentFolderId"] == "inbox":
                shown = self.public(message, select)
                if not select:
                    shown["uniqueBody"] = message["_uniqueBody"]
                value.append(shown)
        link = f"{self.base_url}/users/{quote(request.match_info['mbx'], safe='@')}"
        link += "/mailFolders/inbox/messages/delta"
        token = _token()
        body: Json = {"@odata.context": f"{_CONTEXT}#Collection(message)", "value": value}
        if rest:
            self._skip_tokens[token] = _SyncState(mailbox, state.watermark, select, rest)
            body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            self._delta_tokens[token] = _SyncState(mailbox, state.watermark, select)
            body["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if prefer else {}
        return web.json_response(body, headers=headers)

    # -- attachments ---------------------------------------------------------------------

    async def _list_attachments(self, request: web.Request) -> web.Response:
        """`GET /users/{mbx}/messages/{id}/attachments`: every attachment, inline ones too."""
        self._need(request, "Mail.Read", "Mail.ReadWrite")
        mailbox = self._address(request.match_info["mbx"])
        message = self._box(mailbox).get(request.match_info["id"])
        if message is None:
            self._refuse(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        try:
            top = int(request.query.get("$top", "10"))
            skip = int(request.query.get("$skip", "0"))
        except ValueError:
            self._refuse(400, "BadRequest", "Invalid $top or $skip value.")
        if not 1 <= top <= 1000 or skip < 0:
            self._refuse(400, "BadRequest", "Invalid $top or $skip value.")
        attachments: list[Json] = message.get("_attachments", [])
        page = attachments[skip : skip + top]
        context = (
            f"{_CONTEXT}#users('{quote(mailbox)}')/messages('{quote(message['id'], safe='')}')"
            "/attachments"
        )
        body: Json = {"@odata.context": context, "value": [dict(a) for a in page]}
        if skip + top < len(attachments):
            link = f"{self.base_url}/users/{quote(request.match_info['mbx'], safe='@')}"
            link += f"/messages/{quote(message['id'], safe='')}/attachments"
            body["@odata.nextLink"] = f"{link}?$top={top}&$skip={skip + top}"
        return web.json_response(body)
