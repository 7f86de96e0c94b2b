"""Microsoft Graph: the group's Outlook thread sent from the service mailbox.

The client (`bot.graph.client`): one pooled aiohttp session and one MSAL client
for every call, 429, 503 and 504 retried a few times, never before Retry-After, and at
most 4 requests at once against one mailbox.

The thread: the first mail is a draft created and sent from OUTLOOK_SENDER
(immutable ids, so its id survives the move to Sent Items). Every later mail answers the
previous one, so the mails chain: a draft made by `createReply` on the latest mail Send
sent in the conversation, with this message's recipients, body and marker, then `send`.
Graph lets Send write no In-Reply-To, References, Thread-Topic or Thread-Index (only x-
headers); Exchange sets them on a reply, from the message it answers, and files every
mail in one conversation in every recipient's mailbox.

What that costs: a later mail is 2 requests (`createReply`, `send`) where a `reply` to the
first mail was 1, because `reply` answers nothing back (202, no id) and the next mail
must know this one's id to answer it; `createReply` returns the draft with its immutable
id. The latest mail's id is kept in memory per group; when it is not known (a restart,
another instance), one more request finds it: the conversation's mails in Sent Items
(`$filter` on conversationId, the newest by sentDateTime, taken here since Graph will not
`$orderby` next to that filter). Without a conversationId, or when nothing is found or
Graph refuses, the mail answers the first mail. A previous mail that is gone (404) is
replaced by the first; the first gone too, the conversation starts again.

A mail is sent at most once. Every mail carries Send's marker, a single-value extended
property (`X-Send-Message-Id`, Send's ids of the message and group), which Graph can
filter on (it cannot filter on internetMessageHeaders). A `send` is never repeated
blindly: the client does not retry it itself except after a 429 (throttled, so not
performed), and when a send got no definite answer (no answer at all, or a 5xx such as a
gateway's 504) or the message is old enough to be a resumed delivery, the Sent Items are
searched for the marker first and a mail found there counts as sent. A draft whose send
failed is kept and sent on the next attempt, not made again. Send sets no
internetMessageId and no internet headers of its own.

Photos and files (with a `MediaReader`) are put on the draft before its send
(`bot.outlook.graph_attachments`: one request each, or an upload session for a larger
one). Only when every item is on the draft is it sent, once, as above; a draft whose items
could not all be added is deleted and made again on the next attempt. Items beyond
`ATTACH_TOTAL_BYTES` in all are only linked.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.core.kept import keep
from bot.core.ports import (
    Clock,
    MediaReader,
    RecordResult,
    SendOutcome,
    ThreadMail,
)
from bot.graph.client import GraphClient, GraphResponse
from bot.http_status import is_passing_failure
from bot.outlook.card import MailItem, OutlookCards, mail_items
from bot.outlook.eml import LOCAL_DOMAIN, UnreadableMedia, read_all, subject_of
from bot.outlook.graph_attachments import (
    ATTACH_MOST,
    ATTACH_TOTAL_BYTES,
    Carried,
    DraftAttachments,
)

log = logging.getLogger("send.graph")

# Send's own MAPI property set; the marker property's name is the header-like one below.
SEND_PROPERTY_SET = "{7e55884f-0d40-4124-bafc-58bb1baaff33}"
MARKER_PROPERTY = f"String {SEND_PROPERTY_SET} Name X-Send-Message-Id"
# A message this much older than its acceptance may have been mailed by an earlier
# attempt (a crash, another instance's claim): its Sent Items are checked first.
RESUMED_AFTER = timedelta(minutes=2)
UNSURE_KEPT = 10_000
LATEST_KEPT = 10_000
# The conversation's mails read to find its latest one (Graph lists a folder newest first).
LATEST_LOOKED = 50
IMMUTABLE_IDS = {"Prefer": 'IdType="ImmutableId"'}


def _recipients(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": a}} for a in addresses]


def marker_of(mail: ThreadMail) -> str:
    """The value of Send's marker on the mail of one message (stable across retries)."""
    return f"{mail.message_id}.{mail.group_id}"


def _marked(marker: str) -> list[dict[str, str]]:
    return [{"id": MARKER_PROPERTY, "value": marker}]


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class GraphMail:
    """The OutlookRecorder for production: the thread in the service mailbox, through Graph."""

    def __init__(
        self,
        graph: GraphClient,
        sender: str,
        cards: OutlookCards,
        clock: Clock,
        media: MediaReader,
    ) -> None:
        self._graph = graph
        self._sender = sender
        self._user = f"/users/{quote(sender)}"
        self._cards = cards
        self._clock = clock
        self._media = media
        self._attachments = DraftAttachments(graph, sender)
        # message id -> draft made but not sent yet; draft id -> its conversationId
        self._unsent_drafts: dict[str, str] = {}
        self._conversations: dict[str, str] = {}
        # message id -> a later mail's draft (createReply, its items on it) not sent yet
        self._unsent_replies: dict[str, tuple[str, str]] = {}  # -> (draft, the mail it answers)
        # group id -> (its first mail, the latest mail Send sent in that conversation)
        self._latest: dict[str, tuple[str, str]] = {}
        # markers of mails whose send got no definite answer: maybe sent (oldest first)
        self._unsure: dict[str, None] = {}
        self._reply_marks = True  # False once Graph refused the marker in a reply

    async def record(self, mail: ThreadMail) -> RecordResult:
        marker = marker_of(mail)
        if self._maybe_sent(mail, marker):
            known = await self._already_sent(mail, marker)
            if known is not None:
                return known
        items = self._plan(mail)
        try:
            carried = Carried(items, tuple(await read_all(self._media, items)))
        except UnreadableMedia as error:
            return RecordResult(SendOutcome.RETRY, detail=str(error))
        now = self._clock.now()
        card = self._cards.card(
            mail.tenant_id,
            mail.group_id,
            mail.group_name,
            mail.recent,
            now,
            mail.poll,
            mail.media,
            mail.readers,
            closed=mail.closed,
            members=mail.members,
        )
        body = {
            "contentType": "html",
            "content": self._cards.mail_html(mail, card, items, now, carried.contents),
        }
        if mail.thread_id:
            answered = await self._answer(mail, body, marker, carried)
            if answered is not None:
                return answered
            # The first mail is gone (deleted from Sent Items): start the conversation again.
        return await self._start(mail, body, marker, carried)

    def _plan(self, mail: ThreadMail) -> tuple[MailItem, ...]:
        return mail_items(
            mail.media,
            attach_each=ATTACH_MOST,
            attach_total=ATTACH_TOTAL_BYTES,
            domain=LOCAL_DOMAIN,
        )

    def _reply_message(self, mail: ThreadMail, body: dict[str, Any], marker: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "subject": f"RE: {subject_of(mail.group_name)}",  # follows a rename
            "toRecipients": _recipients(mail.addresses),
            "body": body,
        }
        if marker:
            message["singleValueExtendedProperties"] = _marked(marker)
        return message

    async def _answer(
        self, mail: ThreadMail, body: dict[str, Any], marker: str, carried: Carried
    ) -> RecordResult | None:
        """A later mail: a draft by createReply on the thread's latest mail, its items on
        it, then one send. None when the first mail is gone (the conversation starts again)."""
        unsent, answered = self._unsent_replies.pop(mail.message_id, ("", ""))
        previous = await self._previous(mail)
        if unsent and answered != previous:
            # Later mails went out meanwhile: this draft would answer an older one (a fork
            # in the chain) with an older card. It was never sent (an unsure send was
            # looked for in Sent Items first): made again on the latest mail.
            await self._attachments.discard(unsent)
            unsent = ""
        if unsent:
            sent = await self._send_draft(unsent, marker)
            if sent.status != 404:
                self._after_send(mail, unsent, previous, sent)
                return _result(sent, mail.thread_id)
        draft = await self._create_reply(mail, previous, body, marker)
        if draft.status == 404 and previous != mail.thread_id:
            log.info("graph previous mail gone: answering the first", extra=_ids(mail))
            self._latest.pop(mail.group_id, None)
            previous = mail.thread_id
            draft = await self._create_reply(mail, previous, body, marker)
        if draft.status == 404:
            return None
        if not draft.ok or not draft.body.get("id"):
            return _result(draft, "")
        draft_id = str(draft.body["id"])
        if carried.any:
            attached = await self._attachments.attach_all(draft_id, carried)
            if not attached.ok:
                await self._attachments.discard(draft_id)
                return _result(attached, "")
        sent = await self._send_draft(draft_id, marker)
        self._after_send(mail, draft_id, previous, sent)
        return _result(sent, mail.thread_id)

    def _after_send(
        self, mail: ThreadMail, draft_id: str, answered: str, sent: GraphResponse
    ) -> None:
        """A sent draft is the thread's latest mail; one not sent is kept for the retry,
        with the mail it answers."""
        if sent.ok:
            self._remember(mail.group_id, mail.thread_id, draft_id)
        else:
            self._unsent_replies[mail.message_id] = (draft_id, answered)

    async def _create_reply(
        self, mail: ThreadMail, answered: str, body: dict[str, Any], marker: str
    ) -> GraphResponse:
        """A draft answering the mail `answered`, marked unless Graph refuses the marker
        in a reply: then this and later ones go unmarked rather than not at all (a lost
        answer may then show twice, never zero times)."""
        draft = await self._draft_reply(mail, answered, body, marker if self._reply_marks else "")
        if draft.status == 400 and self._reply_marks:
            log.warning("graph refused the marker in a reply: replies go unmarked")
            self._reply_marks = False
            draft = await self._draft_reply(mail, answered, body, "")
        return draft

    async def _draft_reply(
        self, mail: ThreadMail, answered: str, body: dict[str, Any], marker: str
    ) -> GraphResponse:
        return await self._graph.call(
            "POST",
            f"{self._user}/messages/{quote(answered, safe='')}/createReply",
            mailbox=self._sender,
            headers=IMMUTABLE_IDS,  # the draft's id stays its id once sent
            idempotent=False,  # each one makes a draft
            json={"message": self._reply_message(mail, body, marker)},
        )

    async def _previous(self, mail: ThreadMail) -> str:
        """The mail this one answers: the latest Send sent in the thread, else its first."""
        known = self._latest.get(mail.group_id)
        if known is not None and known[0] == mail.thread_id:
            return known[1]
        if not mail.conversation_id:
            return mail.thread_id
        found = await self._newest_sent(mail.conversation_id)
        if not found:
            return mail.thread_id
        self._remember(mail.group_id, mail.thread_id, found)
        return found

    async def _newest_sent(self, conversation_id: str) -> str:
        """The newest mail of the conversation in Sent Items (by sentDateTime, which Graph
        gives to the second: of equal ones, the first listed, as Graph lists a folder
        newest first); "" when none is found or Graph does not answer."""
        condition = f"conversationId eq {_odata_string(conversation_id)}"
        found = await self._graph.call(
            "GET",
            f"{self._user}/mailFolders/sentitems/messages?$filter={quote(condition, safe='')}"
            f"&$select=id,sentDateTime&$top={LATEST_LOOKED}",
            mailbox=self._sender,
            headers=IMMUTABLE_IDS,
        )
        if not found.ok:
            log.warning("graph conversation not searchable", extra={"status": found.status})
            return ""
        sent = [
            (when, str(m["id"]))
            for m in found.body.get("value") or []
            if isinstance(m, dict) and m.get("id") and (when := _when(m.get("sentDateTime")))
        ]
        if not sent:
            return ""
        return max(sent, key=lambda pair: pair[0])[1]  # max keeps the first of equals

    def _remember(self, group_id: str, thread_id: str, latest: str) -> None:
        self._latest.pop(group_id, None)  # the most recently used last
        keep(self._latest, group_id, (thread_id, latest), LATEST_KEPT)

    async def _already_sent(self, mail: ThreadMail, marker: str) -> RecordResult | None:
        """What an earlier attempt achieved: SENT when its mail is in Sent Items, RETRY when
        Graph could not say; None when the mail is to be sent now."""
        found = await self._sent_with(marker)
        if is_passing_failure(found.status):
            return _result(found, "")  # ask again later, before sending anything
        if not found.ok:
            # Refused (a permission, or a filter this Graph does not take): sending is
            # better than never sending; a lost answer may then show twice.
            log.warning("graph sent items not searchable", extra={"status": found.status})
            return None
        sent = found.body.get("value") or []
        if not sent or not isinstance(sent[0], dict):
            return None
        self._unsure.pop(marker, None)
        self._conversations.pop(self._unsent_drafts.pop(mail.message_id, ""), None)
        self._unsent_replies.pop(mail.message_id, None)
        log.info("graph mail found sent", extra={"message_id": mail.message_id})
        found_id = str(sent[0].get("id", ""))
        if mail.thread_id:
            if found_id:
                self._remember(mail.group_id, mail.thread_id, found_id)
            return RecordResult(SendOutcome.SENT, thread_id=mail.thread_id)
        if found_id:
            self._remember(mail.group_id, found_id, found_id)
        return RecordResult(
            SendOutcome.SENT,
            thread_id=found_id,
            conversation_id=str(sent[0].get("conversationId", "")),
        )

    def _maybe_sent(self, mail: ThreadMail, marker: str) -> bool:
        if marker in self._unsure:
            return True
        accepted = mail.recent[-1].sent_at if mail.recent else None
        return accepted is not None and self._clock.now() - accepted > RESUMED_AFTER

    def _note(self, marker: str, response: GraphResponse) -> None:
        """Remembers a send that may have happened although it did not say so, until one
        is known to have happened (a later refusal does not undo an earlier doubt)."""
        if response.unsure:
            keep(self._unsure, marker, None, UNSURE_KEPT)
        elif response.ok:
            self._unsure.pop(marker, None)

    async def _sent_with(self, marker: str) -> GraphResponse:
        """The service mailbox's sent mail carrying `marker` (at most one, immutable ids)."""
        condition = (
            "singleValueExtendedProperties/Any(ep: ep/id eq "
            f"{_odata_string(MARKER_PROPERTY)} and ep/value eq {_odata_string(marker)})"
        )
        return await self._graph.call(
            "GET",
            f"{self._user}/mailFolders/sentitems/messages?$filter={quote(condition, safe='')}"
            "&$select=id,conversationId&$top=1",
            mailbox=self._sender,
            headers=IMMUTABLE_IDS,
        )

    async def _start(
        self, mail: ThreadMail, body: dict[str, Any], marker: str, carried: Carried
    ) -> RecordResult:
        # A draft made by an earlier attempt whose send failed is sent now, not made again.
        unsent = self._unsent_drafts.pop(mail.message_id, "")
        if unsent:
            sent = await self._send_draft(unsent, marker)
            if sent.status != 404:
                if sent.ok:
                    self._remember(mail.group_id, unsent, unsent)
                else:
                    self._unsent_drafts[mail.message_id] = unsent
                return _result(sent, unsent, self._conversations.pop(unsent, ""))
        draft = await self._graph.call(
            "POST",
            f"{self._user}/messages",
            mailbox=self._sender,
            headers=IMMUTABLE_IDS,
            json={
                "subject": subject_of(mail.group_name),
                "body": body,
                "toRecipients": _recipients(mail.addresses),
                "singleValueExtendedProperties": _marked(marker),
            },
        )
        if not draft.ok or not draft.body.get("id"):
            return _result(draft, "")
        thread_id = str(draft.body["id"])
        conversation_id = str(draft.body.get("conversationId", ""))
        if carried.any:
            attached = await self._attachments.attach_all(thread_id, carried)
            if not attached.ok:
                await self._attachments.discard(thread_id)
                return _result(attached, "")
        sent = await self._send_draft(thread_id, marker)
        if sent.ok:
            self._remember(mail.group_id, thread_id, thread_id)
        else:
            self._unsent_drafts[mail.message_id] = thread_id
            self._conversations[thread_id] = conversation_id
        return _result(sent, thread_id, conversation_id)

    async def _send_draft(self, draft_id: str, marker: str) -> GraphResponse:
        sent = await self._graph.call(
            "POST",
            f"{self._user}/messages/{quote(draft_id, safe='')}/send",
            mailbox=self._sender,
            idempotent=False,
        )
        self._note(marker, sent)
        return sent


def _ids(mail: ThreadMail) -> dict[str, str]:
    return {"group_id": mail.group_id, "message_id": mail.message_id}


def _when(value: Any) -> datetime | None:
    """A Graph time ("2024-05-01T10:00:00Z"), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _result(response: GraphResponse, thread_id: str, conversation_id: str = "") -> RecordResult:
    if response.ok:
        return RecordResult(SendOutcome.SENT, thread_id=thread_id, conversation_id=conversation_id)
    detail = f"graph {response.status} {response.request_id}".strip()
    if not is_passing_failure(response.status):
        # Not going to get better by itself: misconfiguration or a refused mail.
        return RecordResult(SendOutcome.REFUSED, detail=detail)
    return RecordResult(SendOutcome.RETRY, retry_after=response.retry_after, detail=detail)
