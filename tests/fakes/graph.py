"""A fake Microsoft Graph v1.0 over plain http: mail, the directory and Teams apps.

It speaks the REST protocol the bot uses with client-credentials tokens from `FakeEntra`:
drafts (`POST /users/{mbx}/messages`), `send`, `reply`, `replyAll`, reading a message,
and the directory, with Graph's JSON error bodies and a `request-id` header on every answer.
The directory is as strict as Entra's: `GET /users/{id | userPrincipalName}` finds a user
by those two only (by mail or a proxy address it is a 404 Request_ResourceNotFound), while
`GET /users?$filter=` finds them by `mail eq '...'`, `userPrincipalName eq '...'` or
`proxyAddresses/any(x:x eq 'smtp:...')` (clauses joined with `or`, values in any case;
any other filter is a 400). Both honour `$select`; without it a user has Graph's default
properties, which leave out proxyAddresses. Mailbox paths (`/users/{mbx}/messages...`)
still take an SMTP address, as Exchange resolves them.
Sending delivers a copy into every recipient's inbox in the same conversation, so a test
can read each mailbox as a person would. Message ids behave as immutable ids
(`Prefer: IdType="ImmutableId"`): they never change when a message moves folders.
Tests can inject faults (429 with Retry-After, 503, ...), add latency, hold requests until
they let go, cap concurrent requests per mailbox like Exchange's MailboxConcurrency limit,
lose the answer of a request the fake performed (`lose_answers`: the mail is sent, the
client gets a connection reset or a gateway's 504), and inspect every call.
Messages take single-value extended properties (`singleValueExtendedProperties` on create
and in the `message` of reply/replyAll), custom `x-` internet headers and a plain
internetMessageId on create; a folder's messages (`GET .../mailFolders/{folder}/messages`,
newest first) can be filtered on `internetMessageId eq '...'`, `conversationId eq '...'` or
`singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')`, and any
other `$filter` is refused with a 400, as Graph refuses one on internetMessageHeaders.
An `$orderby` next to a `$filter` must name the filtered properties, first and in order,
or it is a 400 InefficientFilter as in Graph; alone, it may sort by the times.
Threads are Exchange's: a reply (`reply`, `createReply`, a person's Reply) joins the
conversation of the message it answers, with its In-Reply-To and References, the
conversation's Thread-Topic (a new conversation's subject without RE:/FW:) and a
Thread-Index five bytes longer than the answered one's (a new conversation's: a 22-byte
root). Each received copy lists them in `internetMessageHeaders` (when `$select`ed); the
sender's own copy has no transport headers, as in Exchange, and `thread_headers` reads
them off any message. Sent mail has its `sentDateTime` (to the second, as Graph's) set
when it is sent.
Inbound mail (`tests.fakes.graph_inbound`): change-notification subscriptions on an Inbox,
notifications POSTed as mail arrives, and the Inbox delta query; `user_reply` (Reply),
`user_reply_all` and `user_send` play a person answering from their own Outlook.
Every copy filed into an Inbox carries `internetMessageHeaders` (returned only when
`$select`ed, as Graph does), topped by the `Authentication-Results` and
`X-MS-Exchange-Organization-AuthAs` the receiving Exchange Online stamps: for mail from a
directory user, intra-organisation (`AuthAs: Internal`, `dmarc=none`); for mail from
outside, `AuthAs: Anonymous` and what the test says (by default an honest domain:
`dmarc=pass`, `compauth=pass`). Like Exchange's header firewall, it drops any
`X-MS-Exchange-Organization-` header the sender wrote.
Attachments, as strict as Graph (https://learn.microsoft.com/graph/outlook-large-attachments):
`POST .../messages/{id}/attachments` takes one `#microsoft.graph.fileAttachment` (base64
`contentBytes`, `isInline`, `contentId`) of at most `FILE_ATTACHMENT_MOST` decoded bytes
(413 ErrorRequestEntityTooLarge above it, as for any JSON request over `REQUEST_MOST`);
`POST .../attachments/createUploadSession` only on a draft, for `SESSION_LEAST` to
`SESSION_MOST` bytes (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize below), answers a
pre-authenticated `uploadUrl` on this server that refuses an Authorization header (401)
and takes the bytes in order (`Content-Range: bytes a-b/total`, chunks of at most 4 MiB,
each a multiple of 320 KiB but the last); the last chunk attaches the file (201 with a
Location). An unfinished upload attaches nothing, so a draft sent meanwhile goes without
it. `createReply` / `createReplyAll` make a reply as a draft in the same conversation,
and `DELETE .../messages/{id}` deletes one. `attachments(message)` reads them back.
Calendars (`tests.fakes.graph_calendar`): each person's copy of a meeting, calendarView,
events by iCalUId, accept / tentativelyAccept / decline.
Teams apps (`tests.fakes.graph_teamwork`): the organisation's app catalog, installing an
app for a user (`POST /users/{id}/teamwork/installedApps`), listing installations and an
installation's chat with the bot, and the install event Teams then sends (`on_install`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from operator import itemgetter
from typing import Any, NoReturn
from urllib.parse import quote

from aiohttp import web

from bot.outlook.thread_index import child_index, root_index
from tests.fakes.entra import FakeEntra
from tests.fakes.graph_calendar import Calendars
from tests.fakes.graph_inbound import CLAIMS, InboundMail, MailAttachment, has_attachments
from tests.fakes.graph_teamwork import TeamsApps
from tests.fakes.server import LocalServer
from tests.outlook_helpers import is_msg_id
from tests.waiting import DEFAULT_TIMEOUT

Json = dict[str, Any]

GRAPH_AUDIENCES = {
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
}
_CODES = {400: "ErrorInvalidRequest", 403: "ErrorAccessDenied", 404: "ErrorItemNotFound"}
_CODES |= {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceNotAvailable"}
_CODES |= {504: "GatewayTimeout"}
NOT_FOUND = (404, "ErrorItemNotFound", "The specified object was not found in the store.")
BAD_RECIPIENTS = (400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
BAD_FILTER = (
    400,
    "ErrorInvalidUrlQueryFilter",
    "The query filter contains one or more invalid nodes.",
)
# Graph's spelling of an extended property id: "{type} {guid} Name {name}", "{type} {guid}
# Id 0x..." or "{type} 0x..." (a tag); the type word is one of MAPI's.
_PROPERTY_TYPES = (
    "Binary|Boolean|CLSID|Currency|Double|Float|Integer|Long|Object|Short|String|SystemTime"
)
_PROPERTY_ID = re.compile(
    rf"^(?P<type>{_PROPERTY_TYPES}) (?:(?P<guid>\{{[0-9a-fA-F]{{8}}(?:-[0-9a-fA-F]{{4}}){{3}}"
    rf"-[0-9a-fA-F]{{12}}\}}) (?:Name (?P<name>\S.*)|Id (?P<id>0x[0-9a-fA-F]{{1,4}}))"
    rf"|(?P<tag>0x[0-9a-fA-F]{{4}}))$",
    re.IGNORECASE,
)
_ODATA_STRING = r"'(?:[^']|'')*'"
# The filters Send may use on a folder's messages (OData, as Graph accepts them).
_FILTER_MESSAGE_ID = re.compile(rf"^\s*internetMessageId\s+eq\s+(?P<value>{_ODATA_STRING})\s*$")
_FILTER_CONVERSATION = re.compile(
    rf"^\s*conversationId\s+eq\s+(?P<value>{_ODATA_STRING})\s*$", re.IGNORECASE
)
_FILTER_EXTENDED = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(?P<v>[A-Za-z]\w*)\s*:\s*"
    rf"(?P=v)/id\s+eq\s+(?P<id>{_ODATA_STRING})\s+and\s+"
    rf"(?P=v)/value\s+eq\s+(?P<value>{_ODATA_STRING})\s*\)\s*$",
    re.IGNORECASE,
)
# `$orderby` on a folder's messages: one or more "property [asc|desc]", comma-separated.
_ORDER_ITEM = re.compile(r"^\s*(?P<name>[A-Za-z]\w*)(?:\s+(?P<way>asc|desc))?\s*$", re.IGNORECASE)
# What the fake sorts a folder by when nothing is filtered (the times, all alike in form).
_SORTABLE = ("receivedDateTime", "sentDateTime", "createdDateTime", "lastModifiedDateTime")
INEFFICIENT_FILTER = (
    400,
    "InefficientFilter",
    "The restriction or sort order is too complex for this operation.",
)
# Properties Graph cannot filter messages on (the message is its own).
_NOT_FILTERABLE = ("internetMessageHeaders", "uniqueBody", "body", "replyTo", "attachments")
# A user's properties Graph v1.0 returns when nothing is `$select`ed, and others it has.
_USER_DEFAULTS = (
    *("businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone"),
    *("officeLocation", "preferredLanguage", "surname", "userPrincipalName"),
)
_USER_OTHERS: tuple[str, ...] = ("accountEnabled", "city", "companyName", "country")
_USER_OTHERS += ("createdDateTime",)
_USER_OTHERS += ("department", "employeeId", "mailNickname", "otherMails", "proxyAddresses")
_USER_OTHERS += ("usageLocation", "userType")
_USER_PROPERTIES = {name.lower(): name for name in (*_USER_DEFAULTS, *_USER_OTHERS)}
# The directory searches Send may make: clauses joined with `or`, each one of
# mail eq '...', userPrincipalName eq '...' or proxyAddresses/any(x:x eq '...').
_USER_CLAUSE = re.compile(
    rf"\s*(?:(?P<property>mail|userPrincipalName)\s+eq\s+(?P<value>{_ODATA_STRING})"
    r"|proxyAddresses/any\(\s*(?P<v>[A-Za-z]\w*)\s*:\s*(?P=v)\s+eq\s+"
    rf"(?P<proxy>{_ODATA_STRING})\s*\))\s*",
    re.IGNORECASE,
)
_OR = re.compile(r"or(?=\s)", re.IGNORECASE)
UNSUPPORTED_USER_QUERY = (
    400,
    "Request_UnsupportedQuery",
    "Unsupported or invalid query filter clause specified for property of resource 'User'.",
)
_WELL_KNOWN_FOLDERS = {"inbox": "inbox", "sentitems": "sentitems", "drafts": "drafts"}
# What Exchange strips from a subject to make a new conversation's Thread-Topic.
_SUBJECT_PREFIX = re.compile(r"^\s*(?:re|fw|fwd)\s*:\s*", re.IGNORECASE)
# Graph's "3 MB" and "4 MB", read as the strictest: decimal megabytes for a file in one
# request and for the least an upload session takes, 4 MiB for a whole JSON request.
FILE_ATTACHMENT_MOST = 3_000_000
REQUEST_MOST = 4 * 1024 * 1024
SESSION_LEAST = 3_000_000
SESSION_MOST = 150 * 1024 * 1024
CHUNK_UNIT = 320 * 1024
CHUNK_MOST = 4 * 1024 * 1024
UPLOAD_PREFIX = "/upload/"
TOO_LARGE = (
    413,
    "ErrorRequestEntityTooLarge",
    "The request exceeds the maximum supported size; attach a file over 3 MB through an "
    "upload session.",
)
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass(frozen=True)
class Attached:
    """An attachment of a message as a test reads it back."""

    name: str
    content_type: str
    data: bytes
    is_inline: bool
    content_id: str


@dataclass
class UploadSession:
    mailbox: str
    message_id: str
    item: Json  # the attachment it makes, without its bytes
    size: int
    received: bytearray
    finished: bool = False


def _file_attachment(value: Any) -> Json:
    """One fileAttachment as a client writes it, checked as Graph does; as kept."""
    if not isinstance(value, dict) or value.get("@odata.type") != "#microsoft.graph.fileAttachment":
        raise GraphError(
            400, "ErrorInvalidRequest", "Only a #microsoft.graph.fileAttachment is supported."
        )
    name, content = value.get("name"), value.get("contentBytes")
    if not isinstance(name, str) or not name or not isinstance(content, str):
        raise GraphError(
            400, "ErrorInvalidRequest", "A file attachment needs a name and contentBytes."
        )
    try:
        data = base64.b64decode(content, validate=True)
    except ValueError:
        raise GraphError(400, "RequestBodyRead", "contentBytes is not base64.") from None
    if len(data) > FILE_ATTACHMENT_MOST:
        raise GraphError(*TOO_LARGE)
    inline, content_id = value.get("isInline", False), value.get("contentId")
    if not isinstance(inline, bool) or not isinstance(content_id, str | None):
        raise GraphError(400, "RequestBodyRead", "isInline or contentId has the wrong type.")
    content_type = value.get("contentType") or "application/octet-stream"
    return _kept_attachment(name, str(content_type), data, inline, content_id)


def _kept_attachment(
    name: str, content_type: str, data: bytes, inline: bool, content_id: str | None
) -> Json:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": "AAMkAGAtt" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),
        "lastModifiedDateTime": _now(),
        "name": name,
        "contentType": content_type,
        "size": len(data),
        "isInline": inline,
        "contentId": content_id,
        "contentLocation": None,
        "contentBytes": base64.b64encode(data).decode("ascii"),
    }


class GraphError(Exception):
    """Answered as Graph's `{"error": {"code", "message", "innerError"}}`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass(frozen=True)
class GraphUser:
    id: str
    display_name: str
    mail: str
    user_principal_name: str
    # Graph's spelling: "SMTP:primary@x" first, then "smtp:alias@x" for each alias.
    proxy_addresses: tuple[str, ...] = ()
    teams_licence: bool = True  # False: Teams refuses to install apps for them (404)
    preferred_language: str = ""

    def json(self) -> Json:
        """Every property the fake keeps (what `$select` can choose from)."""
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": self.id,
            "displayName": self.display_name,
            "mail": self.mail,
            "userPrincipalName": self.user_principal_name,
            "proxyAddresses": list(self.proxy_addresses),
            "preferredLanguage": self.preferred_language or None,
        }

    def shown(self, select: str = "") -> Json:
        """The user as Graph v1.0 answers: its default properties (proxyAddresses are
        returned only when `$select`ed), or exactly the `$select`ed ones (names in any
        case; a real property the fake does not keep is null; an unknown one is a 400)."""
        everything = self.json()
        if not select:
            out = {k: v for k, v in everything.items() if k != "proxyAddresses"}
            missing = [name for name in _USER_DEFAULTS if name not in out]
            return out | {name: [] if name == "businessPhones" else None for name in missing}
        shown: Json = {"@odata.context": everything["@odata.context"]}
        for raw in select.split(","):
            name = _USER_PROPERTIES.get(raw.strip().lower())
            if name is None:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{raw.strip()}' on type "
                    "'Microsoft.DirectoryServices.User'.",
                )
            shown[name] = everything.get(name, [] if name == "businessPhones" else None)
        return shown


@dataclass
class GraphCall:
    """One request as the fake saw it; `status` is filled in when it is answered."""

    method: str
    path: str
    mailbox: str
    at: float
    concurrent: int = 0  # requests in flight for this mailbox when it arrived, itself included
    status: int = 0  # as the client saw it: 0 when the connection was reset instead
    lost: str = ""  # "reset" or "504": performed, but its answer never reached the client
    performed: int = 0  # the status the fake meant to answer (before losing it)


ROLES = web.RequestKey("roles", frozenset[str])
# Decides the answer to one request: None = serve it, else (status, headers).
FaultPlan = Callable[[GraphCall], tuple[int, dict[str, str]] | None]
# Decides, after a request was performed (2xx), whether its answer is lost: None = answer
# it, "reset" = close the connection without an answer, "504" = a gateway's timeout.
AnswerLoss = Callable[[GraphCall], str | None]


def fail_first(
    times: int, status: int = 429, retry_after: str | None = "1", method: str | None = None
) -> FaultPlan:
    """A fault plan that refuses the first `times` requests (of `method`, if given)."""
    left = [times]
    headers = {"Retry-After": retry_after} if retry_after is not None else {}

    def plan(call: GraphCall) -> tuple[int, dict[str, str]] | None:
        if left[0] <= 0 or (method is not None and call.method != method):
            return None
        left[0] -= 1
        return status, dict(headers)

    return plan


def lose_answer(
    times: int = 1, *, method: str = "POST", path_ends: str = "/reply", how: str = "reset"
) -> AnswerLoss:
    """Loses the answer of the first `times` performed requests of `method` whose path
    (without the query) ends with `path_ends`: "reset" or "504"."""
    if how not in ("reset", "504"):
        raise ValueError(f"unknown way to lose an answer: {how}")
    left = [times]

    def plan(call: GraphCall) -> str | None:
        if left[0] <= 0 or call.method != method or not call.path.split("?")[0].endswith(path_ends):
            return None
        left[0] -= 1
        return how

    return plan


def _http_error(exc: web.HTTPException) -> tuple[int, str, str]:
    return exc.status, _CODES.get(exc.status, "UnknownError"), exc.reason


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _opaque(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode()


def _new_id() -> str:
    return _opaque("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A")


def _new_conversation_id() -> str:
    return _opaque("AAQkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgAQA")


def _recipients(value: Any) -> list[Json]:
    """Normalized `[{emailAddress: {address, name}}]`; raises on a malformed list."""
    if not isinstance(value, list | None):
        raise GraphError(*BAD_RECIPIENTS)
    out: list[Json] = []
    for item in value or []:
        email: Json = (item.get("emailAddress") if isinstance(item, dict) else None) or {}
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise GraphError(*BAD_RECIPIENTS)
        out.append({"emailAddress": {"address": address, "name": email.get("name") or address}})
    return out


def _addr(recipient: Json) -> str:
    return str(recipient["emailAddress"]["address"]).lower()


def _without(recipients: list[Json], drop: set[str]) -> list[Json]:
    """`recipients` without the addresses in `drop` and without repeats."""
    out: list[Json] = []
    for r in recipients:
        if _addr(r) not in drop:
            drop = drop | {_addr(r)}
            out.append(r)
    return out


def _unquote_odata(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _property_key(property_id: str) -> str:
    """An extended property id as Graph compares it: the type word and the GUID in any
    case, the name exactly as written."""
    match = _PROPERTY_ID.match(property_id)
    if match is None:
        raise GraphError(
            400, "ErrorInvalidProperty", f"The extended property id '{property_id}' is invalid."
        )
    kind, guid = match["type"].lower(), (match["guid"] or "").lower()
    if match["name"] is not None:
        return f"{kind} {guid} name {match['name']}"
    return f"{kind} {guid} id {int(match['id'], 16)}" if guid else f"{kind} {match['tag'].lower()}"


def _extended_properties(value: Any) -> dict[str, str]:
    """`singleValueExtendedProperties` as written: [{id, value}] with string values."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise GraphError(400, "RequestBodyRead", "singleValueExtendedProperties must be a list.")
    out: dict[str, str] = {}
    for item in value:
        ok = isinstance(item, dict) and isinstance(item.get("id"), str)
        if not ok or not isinstance(item.get("value"), str):
            raise GraphError(
                400, "RequestBodyRead", "An extended property needs a string id and value."
            )
        _property_key(item["id"])
        out[item["id"]] = item["value"]
    return out


def _custom_headers(value: Any) -> list[tuple[str, str]]:
    """`internetMessageHeaders` a client may write: custom `x-` headers, plain ASCII."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraphError(400, "RequestBodyRead", "internetMessageHeaders must be a list.")
    out: list[tuple[str, str]] = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        text = item.get("value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.lower().startswith("x-"):
            raise GraphError(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
            )
        if not isinstance(text, str) or not text.isascii() or "\r" in text or "\n" in text:
            raise GraphError(
                400, "InvalidInternetMessageHeader", f"The value of header '{name}' is invalid."
            )
        out.append((name, text))
    return out


def _filter(condition: str | None) -> tuple[Callable[[Json], bool], tuple[str, ...]]:
    """The messages a `$filter` keeps and the properties it names, in order; refuses
    (400) what this fake does not support, and what Graph cannot filter on at all
    (internetMessageHeaders among others)."""
    if condition is None:
        return (lambda message: True), ()
    words = re.sub(_ODATA_STRING, "''", condition)  # names only, not what is quoted
    for name in _NOT_FILTERABLE:
        if re.search(rf"\b{name}\b", words, re.IGNORECASE):
            raise GraphError(
                400, "ErrorInvalidProperty", f"The property '{name}' does not support filtering."
            )
    match = _FILTER_MESSAGE_ID.match(condition)
    if match is not None:
        wanted = _unquote_odata(match["value"])
        return (lambda message: bool(message["internetMessageId"] == wanted)), (
            "internetMessageId",
        )
    match = _FILTER_CONVERSATION.match(condition)
    if match is not None:
        conversation = _unquote_odata(match["value"])
        return (lambda message: bool(message["conversationId"] == conversation)), (
            "conversationId",
        )
    match = _FILTER_EXTENDED.match(condition)
    if match is not None:
        key = _property_key(_unquote_odata(match["id"]))
        value = _unquote_odata(match["value"]).lower()  # values compare case-insensitively

        def has(message: Json) -> bool:
            return any(
                _property_key(k) == key and v.lower() == value
                for k, v in message.get("_extended", {}).items()
            )

        return has, ("singleValueExtendedProperties",)
    raise GraphError(*BAD_FILTER)


def _order(orderby: str | None, filtered: tuple[str, ...]) -> list[tuple[str, bool]]:
    """`$orderby` as (property, descending) pairs, refused as Graph refuses it. With a
    `$filter`, Graph sorts only by properties the filter names, first and in its order
    (else 400 InefficientFilter); without one, the fake sorts by the times only."""
    if orderby is None:
        return []
    keys: list[tuple[str, bool]] = []
    for item in orderby.split(","):
        match = _ORDER_ITEM.match(item)
        if match is None:
            raise GraphError(400, "BadRequest", f"Invalid $orderby: '{orderby}'.")
        keys.append((match["name"], (match["way"] or "asc").lower() == "desc"))
    if filtered:
        named = [name.lower() for name, _ in keys]
        if named != [name.lower() for name in filtered[: len(named)]]:
            raise GraphError(*INEFFICIENT_FILTER)
        return []  # sorted by what the filter holds equal: nothing to reorder
    sortable = {name.lower(): name for name in _SORTABLE}
    out: list[tuple[str, bool]] = []
    for name, descending in keys:
        if name.lower() not in sortable:
            raise GraphError(400, "BadRequest", f"The fake cannot sort by '{name}'.")
        out.append((sortable[name.lower()], descending))
    return out


def _thread_topic(subject: str) -> str:
    """A new conversation's Thread-Topic: its subject without RE:/FW: prefixes."""
    while True:
        shorter = _SUBJECT_PREFIX.sub("", subject, count=1)
        if shorter == subject:
            return subject.strip()
        subject = shorter


def _user_clause(match: re.Match[str]) -> Callable[[GraphUser], bool]:
    """One clause of a directory `$filter`; values compare case-insensitively."""
    if match["property"] is not None:
        wanted = _unquote_odata(match["value"]).lower()
        by_mail = match["property"].lower() == "mail"
        return lambda u: (u.mail if by_mail else u.user_principal_name).lower() == wanted
    proxy = _unquote_odata(match["proxy"]).lower()
    return lambda u: any(p.lower() == proxy for p in u.proxy_addresses)


def _user_filter(condition: str) -> Callable[[GraphUser], bool]:
    """The users a directory `$filter` keeps: clauses joined with `or`; any other filter
    is refused as Graph refuses one it does not support."""
    clauses: list[Callable[[GraphUser], bool]] = []
    at = 0
    while True:
        match = _USER_CLAUSE.match(condition, at)
        if match is None:
            raise GraphError(*UNSUPPORTED_USER_QUERY)
        clauses.append(_user_clause(match))
        at = match.end()
        if at == len(condition):
            return lambda user: any(clause(user) for clause in clauses)
        joined = _OR.match(condition, at)
        if joined is None:
            raise GraphError(*UNSUPPORTED_USER_QUERY)
        at = joined.end()


def _mail_headers(message: Json, written: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a sent mail carries, below what its sender wrote: Exchange's own,
    Thread-Topic and Thread-Index among them."""

    def people(recipients: list[Json]) -> str:
        return ", ".join(f"<{r['emailAddress']['address']}>" for r in recipients)

    author = _addr(message["from"])
    headers = [*((str(n), str(v)) for n, v in written)]
    headers.append(("From", f"{message['from']['emailAddress']['name']} <{author}>"))
    if _addr(message["sender"]) != author:
        headers.append(("Sender", f"<{_addr(message['sender'])}>"))
    headers.append(("To", people(message["toRecipients"])))
    if message["ccRecipients"]:
        headers.append(("CC", people(message["ccRecipients"])))
    headers.append(("Subject", str(message["subject"])))
    headers.append(("Thread-Topic", str(message["_threadTopic"])))
    headers.append(("Thread-Index", str(message["_threadIndex"])))
    headers.append(("Date", str(message["sentDateTime"])))
    headers.append(("Message-ID", str(message["internetMessageId"])))
    if message["_inReplyTo"]:
        headers.append(("In-Reply-To", str(message["_inReplyTo"])))
        headers.append(("References", " ".join(message["_references"])))
    headers += [("Content-Type", 'text/html; charset="utf-8"'), ("MIME-Version", "1.0")]
    return headers


class FakeGraph(LocalServer, InboundMail, TeamsApps, Calendars):
    """Graph mail for many mailboxes; needs tokens that `entra` issued for Graph."""

    def __init__(self, entra: FakeEntra, *, latency: float = 0.0, host: str = "127.0.0.1"):
        super().__init__(host)
        self.entra = entra
        self.latency = latency  # seconds each request takes
        # A Graph that hangs: a request arriving while this is an Event (it is counted in
        # `in_flight` at once) waits until that Event is set, then is answered.
        self.hold: asyncio.Event | None = None
        self.faults: FaultPlan | None = None
        self.lose_answers: AnswerLoss | None = None
        # Answer 400 to a reply whose message carries extended properties (untested on
        # real Graph: Send must still get its mail out then).
        self.refuse_reply_properties = False
        self.mailbox_concurrency: int | None = None  # 429 ApplicationThrottled above it
        self.require_known_mailboxes = False  # 404 ErrorInvalidUser for non-directory boxes
        self.users: dict[str, GraphUser] = {}  # by lower-case mail, UPN and id
        self.boxes: dict[str, dict[str, Json]] = {}  # mailbox -> message id -> message
        self.calls: list[GraphCall] = []
        self.uploads: dict[str, UploadSession] = {}  # by the token in its uploadUrl
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._init_inbound()
        self._init_teamwork()
        self._init_calendar()

    # -- directory and inspection --------------------------------------------------------

    def add_user(
        self,
        address: str,
        display_name: str = "",
        upn: str = "",
        aliases: Iterable[str] = (),
        *,
        teams_licence: bool = True,
        preferred_language: str = "",
    ) -> GraphUser:
        """A directory user whose mail (primary SMTP address) is `address`; `aliases` are
        further SMTP addresses of theirs (in proxyAddresses only: `GET /users/{alias}`
        does not find them, a `$filter` on proxyAddresses does)."""
        others = [a.split(":", 1)[1] if a.lower().startswith("smtp:") else a for a in aliases]
        proxies = (f"SMTP:{address}", *(f"smtp:{a}" for a in others))
        user = GraphUser(
            str(uuid.uuid4()),
            display_name or address,
            address,
            upn or address,
            proxy_addresses=proxies,
            teams_licence=teams_licence,
            preferred_language=preferred_language,
        )
        for key in (address, user.user_principal_name, user.id):
            self.users[key.lower()] = user
        return user

    def directory_user(self, raw: str) -> GraphUser | None:
        """The user `GET /users/{raw}` finds: by object id or userPrincipalName only
        (Graph's directory does not resolve mail or proxy addresses in the path)."""
        user = self.users.get(raw.lower())
        if user is None or raw.lower() not in (user.id.lower(), user.user_principal_name.lower()):
            return None
        return user

    def directory(self) -> list[GraphUser]:
        """Every directory user once, in the order they were added."""
        return list({id(u): u for u in self.users.values()}.values())

    def _box(self, address: str) -> dict[str, Json]:
        return self.boxes.setdefault(self._owner(address), {})

    def _owner(self, address: str) -> str:
        """The mailbox an address reaches, by its primary address: like Exchange, any SMTP
        address of a user (the primary, the UPN, a proxy address) is that user's one
        mailbox; and, as Exchange Online's plus addressing (on by default),
        `local+anything@domain` is the mailbox of `local@domain` when that is a user's."""
        address = address.lower()
        local, at, domain = address.rpartition("@")
        base = f"{local.split('+', 1)[0]}@{domain}" if at and "+" in local else ""
        for wanted in (address, base):
            for user in self.directory():
                proxies = {p.split(":", 1)[1].lower() for p in user.proxy_addresses}
                if wanted and wanted in {
                    user.mail.lower(),
                    user.user_principal_name.lower(),
                    *proxies,
                }:
                    return user.mail.lower()
        return address

    def _folder(self, address: str, folder: str) -> list[Json]:
        return [m for m in self._box(address).values() if m["parentFolderId"] == folder]

    def mailbox(self, address: str) -> list[Json]:
        """The inbox, in arrival order."""
        return self._folder(address, "inbox")

    def sent(self, address: str) -> list[Json]:
        return self._folder(address, "sentitems")

    def drafts(self, address: str) -> list[Json]:
        return self._folder(address, "drafts")

    @staticmethod
    def attachments(message: Json) -> list[Attached]:
        """A message's attachments, in the order they were added, with their bytes."""
        return [
            Attached(
                str(a["name"]),
                str(a["contentType"]),
                base64.b64decode(a.get("contentBytes") or ""),
                bool(a["isInline"]),
                str(a.get("contentId") or ""),
            )
            for a in message.get("_attachments", [])
        ]

    @staticmethod
    def thread_headers(message: Json) -> dict[str, str]:
        """The threading headers of a message (any folder) as its MIME carries them:
        Message-ID, In-Reply-To and References (when it answers one), Thread-Topic and
        Thread-Index."""
        headers = {
            "Message-ID": str(message["internetMessageId"]),
            "Thread-Topic": str(message["_threadTopic"]),
            "Thread-Index": str(message["_threadIndex"]),
        }
        if message["_inReplyTo"]:
            headers["In-Reply-To"] = str(message["_inReplyTo"])
            headers["References"] = " ".join(message["_references"])
        return headers

    @staticmethod
    def extended(message: Json) -> dict[str, str]:
        """A message's single-value extended properties, by id as they were written."""
        return dict(message.get("_extended", {}))

    def conversations(self, address: str) -> dict[str, list[Json]]:
        """Every message of the mailbox (any folder), grouped by conversationId."""
        out: dict[str, list[Json]] = {}
        for m in self._box(address).values():
            out.setdefault(m["conversationId"], []).append(m)
        return out

    def requests_to(self, address: str) -> list[GraphCall]:
        return [c for c in self.calls if c.mailbox == address.lower()]

    async def wait_for(
        self, condition: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT, what: str = "mail"
    ) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None

    @property
    def base_url(self) -> str:
        """What `GRAPH_ENDPOINT` is set to: `http://127.0.0.1:<port>/v1.0`."""
        return f"{self.origin}/v1.0"

    # -- protocol plumbing ---------------------------------------------------------------

    def app(self) -> web.Application:
        # Large enough for any upload chunk; Graph's own limits are checked by the handlers.
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        r = app.router
        r.add_get("/v1.0/users", self._users)
        r.add_get("/v1.0/users/{mbx}", self._user)
        r.add_post("/v1.0/users/{mbx}/messages", self._create)
        r.add_get("/v1.0/users/{mbx}/messages/{id}", self._get)
        r.add_get("/v1.0/users/{mbx}/mailFolders/{folder}/messages", self._list)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/send", self._send)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/reply", self._reply)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/replyAll", self._reply_all)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/createReply", self._create_reply)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/createReplyAll", self._create_reply_all)
        r.add_delete("/v1.0/users/{mbx}/messages/{id}", self._delete)
        r.add_post("/v1.0/users/{mbx}/messages/{id}/attachments", self._add_attachment)
        r.add_post(
            "/v1.0/users/{mbx}/messages/{id}/attachments/createUploadSession", self._upload_session
        )
        r.add_put(UPLOAD_PREFIX + "{token}", self._upload)
        self._add_inbound_routes(app)
        self._add_teamwork_routes(app)
        self._add_calendar_routes(app)
        return app

    async def stop(self) -> None:
        """Stops serving, then settles the notifications and install events still being
        delivered."""
        await super().stop()
        await self._stop_inbound()
        await self._stop_teamwork()

    def _address(self, raw: str) -> str:
        """The mailbox a path names (address or user id) as its lower-case address."""
        raw = raw.lower()
        user = self.users.get(raw)
        return user.mail.lower() if user is not None and raw == user.id else raw

    def _mailbox_of(self, request: web.Request) -> str:
        return self._address(request.match_info.get("mbx", ""))

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        mbx = self._mailbox_of(request)
        call = GraphCall(request.method, request.path_qs, mbx, time.monotonic())
        self.calls.append(call)
        self.in_flight[mbx] = call.concurrent = self.in_flight.get(mbx, 0) + 1
        self.max_in_flight[mbx] = max(self.max_in_flight.get(mbx, 0), call.concurrent)
        rid = str(uuid.uuid4())
        client_rid = request.headers.get("client-request-id", rid)
        hold = self.hold
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if hold is not None:
                await hold.wait()
            self._admit(request, call)
            response: web.StreamResponse = await handler(request)
            call.performed = response.status
            lost = self.lose_answers(call) if self.lose_answers is not None else None
            if lost is not None and response.status < 300:
                call.lost = lost
                if lost == "reset":
                    if request.transport is not None:
                        request.transport.abort()  # the client reads no answer at all
                else:
                    raise GraphError(
                        504, "GatewayTimeout", "The gateway did not receive a response in time."
                    )
        except (GraphError, web.HTTPException) as exc:
            error = exc if isinstance(exc, GraphError) else GraphError(*_http_error(exc))
            inner = {"date": _now(), "request-id": rid, "client-request-id": client_rid}
            body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
            response = web.json_response(body, status=error.status, headers=error.headers)
        finally:
            self.in_flight[mbx] -= 1
        call.status = 0 if call.lost == "reset" else response.status
        response.headers["request-id"] = rid
        response.headers["client-request-id"] = client_rid
        return response

    def _admit(self, request: web.Request, call: GraphCall) -> None:
        """Authentication, then injected faults and throttling, then the mailbox check."""
        if request.path.startswith(UPLOAD_PREFIX):
            # Pre-authenticated by the token in the URL: a bearer token is refused there.
            if "Authorization" in request.headers:
                raise GraphError(
                    401,
                    "InvalidAuthenticationToken",
                    "The upload URL is pre-authenticated; do not send an Authorization header.",
                )
            request[ROLES] = frozenset()
            request[CLAIMS] = {}
            fault = self.faults(call) if self.faults is not None else None
            if fault is not None:
                raise GraphError(fault[0], _CODES.get(fault[0], "UnknownError"), "fault", fault[1])
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = self.entra.issued.get(token.strip()) if scheme.lower() == "bearer" else None
        problem = ""
        if not token.strip() or scheme.lower() != "bearer":
            problem = "Access token is empty."
        elif claims is None:
            problem = "Access token validation failure. Invalid signature."
        elif claims["exp"] < time.time():
            problem = "Lifetime validation failed, the token is expired."
        elif claims["aud"] not in GRAPH_AUDIENCES:
            problem = "Access token validation failure. Invalid audience."
        if problem:
            challenge = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
            )
            raise GraphError(
                401, "InvalidAuthenticationToken", problem, {"WWW-Authenticate": challenge}
            )
        request[ROLES] = frozenset((claims or {}).get("roles", []))
        request[CLAIMS] = claims or {}
        fault = self.faults(call) if self.faults is not None else None
        if fault is not None:
            status, headers = fault
            raise GraphError(status, _CODES.get(status, "UnknownError"), "fault", headers)
        limit = self.mailbox_concurrency
        if limit is not None and call.concurrent > limit:
            message = "Application is over its MailboxConcurrency limit."
            raise GraphError(429, "ApplicationThrottled", message, {"Retry-After": "1"})
        if self.require_known_mailboxes and call.mailbox and call.mailbox not in self.users:
            raise GraphError(
                404, "ErrorInvalidUser", f"The requested user '{call.mailbox}' is invalid."
            )

    @staticmethod
    def _need(request: web.Request, *roles: str) -> None:
        if not request[ROLES] & set(roles):
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    @staticmethod
    def _refuse(status: int, code: str, message: str) -> NoReturn:
        raise GraphError(status, code, message)

    @staticmethod
    async def _body(request: web.Request) -> Json:
        if (request.content_length or 0) > REQUEST_MOST:
            raise GraphError(*TOO_LARGE)
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "Unable to read JSON request payload.")
        return body

    def _find(self, request: web.Request) -> Json:
        message = self._box(self._mailbox_of(request)).get(request.match_info["id"])
        if message is None:
            raise GraphError(*NOT_FOUND)
        return message

    @staticmethod
    def public(message: Json, select: str = "") -> Json:
        """The message as Graph returns it: no `_` test fields, `$select` honoured
        (`uniqueBody`, the part new in this message, only when selected)."""
        out = {k: v for k, v in message.items() if not k.startswith("_")}
        if select:
            wanted = {s.strip() for s in select.split(",")} | {"id"}
            out = {k: v for k, v in out.items() if k in wanted}
            if "uniqueBody" in wanted:
                out["uniqueBody"] = message["_uniqueBody"]
            if "internetMessageHeaders" in wanted and "_internetMessageHeaders" in message:
                out["internetMessageHeaders"] = message["_internetMessageHeaders"]
        return {"@odata.etag": f'W/"{message["changeKey"]}"', **out}

    # -- the mail model ------------------------------------------------------------------

    def _who(self, address: str) -> Json:
        user = self.users.get(address.lower())
        return {
            "emailAddress": {"address": address, "name": user.display_name if user else address}
        }

    def _message(self, mbx: str, fields: Json, answers: Json | None = None) -> Json:
        """A new message of `mbx`, a draft until sent. `answers`: the message it replies to,
        whose conversation it joins; Exchange then sets its In-Reply-To and References,
        keeps the conversation's Thread-Topic and adds a child block to its Thread-Index.
        Otherwise it starts a conversation: a new conversationId, a Thread-Topic from its
        subject and a root Thread-Index."""
        lists = {
            k: _recipients(fields.get(k)) for k in ("toRecipients", "ccRecipients", "bccRecipients")
        }
        body = fields.get("body") or {}
        kind = str(body.get("contentType", "text")).lower() if isinstance(body, dict) else ""
        if kind not in ("text", "html"):
            raise GraphError(400, "ErrorInvalidRequest", "Invalid body contentType.")
        body = {"contentType": kind, "content": str(body.get("content", ""))}
        unique = body["content"] if kind == "html" else escape(body["content"])
        stamp = _now()
        at = datetime.datetime.now(datetime.UTC)
        subject = str(fields.get("subject") or "")
        if answers is None:
            conversation_id = _new_conversation_id()
            thread = (_thread_topic(subject), root_index(at, uuid.uuid4().bytes))
            in_reply_to, references = "", []
        else:
            conversation_id = answers["conversationId"]
            thread = (answers["_threadTopic"], child_index(answers["_threadIndex"], at))
            in_reply_to = answers["internetMessageId"]
            references = [*answers["_references"], answers["internetMessageId"]]
        message: Json = dict(id=_new_id(), conversationId=conversation_id, parentFolderId="drafts")
        message.update(createdDateTime=stamp, lastModifiedDateTime=stamp, receivedDateTime=stamp)
        message.update(sentDateTime=stamp, changeKey=_opaque("CQAAABYAAAA")[:40], categories=[])
        message.update(internetMessageId=f"<{uuid.uuid4().hex}@fake.graph>", hasAttachments=False)
        message.update(subject=subject, bodyPreview=body["content"][:255])
        message.update(importance=str(fields.get("importance") or "normal"), isRead=True)
        message.update({"body": body, "sender": self._who(mbx), "from": self._who(mbx), **lists})
        message.update(isDraft=True, replyTo=[], _inReplyTo=in_reply_to, _references=references)
        message.update(_threadTopic=thread[0], _threadIndex=thread[1])
        message["_uniqueBody"] = {"contentType": "html", "content": unique}
        message["_extended"] = _extended_properties(fields.get("singleValueExtendedProperties"))
        given = fields.get("attachments") or []
        if not isinstance(given, list):
            raise GraphError(400, "RequestBodyRead", "attachments must be a list.")
        message["_attachments"] = [_file_attachment(a) for a in given]
        if sum(a["size"] for a in message["_attachments"]) > FILE_ATTACHMENT_MOST:
            raise GraphError(*TOO_LARGE)
        message["hasAttachments"] = has_attachments(message["_attachments"])
        return message

    def _file(self, mbx: str, message: Json, folder: str) -> None:
        """Puts `message` last in `mbx` (arrival order) in `folder`."""
        box = self._box(mbx)
        box.pop(message["id"], None)
        message["parentFolderId"] = folder
        box[message["id"]] = message
        if folder == "inbox":
            self._arrived(self._owner(mbx), message)

    async def _deliver(self, mbx: str, message: Json) -> None:
        """Files `message` in mbx's sent items and a copy in each recipient's inbox."""
        recipients = message["toRecipients"] + message["ccRecipients"] + message["bccRecipients"]
        if not recipients:
            raise GraphError(*BAD_RECIPIENTS)
        message.update(isDraft=False, sentDateTime=_now(), lastModifiedDateTime=_now())
        # Only a received copy has transport headers (internetMessageHeaders): the sender's
        # own copy keeps its thread in properties (`thread_headers` reads them).
        self._file(mbx, message, "sentitems")
        headers = self._transport_headers(message)
        for address in dict.fromkeys(_addr(r) for r in recipients):
            received = copy.deepcopy(message)
            received.update(id=_new_id(), receivedDateTime=_now(), isRead=False, bccRecipients=[])
            received["_extended"] = {}  # extended properties stay in the sender's mailbox
            received["_internetMessageHeaders"] = copy.deepcopy(headers)
            self._file(address, received, "inbox")
        async with self._changed:
            self._changed.notify_all()

    def _transport_headers(self, message: Json) -> list[Json]:
        """The headers of a received copy, topmost first, as Graph lists them."""
        author = _addr(message["from"])
        domain = author.rpartition("@")[2]
        verdict = message.get("_authentication")
        # Mail that never left the organisation: Exchange Online says so in a header of
        # its own; mail from outside is anonymous to it, whatever address it bears.
        internal = verdict is None and author in self.users
        if internal:
            verdict = f"dkim=none (message not signed) header.d=none;dmarc=none action=none header.from={domain};"
        elif verdict is None:
            verdict = (
                f"spf=pass (sender IP is 203.0.113.25) smtp.mailfrom={domain}; dkim=pass "
                f"(signature was verified) header.d={domain};dmarc=pass action=none "
                f"header.from={domain};compauth=pass reason=100"
            )

        # Exchange's header firewall: what a sender wrote in its X-MS-Exchange-Organization-
        # headers never arrives.
        written = [
            (str(n), str(v))
            for n, v in message.get("_writtenHeaders", [])
            if not str(n).lower().startswith("x-ms-exchange-organization-")
        ]
        headers = [
            ("Received", "from EX1PR01MB0001.prod.outlook.com by EX1PR01MB0002.prod.outlook.com"),
            ("Authentication-Results", verdict),
            ("X-MS-Exchange-Organization-AuthAs", "Internal" if internal else "Anonymous"),
            ("X-MS-Exchange-Organization-AuthSource", "EX1PR01MB0001.prod.outlook.com"),
            ("Received", f"from mail.{domain} by EX1PR01MB0001.prod.outlook.com"),
        ]
        headers += _mail_headers(message, written)
        return [{"name": name, "value": value} for name, value in headers]

    # -- endpoints -----------------------------------------------------------------------

    async def _user(self, request: web.Request) -> web.Response:
        """A directory user by object id or userPrincipalName (never by mail)."""
        self._need(request, "User.Read.All", "User.ReadBasic.All")
        user = self.directory_user(request.match_info["mbx"])
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.match_info['mbx']}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        return web.json_response(user.shown(request.query.get("$select", "")))

    async def _users(self, request: web.Request) -> web.Response:
        """`GET /users?$filter=...&$select=...`: the directory search Send makes."""
        self._need(request, "User.Read.All", "User.ReadBasic.All")
        condition = request.query.get("$filter")
        keep = _user_filter(condition) if condition is not None else (lambda user: True)
        select = request.query.get("$select", "")
        value = []
        for user in self.directory():
            if keep(user):
                shown = user.shown(select)
                shown.pop("@odata.context", None)
                value.append(shown)
        context = "https://graph.microsoft.com/v1.0/$metadata#users"
        return web.json_response({"@odata.context": context, "value": value})

    async def _create(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.ReadWrite")
        mbx = self._mailbox_of(request)
        fields = await self._body(request)
        message = self._message(mbx, fields)
        # Only when creating may a client write these; Graph keeps them as given.
        if "internetMessageId" in fields:
            given = fields["internetMessageId"]
            if not isinstance(given, str) or not is_msg_id(given):
                raise GraphError(
                    400, "ErrorInvalidInternetMessageId", "The internet message id is invalid."
                )
            message["internetMessageId"] = given
        message["_writtenHeaders"] = _custom_headers(fields.get("internetMessageHeaders"))
        self._file(mbx, message, "drafts")
        return web.json_response(self.public(message), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        """A folder's messages, `$filter`ed as Graph can (see the module docstring), newest
        first unless `$orderby` says otherwise (as Graph allows it, see `_order`), `$top`
        per page (10 unless given) with `$skip` in the next link."""
        self._need(request, "Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic", "Mail.ReadBasic.All")
        raw = request.match_info["folder"]
        folder = _WELL_KNOWN_FOLDERS.get(raw.strip("()'").lower())  # sentitems, ('SentItems')
        if folder is None:
            self._refuse(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        query = request.query
        keep, filtered = _filter(query.get("$filter"))
        order = _order(query.get("$orderby"), filtered)
        try:
            top = int(query.get("$top", "10"))
            skip = int(query.get("$skip", "0"))
        except ValueError:
            self._refuse(400, "BadRequest", "Invalid $top or $skip value.")
        if not 1 <= top <= 1000 or skip < 0:
            self._refuse(400, "BadRequest", "Invalid $top or $skip value.")
        mbx = self._mailbox_of(request)
        found = [m for m in reversed(self._folder(mbx, folder)) if keep(m)]
        for name, descending in reversed(order):  # stable sorts, the last key first
            found.sort(key=itemgetter(name), reverse=descending)
        page = found[skip : skip + top]
        select = query.get("$select", "")
        body: Json = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('"
            f"{mbx}')/mailFolders('{raw}')/messages",
            "value": [self.public(m, select) for m in page],
        }
        if skip + top < len(found):
            rest = {k: v for k, v in query.items() if k != "$skip"} | {"$skip": str(skip + top)}
            link = self.base_url + request.path.removeprefix("/v1.0")
            body["@odata.nextLink"] = (
                link + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in rest.items())
            )
        return web.json_response(body)

    async def _get(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.Read", "Mail.ReadWrite")
        message = self._find(request)
        return web.json_response(self.public(message, request.query.get("$select", "")))

    async def _send(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.Send")
        message = self._find(request)
        if not message["isDraft"]:
            raise GraphError(400, "ErrorInvalidRequest", "Only a draft message can be sent.")
        await self._deliver(self._mailbox_of(request), message)
        return web.Response(status=202)

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._respond(request, reply_all=False)

    async def _reply_all(self, request: web.Request) -> web.Response:
        return await self._respond(request, reply_all=True)

    async def _create_reply(self, request: web.Request) -> web.Response:
        return await self._respond(request, reply_all=False, draft=True)

    async def _create_reply_all(self, request: web.Request) -> web.Response:
        return await self._respond(request, reply_all=True, draft=True)

    async def _respond(
        self, request: web.Request, *, reply_all: bool, draft: bool = False
    ) -> web.Response:
        """reply / replyAll. Recipients, unless `message.toRecipients` is given: the original
        sender (replyAll: plus its To, and its Cc as Cc), minus this mailbox; for a message
        this mailbox sent itself, its original To (and Cc), as Outlook does."""
        self._need(request, "Mail.Send")
        args = await self._body(request)
        original = self._find(request)
        overrides = args.get("message") or {}
        comment = args.get("comment")
        if (
            self.refuse_reply_properties
            and isinstance(overrides, dict)
            and "singleValueExtendedProperties" in overrides
        ):
            # What a Graph that does not take extended properties in a reply would answer.
            raise GraphError(400, "ErrorInvalidRequest", "Unexpected property in the message.")
        if not isinstance(overrides, dict) or (comment is not None and "body" in overrides):
            message = "The comment and message.body parameters cannot both be specified."
            raise GraphError(400, "ErrorInvalidRequest", message)
        mbx = self._mailbox_of(request)
        own = _addr(original["from"]) == mbx
        to = original["toRecipients"] if own else [original["from"]]
        if reply_all and not own:
            to = to + original["toRecipients"]
        to = _without(to, {mbx})
        cc = _without(original["ccRecipients"], {mbx} | {_addr(r) for r in to})
        fields: Json = {
            "subject": f"RE: {original['subject']}",
            "body": {"contentType": "text", "content": str(comment or "")},
            "toRecipients": to,
            "ccRecipients": cc if reply_all else [],
            **overrides,
        }
        reply = self._message(mbx, fields, original)
        if draft:  # createReply: a draft in the same conversation, sent later by `send`
            self._need(request, "Mail.ReadWrite")
            self._file(mbx, reply, "drafts")
            return web.json_response(self.public(reply), status=201)
        await self._deliver(mbx, reply)
        return web.Response(status=202)

    async def _delete(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.ReadWrite")
        message = self._find(request)
        del self._box(self._mailbox_of(request))[message["id"]]
        return web.Response(status=204)

    async def _add_attachment(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.ReadWrite")
        message = self._find(request)
        attachment = _file_attachment(await self._body(request))
        self._attach(message, attachment)
        shown = {k: v for k, v in attachment.items() if k != "contentBytes"}
        return web.json_response(shown, status=201)

    @staticmethod
    def _attach(message: Json, attachment: Json) -> None:
        message.setdefault("_attachments", []).append(attachment)
        message["hasAttachments"] = has_attachments(message["_attachments"])
        message["changeKey"] = _opaque("CQAAABYAAAA")[:40]

    async def _upload_session(self, request: web.Request) -> web.Response:
        self._need(request, "Mail.ReadWrite")
        message = self._find(request)
        args = await self._body(request)
        item = args.get("AttachmentItem", args.get("attachmentItem"))
        if not isinstance(item, dict):
            self._refuse(400, "ErrorInvalidRequest", "AttachmentItem is required.")
        if not message["isDraft"]:
            self._refuse(
                400, "ErrorInvalidRequest", "An upload session can only be created for a draft."
            )
        name, size = item.get("name"), item.get("size")
        if item.get("attachmentType") != "file" or not isinstance(name, str) or not name:
            self._refuse(400, "ErrorInvalidRequest", "attachmentType file and a name are required.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            self._refuse(400, "ErrorInvalidRequest", "size must be a number of bytes.")
        if size < SESSION_LEAST:
            self._refuse(
                400,
                "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                "Attachment size must be greater than the minimum size.",
            )
        if size > SESSION_MOST:
            self._refuse(
                400,
                "ErrorAttachmentSizeShouldNotBeLargerThanMaximumSize",
                "Attachment size must be less than the maximum size.",
            )
        inline, content_id = item.get("isInline", False), item.get("contentId")
        if not isinstance(inline, bool) or not isinstance(content_id, str | None):
            self._refuse(400, "RequestBodyRead", "isInline or contentId has the wrong type.")
        token = _opaque("")
        self.uploads[token] = UploadSession(
            self._mailbox_of(request),
            message["id"],
            {
                "name": name,
                "contentType": str(item.get("contentType") or "application/octet-stream"),
                "isInline": inline,
                "contentId": content_id,
            },
            size,
            bytearray(),
        )
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=15)
        return web.json_response(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.uploadSession",
                "uploadUrl": f"{self.origin}{UPLOAD_PREFIX}{token}?authtoken={uuid.uuid4().hex}",
                "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "nextExpectedRanges": ["0-"],
            },
            status=201,
        )

    async def _upload(self, request: web.Request) -> web.Response:
        """A PUT of the next bytes to an upload session's uploadUrl."""
        session = self.uploads.get(request.match_info["token"])
        if session is None or session.finished:
            self._refuse(404, "ErrorItemNotFound", "The upload session was not found.")
        match = _CONTENT_RANGE.match(request.headers.get("Content-Range", ""))
        if match is None:
            self._refuse(400, "ErrorInvalidRequest", "Content-Range is required: bytes a-b/total.")
        first, last, total = (int(g) for g in match.groups())
        chunk = await request.read()
        expected = len(session.received)
        if total != session.size or first != expected or last < first or last >= total:
            raise GraphError(
                416,
                "ErrorInvalidRange",
                f"The range is not the one expected next: {expected}-.",
            )
        if len(chunk) != last - first + 1 or request.content_length != len(chunk):
            self._refuse(400, "ErrorInvalidRequest", "Content-Length does not match the range.")
        if len(chunk) > CHUNK_MOST or (last + 1 < total and len(chunk) % CHUNK_UNIT):
            self._refuse(
                400,
                "ErrorInvalidRequest",
                "Each range but the last must be a multiple of 320 KiB, and at most 4 MiB.",
            )
        session.received += chunk
        if last + 1 < total:
            return web.json_response(
                {"expirationDateTime": _now(), "nextExpectedRanges": [str(last + 1)]}
            )
        session.finished = True
        message = self._box(session.mailbox).get(session.message_id)
        if message is None:
            self._refuse(404, "ErrorItemNotFound", "The message of the upload session is gone.")
        item = session.item
        attachment = _kept_attachment(
            item["name"],
            item["contentType"],
            bytes(session.received),
            item["isInline"],
            item["contentId"],
        )
        self._attach(message, attachment)
        location = (
            f"{self.base_url}/users('{session.mailbox}')/messages('{message['id']}')"
            f"/attachments('{attachment['id']}')"
        )
        return web.Response(status=201, headers={"Location": location})

    # -- people answering from their own Outlook -------------------------------------------

    async def user_send(
        self,
        address: str,
        to: list[str],
        subject: str,
        html: str,
        *,
        authentication: str | None = None,
        attachments: list[MailAttachment] | None = None,
    ) -> Json:
        """`address` sends a new mail (a new conversation) from Outlook; returns their sent copy.
        `authentication`: the Authentication-Results the recipients' Exchange stamps;
        `attachments`: what they attach (or paste into the body: `inline`, with a `cid:`)."""
        fields: Json = {
            "subject": subject,
            "body": {"contentType": "html", "content": html},
            "toRecipients": [self._who(a) for a in to],
        }
        message = self._message(address, fields)
        if authentication is not None:
            message["_authentication"] = authentication
        for attachment in attachments or []:
            self._attach(message, attachment.json())
        await self._deliver(address, message)
        return self.public(message)

    async def user_reply(
        self,
        address: str,
        original_id: str,
        html: str,
        *,
        cc: list[str] | None = None,
        attachments: list[MailAttachment] | None = None,
    ) -> Json:
        """`address` clicks Reply (not Reply All) in Outlook on `original_id` in their inbox
        and writes `html`: to the original's Reply-To, or its sender, alone (for a mail of
        the thread: Send's mailbox only); `cc`: addresses they add as Cc by hand. Returns
        the copy in their sent items."""
        return await self._user_answer(
            address, original_id, html, reply_all=False, cc=cc, attachments=attachments
        )

    async def user_reply_all(
        self,
        address: str,
        original_id: str,
        html: str,
        *,
        sender: str | None = None,
        authentication: str | None = None,
        written_headers: list[tuple[str, str]] | None = None,
        attachments: list[MailAttachment] | None = None,
    ) -> Json:
        """`address` clicks Reply All in Outlook on `original_id` in their inbox and writes
        `html`: to the original sender and To, Cc the original Cc, all minus themselves. The
        body quotes the original under a `divRplyFwdMsg` header as Outlook does; `uniqueBody`
        is `html` alone. Returns the copy in their sent items.
        `sender`: a delegate sending it on `address`'s behalf (`from` stays `address`);
        `authentication`: the Authentication-Results the recipients' Exchange stamps on top;
        `written_headers`: headers the sending program wrote, below the transport ones."""
        return await self._user_answer(
            address,
            original_id,
            html,
            reply_all=True,
            sender=sender,
            authentication=authentication,
            written_headers=written_headers,
            attachments=attachments,
        )

    async def _user_answer(
        self,
        address: str,
        original_id: str,
        html: str,
        *,
        reply_all: bool,
        cc: list[str] | None = None,
        sender: str | None = None,
        authentication: str | None = None,
        written_headers: list[tuple[str, str]] | None = None,
        attachments: list[MailAttachment] | None = None,
    ) -> Json:
        original = self._box(address).get(original_id)
        if original is None or original["parentFolderId"] != "inbox":
            raise KeyError(f"{original_id} is not in {address}'s inbox")
        me = address.lower()
        if reply_all:
            to = _without([original["from"], *original["toRecipients"]], {me})
            copied = _without(original["ccRecipients"], {me} | {_addr(r) for r in to})
        else:
            to = _without(original["replyTo"] or [original["from"]], {me})
            copied = []
        copied = _without(copied + [self._who(a) for a in cc or []], {_addr(r) for r in to})
        subject = str(original["subject"])
        if not subject.lower().startswith("re:"):
            subject = f"RE: {subject}"
        body = {"contentType": "html", "content": html + self._quote(original)}
        fields: Json = {
            "subject": subject,
            "body": body,
            "toRecipients": to,
            "ccRecipients": copied,
        }
        reply = self._message(address, fields, original)
        reply["_uniqueBody"] = {"contentType": "html", "content": html}
        if sender is not None:
            reply["sender"] = self._who(sender)
        if authentication is not None:
            reply["_authentication"] = authentication
        reply["_writtenHeaders"] = list(written_headers or [])
        for attachment in attachments or []:
            self._attach(reply, attachment.json())
        await self._deliver(address, reply)
        return self.public(reply)

    @staticmethod
    def _quote(original: Json) -> str:
        """Outlook's quoted original below a reply: a header block, then the original body."""

        def people(recipients: list[Json]) -> str:
            return "; ".join(escape(r["emailAddress"]["name"]) for r in recipients)

        sender = original["from"]["emailAddress"]
        header = f"<b>From:</b> {escape(sender['name'])} &lt;{escape(sender['address'])}&gt;<br>"
        header += f"<b>Sent:</b> {original['sentDateTime']}<br>"
        header += f"<b>To:</b> {people(original['toRecipients'])}<br>"
        if original["ccRecipients"]:
            header += f"<b>Cc:</b> {people(original['ccRecipients'])}<br>"
        header += f"<b>Subject:</b> {escape(original['subject'])}"
        content = str(original["body"]["content"])
        if original["body"]["contentType"] != "html":
            content = escape(content).replace("\n", "<br>")
        return (
            '<hr style="display:inline-block;width:98%" tabindex="-1">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" '
            f'style="font-size:11pt" color="#000000">{header}</font><div>&nbsp;</div>'
            f"<div>{content}</div></div>"
        )
