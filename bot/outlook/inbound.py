"""A Reply All written in Outlook, relayed back to the group's Teams members.

Graph change notifications on the service mailbox's Inbox say "something arrived";
a delta query on the Inbox says what, and also catches up on anything missed while
the app was down or a notification was lost (the delta link is kept in the store).
A mail belongs to a group when its conversationId is the group's thread; its
sender must be a current member. The mail's own recipients already have it, so
only the Teams copies are sent; the mail's id makes a re-read harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from bot.core.errors import Refused
from bot.core.model import Source
from bot.core.ports import Clock, TeamsSender
from bot.core.relay import Relay
from bot.outlook.graph import GraphClient
from bot.outlook.html_text import html_to_text
from bot.store.repository import DocumentStore

log = logging.getLogger("send.outlook.inbound")

SUBSCRIPTION_LIFETIME = timedelta(days=3)  # Graph allows up to 7 days for mail
RENEW_BEFORE = timedelta(hours=24)
_SELECT = "id,conversationId,from,isDraft,internetMessageId,uniqueBody,body,subject"
# Subjects Exchange and Outlook give to automatic mail in a conversation.
_AUTOMATIC = (
    "automatic reply:",
    "auto:",
    "out of office",
    "undeliverable:",
    "delivery status notification",
    "read:",
    "not read:",
    "delivered:",
)


class OutlookInbox:
    def __init__(
        self,
        graph: GraphClient,
        store: DocumentStore,
        relay: Relay,
        mailbox: str,
        notification_url: str,
        client_state: str,
        clock: Clock,
        teams: TeamsSender,
    ) -> None:
        self._graph = graph
        self._store = store
        self._relay = relay
        self._mailbox = mailbox.lower()
        self._user = f"/users/{quote(mailbox)}"
        self._notification_url = notification_url
        self._client_state = client_state
        self._clock = clock
        self._teams = teams
        self._catching_up = asyncio.Lock()
        self._again = False
        self._tasks: set[asyncio.Task[None]] = set()

    # subscription

    async def start(self) -> None:
        """Subscribes (or renews) and catches up; runs in the background, never blocks start-up."""
        self._spawn(self._keep_subscribed())
        self._spawn(self.catch_up())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep_subscribed(self) -> None:
        while True:
            expires = await self._subscribe()
            wait = (expires - self._clock.now() - RENEW_BEFORE).total_seconds() if expires else 300
            await asyncio.sleep(max(60.0, wait))

    async def _subscribe(self) -> Any:
        key = f"graph-subscription:{self._mailbox}"
        known = await self._store.get_state(key)
        expires = self._clock.now() + SUBSCRIPTION_LIFETIME
        body = {"expirationDateTime": expires.isoformat().replace("+00:00", "Z")}
        if known and known.get("id"):
            renewed = await self._graph.call(
                "PATCH", f"/subscriptions/{known['id']}", mailbox=self._mailbox, json=body
            )
            if renewed.ok:
                return expires
        created = await self._graph.call(
            "POST",
            "/subscriptions",
            mailbox=self._mailbox,
            json={
                **body,
                "changeType": "created",
                "notificationUrl": self._notification_url,
                "resource": f"{self._user}/mailFolders('Inbox')/messages",
                "clientState": self._client_state,
            },
        )
        if not created.ok:
            log.error("graph subscription refused", extra={"status": created.status})
            return None
        await self._store.put_state(key, {"id": created.body.get("id", "")})
        log.info("graph subscription created", extra={"mailbox": self._mailbox})
        return expires

    # notifications

    def accepts(self, client_state: str) -> bool:
        return hmac.compare_digest(client_state.encode(), self._client_state.encode())

    def notified(self) -> None:
        """A notification arrived: catch up in the background (answer Graph at once)."""
        self._spawn(self.catch_up())

    async def catch_up(self) -> int:
        """Reads what arrived since the last delta link; returns how many mails were relayed."""
        if self._catching_up.locked():
            self._again = True  # the running pass will go round once more
            return 0
        relayed = 0
        async with self._catching_up:
            while True:
                self._again = False
                relayed += await self._one_pass()
                if not self._again:
                    return relayed

    async def _one_pass(self) -> int:
        key = f"graph-delta:{self._mailbox}"
        state = await self._store.get_state(key) or {}
        link = str(state.get("deltaLink", ""))
        first_sync = not link
        path = link or f"{self._user}/mailFolders/inbox/messages/delta?$select={_SELECT}"
        relayed = 0
        while path:
            page = await self._graph.call(
                "GET", path, mailbox=self._mailbox, headers={"Prefer": "odata.maxpagesize=50"}
            )
            if page.status == 410:  # the sync state expired: start over from now
                await self._store.put_state(key, {})
                return relayed
            if not page.ok:
                return relayed
            for mail in page.body.get("value", []):
                # The first sync only learns where "now" is; older mail is not replayed.
                if not first_sync and await self._relay_mail(mail):
                    relayed += 1
            next_link = page.body.get("@odata.nextLink")
            delta_link = page.body.get("@odata.deltaLink")
            path = self._relative(str(next_link)) if next_link else ""
            if delta_link:
                await self._store.put_state(key, {"deltaLink": self._relative(str(delta_link))})
        return relayed

    def _relative(self, link: str) -> str:
        """Graph's links are absolute; the client wants paths under GRAPH_ENDPOINT."""
        marker = "/users/"
        at = link.find(marker)
        return link[at:] if at >= 0 else link

    async def _relay_mail(self, mail: dict[str, Any]) -> bool:
        sender = str(
            ((mail.get("from") or {}).get("emailAddress") or {}).get("address", "")
        ).lower()
        if mail.get("isDraft") or not sender or sender == self._mailbox:
            return False
        subject = str(mail.get("subject") or "").lower()
        if subject.startswith(_AUTOMATIC) or sender.startswith(("postmaster@", "mailer-daemon@")):
            return False  # out-of-office answers, receipts and bounces are not messages
        group = await self._store.group_for_outlook_conversation(
            str(mail.get("conversationId", ""))
        )
        if group is None:
            return False
        person = await self._store.get_person(group.tenant_id, sender)
        if person is None or not group.has_member(person.person_id):
            log.info("outlook reply from a non-member ignored", extra={"group_id": group.group_id})
            return False
        content = (mail.get("uniqueBody") or mail.get("body") or {}).get("content", "")
        text = html_to_text(str(content))
        identity = str(mail.get("internetMessageId") or mail.get("id"))
        message_id = hashlib.sha256(f"mail:{identity}".encode()).hexdigest()[:32]
        try:
            stored = await self._relay.post(
                person, group, text, Source.OUTLOOK, message_id, outlook_copy=False
            )
        except Refused as refusal:
            # Too long or empty: say so where the person reads Send, since the mail went out.
            log.info("outlook reply not relayed", extra={"reason": str(refusal)})
            if person.teams_chat_ready:
                await self._teams.send_notice(
                    person,
                    f"Your Outlook reply to {group.name} was not relayed to Teams. {refusal}",
                )
            return False
        return stored is not None
