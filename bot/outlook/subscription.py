"""Send's Graph subscription to the service mailbox's Inbox: made, renewed before it
expires, and the test of whether a notification is for it.

A notification counts only with our clientState and the id of the subscription Send
made (kept in the store)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.core.ports import Clock
from bot.graph.client import GraphClient
from bot.store.repository import DocumentStore

log = logging.getLogger("send.outlook.inbound")

SUBSCRIPTION_LIFETIME = timedelta(days=3)  # Graph allows up to 7 days for mail
RENEW_BEFORE = timedelta(hours=24)


class GraphSubscription:
    def __init__(
        self,
        graph: GraphClient,
        store: DocumentStore,
        mailbox: str,
        notification_url: str,
        client_state: str,
        clock: Clock,
    ) -> None:
        self._graph = graph
        self._store = store
        self._mailbox = mailbox.lower()
        self._user = f"/users/{quote(mailbox)}"
        self._notification_url = notification_url
        self._client_state = client_state
        self._clock = clock
        self._subscribing = asyncio.Lock()
        self._subscription_id = ""  # as last read from or written to the store

    async def keep(self) -> None:
        """Subscribes (or renews), then again before each expiry; runs until cancelled."""
        while True:
            expires = await self.subscribe()
            wait = (expires - self._clock.now() - RENEW_BEFORE).total_seconds() if expires else 300
            await asyncio.sleep(max(60.0, wait))

    async def subscribe(self) -> datetime | None:
        """Renews the stored subscription, or makes one; when it expires, or None."""
        async with self._subscribing:
            key = f"graph-subscription:{self._mailbox}"
            known = await self._store.get_state(key) or {}
            expires = self._clock.now() + SUBSCRIPTION_LIFETIME
            body = {"expirationDateTime": expires.isoformat().replace("+00:00", "Z")}
            old = str(known.get("id", ""))
            if old and known.get("lifecycle"):
                renewed = await self._graph.call(
                    "PATCH", f"/subscriptions/{quote(old)}", mailbox=self._mailbox, json=body
                )
                if renewed.ok:
                    self._subscription_id = old
                    return expires
                if renewed.status != 404:
                    return None  # still there, most likely: a second one would double up
            elif old:
                # Made without a lifecycleNotificationUrl, which Graph cannot add later.
                await self._graph.call(
                    "DELETE", f"/subscriptions/{quote(old)}", mailbox=self._mailbox
                )
            created = await self._graph.call(
                "POST",
                "/subscriptions",
                mailbox=self._mailbox,
                json={
                    **body,
                    "changeType": "created",
                    "notificationUrl": self._notification_url,
                    "lifecycleNotificationUrl": self._notification_url,
                    "resource": f"{self._user}/mailFolders('Inbox')/messages",
                    "clientState": self._client_state,
                },
            )
            if not created.ok or not created.body.get("id"):
                log.error("graph subscription refused", extra={"status": created.status})
                return None
            self._subscription_id = str(created.body["id"])
            await self._store.put_state(key, {"id": self._subscription_id, "lifecycle": True})
            log.info("graph subscription created", extra={"mailbox": self._mailbox})
            return expires

    async def ours(self, notification: dict[str, Any]) -> bool:
        state = str(notification.get("clientState") or "")
        if not hmac.compare_digest(state.encode(), self._client_state.encode()):
            return False
        subscription = str(notification.get("subscriptionId") or "")
        if not subscription:
            return False
        if subscription != self._subscription_id:
            # Another instance may have made a new subscription since this one last looked.
            known = await self._store.get_state(f"graph-subscription:{self._mailbox}") or {}
            self._subscription_id = str(known.get("id", ""))
        return hmac.compare_digest(subscription.encode(), self._subscription_id.encode())
