"""Sends to Teams over the Bot Connector REST API, on two pooled clients.

Stock `continue_conversation` builds a msrest ConnectorClient per call (about 5 ms
of CPU each); here every send is one HTTP request on a shared connection pool,
with the bot token from one cached MSAL client. New activities (the copies, and the
replies to commands) are POSTed through `Posts` (pyreqwest, the cheapest per request);
updates, deletes and roster lookups go through the app's aiohttp session.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.config import Settings
from bot.core.kept import keep
from bot.core.model import Person
from bot.core.ports import OpenedChat, RelayedMessage, RosterEntry, SendOutcome, SendResult
from bot.core.texts import say
from bot.http_status import is_passing_failure, retry_after_seconds
from bot.identity import ClientCredentials, CredentialError
from bot.teams.activity import as_html
from bot.teams.cards import attachment, poll_card, receipt_card, relayed_message_card
from bot.teams.posts import Answer, PostFailed, Posts

log = logging.getLogger("send.teams")

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
CHATS_KEPT = 10_000  # chats whose address is kept made (about 300 bytes each)


class BotTokens:
    """Bot Framework access tokens for outbound calls; none in local mode."""

    def __init__(self, settings: Settings) -> None:
        self._credentials: ClientCredentials | None = None
        if settings.app_id and settings.app_password:
            tenant = (
                settings.app_tenant_id
                if settings.app_type == "SingleTenant"
                else "botframework.com"
            )
            self._credentials = ClientCredentials(
                settings.app_id,
                settings.app_password,
                settings.aad_authority_host,
                tenant,
                BOT_FRAMEWORK_SCOPE,
            )

    @property
    def credentials(self) -> list[ClientCredentials]:
        return [] if self._credentials is None else [self._credentials]

    async def header(self) -> dict[str, str]:
        return {} if self._credentials is None else await self._credentials.header()


class ConnectorError(Exception):
    """The Bot Connector refused or could not be reached during a turn."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what}: {status or 'unreachable'}")
        self.status = status


def _copy_url(person: Person, activity_id: str) -> str | None:
    """Where a copy sent to a person's 1:1 chat is updated or deleted (None: no chat)."""
    teams = person.teams
    if teams is None or not teams.conversation_id:
        return None
    conversation = _conversation_url(teams.service_url, teams.conversation_id)
    return f"{conversation}/activities/{quote(activity_id, safe='')}"


def _chat_address(
    service_url: str, conversation_id: str, bot_id: str, user_id: str
) -> tuple[str, str]:
    """Where activities for a 1:1 chat are posted, and the addressing every one carries
    (JSON members without the opening brace, to follow a shared activity's)."""
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    addressing = json.dumps(
        {
            "from": {"id": bot_id},
            "recipient": {"id": user_id},
            "conversation": {"id": conversation_id},
        }
    )
    return url, addressing[1:]


def _conversation_url(service_url: str, conversation_id: str) -> str:
    return f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}"


class TeamsConnector:
    def __init__(
        self, session: aiohttp.ClientSession, posts: Posts, tokens: BotTokens, max_chars: int
    ) -> None:
        self._session = session
        self._posts = posts  # new activities' POSTs (the hot path); the rest on `session`
        self._tokens = tokens
        self._max_chars = max_chars
        self._cards: dict[tuple[str, str], str] = {}
        # Each chat's activities URL and addressing, made once (a chat never moves).
        self._chats: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    async def send_message(self, person: Person, message: RelayedMessage) -> SendResult:
        return await self._post_activity(person, self._relayed_json(message))

    async def delete_message(self, person: Person, activity_id: str) -> SendResult:
        """`DELETE .../activities/{id}`: the copy leaves the person's chat. Already gone
        (404) is done too: nothing of it is left to take back."""
        url = _copy_url(person, activity_id)
        if url is None:
            return SendResult(SendOutcome.GONE, detail="no chat")
        try:
            async with self._session.delete(url, headers=await self._tokens.header()) as r:
                if r.status == 404:
                    return SendResult(SendOutcome.SENT, detail="already gone")
                return result_from_status(
                    r.status, retry_after_seconds(r.headers.get("Retry-After"))
                )
        except (aiohttp.ClientError, TimeoutError, CredentialError) as error:
            return SendResult(SendOutcome.RETRY, detail=f"connection: {type(error).__name__}")

    async def update_message(
        self, person: Person, activity_id: str, message: RelayedMessage
    ) -> SendResult:
        return await self._put_activity(person, activity_id, self._activity(message))

    async def send_receipt(self, person: Person, text: str) -> SendResult:
        return await self._post_activity(person, json.dumps(_receipt(text), ensure_ascii=False))

    async def update_receipt(self, person: Person, activity_id: str, text: str) -> SendResult:
        return await self._put_activity(person, activity_id, _receipt(text))

    async def _put_activity(
        self, person: Person, activity_id: str, activity: dict[str, Any]
    ) -> SendResult:
        """`PUT .../activities/{id}`: an activity Send sent before, shown anew in place."""
        url = _copy_url(person, activity_id)
        if url is None:
            return SendResult(SendOutcome.GONE, detail="no chat")
        activity = {**activity, "id": activity_id}
        try:
            async with self._session.put(
                url, json=activity, headers=await self._tokens.header()
            ) as r:
                return result_from_status(
                    r.status, retry_after_seconds(r.headers.get("Retry-After"))
                )
        except (aiohttp.ClientError, TimeoutError, CredentialError) as error:
            return SendResult(SendOutcome.RETRY, detail=f"connection: {type(error).__name__}")

    def _activity(self, message: RelayedMessage) -> dict[str, Any]:
        if message.poll is not None:
            card = poll_card(message)
            summary = say(
                message.language,
                "poll.summary",
                sender=message.sender_name,
                group=message.group_name,
            )
        else:
            card = relayed_message_card(message, self._max_chars)
            summary = say(
                message.language,
                "message.summary",
                sender=message.sender_name,
                group=message.group_name,
            )
        return {"type": "message", "summary": summary, "attachments": [attachment(card)]}

    def _relayed_json(self, message: RelayedMessage) -> str:
        """The copy every recipient of a message gets, serialized once per message."""
        if message.poll is not None or message.media:
            # A poll changes, and media links are signed per reader: neither is cached.
            return json.dumps(self._activity(message), ensure_ascii=False)
        # One per message and language: the card's own words are the reader's.
        key = (message.message_id, message.language)
        cached = self._cards.get(key)
        if cached is None:
            activity = self._activity(message)
            cached = keep(self._cards, key, json.dumps(activity, ensure_ascii=False), 256)
        return cached

    async def send_notice(self, person: Person, text: str) -> SendResult:
        notice = {"type": "message", "text": as_html(text), "textFormat": "xml"}
        return await self._post_activity(person, json.dumps(notice, ensure_ascii=False))

    async def _post_activity(self, person: Person, activity_json: str) -> SendResult:
        teams = person.teams
        if teams is None or not teams.conversation_id:
            return SendResult(SendOutcome.GONE, detail="no chat")
        chat = (teams.service_url, teams.conversation_id, teams.bot_id, teams.user_id)
        found = self._chats.get(chat)
        if found is None:
            found = keep(self._chats, chat, _chat_address(*chat), CHATS_KEPT)
        url, addressing = found
        # The shared activity plus this recipient's addressing: {...shared, ...addressing}.
        body = f"{activity_json[:-1]},{addressing}".encode()
        try:
            answer, activity_id = await self._post_new(url, body)
            if answer.status >= 300:
                log.warning(
                    "teams send refused",
                    extra={"status": answer.status, "recipient": person.person_id},
                )
                return result_from_status(answer.status, retry_after_seconds(answer.retry_after))
            return SendResult(SendOutcome.SENT, activity_id=activity_id)
        except PostFailed as error:
            return SendResult(SendOutcome.RETRY, detail=f"connection: {error}")
        except (CredentialError, ValueError) as error:
            return SendResult(SendOutcome.RETRY, detail=f"connection: {type(error).__name__}")

    # In-turn calls (replies and roster lookups): the stock adapter makes a msrest
    # ConnectorClient for every turn; these share the pooled clients instead.

    async def post_to_conversation(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        reply_to_id: str = "",
    ) -> str:
        """Posts an activity (a reply when reply_to_id is set); returns its id."""
        url = _conversation_url(service_url, conversation_id) + "/activities"
        if reply_to_id:
            url += f"/{quote(reply_to_id, safe='')}"
        try:
            # On the copies' client too: a reply is the hottest path of every command.
            answer, activity_id = await self._post_new(url, json.dumps(activity).encode())
        except PostFailed as error:
            raise ConnectorError(0, f"send to conversation ({error})") from error
        except (ValueError, CredentialError) as error:
            raise ConnectorError(0, f"send to conversation ({type(error).__name__})") from error
        if answer.status >= 300:
            raise ConnectorError(answer.status, "send to conversation")
        return activity_id

    async def _post_new(self, url: str, body: bytes) -> tuple[Answer, str]:
        """POSTs a new activity (JSON bytes); the answer, and the id Teams gave what was
        sent ("" when refused). Raises PostFailed, CredentialError, and ValueError for an
        answer that is not JSON."""
        headers = {"Content-Type": "application/json", **(await self._tokens.header())}
        answer = await self._posts.post(url, body, headers)
        if answer.status >= 300 or answer.status == 202:
            return answer, ""
        # JSON is UTF-8: no charset to detect.
        sent: Any = json.loads(answer.body.decode("utf-8-sig") or "{}")
        return answer, str(sent.get("id", "")) if isinstance(sent, dict) else ""

    async def update_in_conversation(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        """Replaces an activity the bot sent (`PUT .../activities/{id}`)."""
        url = (
            _conversation_url(service_url, conversation_id)
            + f"/activities/{quote(activity_id, safe='')}"
        )
        try:
            async with self._session.put(
                url, json=activity, headers=await self._tokens.header()
            ) as r:
                if r.status >= 300:
                    raise ConnectorError(r.status, "update activity")
        except (aiohttp.ClientError, TimeoutError, CredentialError) as error:
            raise ConnectorError(0, f"update activity ({type(error).__name__})") from error

    async def member(
        self, service_url: str, conversation_id: str, user_id: str
    ) -> RosterEntry | None:
        """A member of a conversation (with e-mail/UPN), or None when Teams does not know them."""
        url = f"{_conversation_url(service_url, conversation_id)}/members/{quote(user_id, safe='')}"
        try:
            async with self._session.get(url, headers=await self._tokens.header()) as r:
                if r.status != 200:
                    log.warning("member lookup found nobody", extra={"status": r.status})
                    return None
                member: Any = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError, CredentialError):
            log.warning("member lookup failed")
            return None
        return _roster_entry(member) if isinstance(member, dict) else None

    async def members(
        self, service_url: str, conversation_id: str, at_most: int, page_size: int = 100
    ) -> list[RosterEntry]:
        """The roster, page by page; stops once it holds more than `at_most` people."""
        url = f"{_conversation_url(service_url, conversation_id)}/pagedmembers"
        roster: list[RosterEntry] = []
        continuation = ""
        while True:
            params = {"pageSize": str(page_size)}
            if continuation:
                params["continuationToken"] = continuation
            try:
                async with self._session.get(
                    url, params=params, headers=await self._tokens.header()
                ) as r:
                    if r.status != 200:
                        raise ConnectorError(r.status, "roster")
                    page: Any = await r.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError, CredentialError) as error:
                raise ConnectorError(0, f"roster ({type(error).__name__})") from error
            roster += [_roster_entry(m) for m in page.get("members") or [] if isinstance(m, dict)]
            continuation = str(page.get("continuationToken") or "")
            if not continuation or len(roster) > at_most:
                return roster

    async def open_chat(self, person: Person, service_url: str, bot_id: str) -> OpenedChat:
        """Teams opens a 1:1 chat only with someone who has Send or shares a chat with it:
        by Teams user id when known, else by Entra object id (after an installation)."""
        member = person.teams.user_id if person.teams and person.teams.user_id else ""
        member = member or person.aad_object_id
        if not member or not service_url:
            return OpenedChat(SendOutcome.GONE, detail="no Teams identity")
        body = {
            "isGroup": False,
            "bot": {"id": bot_id},
            "members": [{"id": member}],
            "tenantId": person.tenant_id,
            "channelData": {"tenant": {"id": person.tenant_id}},
        }
        url = f"{service_url.rstrip('/')}/v3/conversations"
        try:
            async with self._session.post(url, json=body, headers=await self._tokens.header()) as r:
                if r.status >= 300:
                    log.warning("teams chat not created", extra={"status": r.status})
                    result = result_from_status(
                        r.status, retry_after_seconds(r.headers.get("Retry-After"))
                    )
                    outcome = (
                        SendOutcome.RETRY
                        if result.outcome is SendOutcome.RETRY
                        else SendOutcome.GONE
                    )
                    return OpenedChat(outcome, retry_after=result.retry_after, detail=str(r.status))
                created: dict[str, Any] = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("teams chat not created", extra={"error": type(error).__name__})
            return OpenedChat(SendOutcome.RETRY, detail=type(error).__name__)
        except CredentialError as error:
            log.warning("teams chat not created", extra={"error": type(error).__name__})
            return OpenedChat(SendOutcome.RETRY, detail="bot credentials")
        conversation_id = str(created.get("id") or "")
        if not conversation_id:
            return OpenedChat(SendOutcome.RETRY, detail="no conversation id")
        return OpenedChat(SendOutcome.SENT, conversation_id)


def _roster_entry(account: dict[str, Any]) -> RosterEntry:
    return RosterEntry(
        user_id=str(account.get("id", "")),
        display_name=str(account.get("name") or ""),
        email=str(account.get("userPrincipalName") or account.get("email") or ""),
        aad_object_id=str(account.get("aadObjectId") or account.get("objectId") or ""),
    )


def result_from_status(status: int, retry_after: float = 0.0, detail: str = "") -> SendResult:
    """How a Bot Connector answer maps to a delivery decision."""
    if 200 <= status < 300:
        return SendResult(SendOutcome.SENT)
    if status in (403, 404):
        return SendResult(SendOutcome.GONE, detail=detail or str(status))
    if is_passing_failure(status):
        return SendResult(SendOutcome.RETRY, retry_after=retry_after, detail=detail or str(status))
    return SendResult(SendOutcome.REFUSED, detail=detail or str(status))


def _receipt(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": text,  # what notifications and the chat list show of it
        "attachments": [attachment(receipt_card(text))],
    }
