"""The data lifecycle: old messages expire, a person can be forgotten, a group exported.

- `Retention` deletes the messages older than MESSAGE_RETENTION_DAYS, and their photos
  and files, when the app starts and then daily (bot/web/app.py runs it); on Cosmos DB
  each message also carries a `ttl`.
- `forget` erases a person everywhere (`python -m bot.admin forget <address>`).
- `export` is a group's history, ready for JSON (`python -m bot.admin export <group>`):
  photos and files are listed by reference, their bytes stay in the media store.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.membership.addresses import normalize_address
from bot.core.model import Channel, Delivery, DeliveryState, Group, Message, MessageSummary
from bot.core.ports import Clock, LifecycleStore, StoreError
from bot.core.sending.retry import update_group, update_message
from bot.media.ports import MediaStoreError

log = logging.getLogger("send.lifecycle")

PURGE_EVERY_SECONDS = 24 * 3600.0
# What the messages of a forgotten person show instead of their name.
FORMER_MEMBER = "Former member"
FORGOTTEN = "recipient forgotten"  # last_error of a copy that was still pending for them
# A message's photos and files are stored just before it is accepted (the relay takes its
# `sent_at` afterwards), so an item is a little older than its message: the time the other
# items and the relay took, seconds, a few minutes at worst with store retries, plus any
# difference between our clock and Blob Storage's. Items are deleted only once they are
# this much older than the cutoff, so no kept message loses one; an item outlives its
# message by at most one pass.
MEDIA_GRACE = timedelta(hours=1)


class MediaBin(Protocol):
    """What the lifecycle deletes in the media store (bot/media/ports.MediaStore)."""

    async def delete_group(self, tenant_id: str, group_id: str) -> int: ...

    async def delete_older_than(self, cutoff: datetime) -> int: ...


class Retention:
    """Deletes messages once they are older than `days` (MESSAGE_RETENTION_DAYS), and
    photos and files as old (`media`)."""

    def __init__(
        self,
        store: LifecycleStore,
        clock: Clock,
        days: int,
        media: MediaBin,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._days = days
        self._sleep = sleep
        self._media = media

    async def purge(self) -> int:
        """One pass; how many messages were deleted.

        The photos and files go by their age in the media store, not by the messages'
        references: on Cosmos DB the `ttl` deletes messages that no pass ever reads, and
        an item whose message was never stored (a crash between the two) has no reference
        at all. Every item belongs to a message, so an item older than the period (and
        MEDIA_GRACE) belongs to a message that is deleted now or was deleted before.
        """
        try:
            cutoff = self._clock.now() - timedelta(days=self._days)
            media_cutoff = cutoff - MEDIA_GRACE
        except OverflowError:
            return 0  # a period reaching back before year 1: nothing is that old
        purged = await self._store.purge_messages_before(cutoff)
        if purged:
            log.info("old messages deleted", extra={"messages": purged, "before": str(cutoff)})
        try:
            items = await self._media.delete_older_than(media_cutoff)
        except MediaStoreError as error:
            raise StoreError(f"old photos and files not deleted: {error}") from error
        if items:
            log.info(
                "old photos and files deleted", extra={"items": items, "before": str(media_cutoff)}
            )
        return purged

    async def keep_purging(self, every: float = PURGE_EVERY_SECONDS) -> None:
        """A pass now, then one every `every` seconds; a failed pass waits for the next."""
        while True:
            try:
                await self.purge()
            except StoreError:
                log.warning("retention purge failed: store unavailable")
            except Exception:
                log.exception("retention purge failed")
            await self._sleep(every)


@dataclass(frozen=True)
class Forgotten:
    people: int  # person documents deleted: one per tenant that knew the address
    groups_left: int
    groups_deleted: int  # they were the last member
    messages_changed: int


async def forget(store: LifecycleStore, address: str, media: MediaBin) -> Forgotten:
    """Erases the person of this address in every tenant.

    They leave every group (as `leave` does: the oldest remaining member inherits a group
    they owned; a group left empty is deleted with its messages and, given `media`, its
    photos and files). The messages they sent stay, from a "Former member" with an id
    that names no one, the same for all of their messages; their address leaves every
    delivery. Their person document goes last, so a run that fails part-way can be run
    again.
    """
    found = await store.people_with_address(normalize_address(address))
    left = deleted = changed = 0
    for person in found:
        person_id = person.person_id
        gone = _Gone(person_id, {normalize_address(a) for a in person.known_addresses})
        for group in await store.groups_in(person.tenant_id):
            if group.has_member(person_id) and len(group.members) == 1:
                await _delete_group(store, media, group)
                deleted += 1
                continue
            for message in await store.messages_of(group.group_id):
                if gone.message(message) is not message:
                    await update_message(store, message, gone.message)
                    changed += 1
            updated = await update_group(store, group, gone.group)
            if group.has_member(person_id):
                if updated is not None and not updated.members:
                    await _delete_group(store, media, updated)  # the others left meanwhile
                    deleted += 1
                else:
                    left += 1
        await store.delete_person(person)
    return Forgotten(len(found), left, deleted, changed)


async def _delete_group(store: LifecycleStore, media: MediaBin, group: Group) -> None:
    """Its photos and files first: nobody is left to see them, and while the group is
    there a failed run finds it again, so nothing of it can be left behind."""
    try:
        await media.delete_group(group.tenant_id, group.group_id)
    except MediaStoreError as error:
        raise StoreError(f"photos and files of {group.group_id}: {error}") from error
    await store.delete_group(group)


class _Gone:
    """The changes that remove one person from groups and messages."""

    def __init__(self, person_id: str, addresses: set[str]) -> None:
        self.person_id = person_id
        self.addresses = addresses
        # One id for all their messages, so they still read as one person's; random, so
        # it says nothing about who that was.
        self.former_id = f"former-member-{uuid.uuid4().hex[:16]}"

    def group(self, group: Group) -> Group:
        left = group.without(self.person_id)
        recent = tuple(self._summary(s) for s in group.recent)
        # What the group holds until it is filed goes as its filed messages do.
        unfiled = tuple(self.message(m) for m in group.unfiled)
        if (left.members, recent, unfiled) == (group.members, group.recent, group.unfiled):
            return group
        return replace(left, recent=recent, unfiled=unfiled)

    def message(self, message: Message) -> Message:
        updated = replace(message, deliveries=tuple(self._delivery(d) for d in message.deliveries))
        if message.sender_id == self.person_id:
            updated = replace(updated, sender_id=self.former_id, sender_name=FORMER_MEMBER)
        return message if updated == message else updated

    def _summary(self, summary: MessageSummary) -> MessageSummary:
        if summary.sender_id != self.person_id:
            return summary
        return replace(summary, sender_id=self.former_id, sender_name=FORMER_MEMBER)

    def _delivery(self, delivery: Delivery) -> Delivery:
        if delivery.channel is Channel.TEAMS and delivery.recipient_id == self.person_id:
            return _stopped(replace(delivery, recipient_id=self.former_id))
        kept = tuple(a for a in delivery.addresses if normalize_address(a) not in self.addresses)
        if kept == delivery.addresses:
            return delivery
        # An Outlook mail still pending goes to the others; with nobody left, to no one.
        delivery = replace(delivery, addresses=kept)
        return delivery if kept else _stopped(delivery)


def _stopped(delivery: Delivery) -> Delivery:
    """A copy still pending for a forgotten person is never sent."""
    if delivery.state is DeliveryState.PENDING:
        return replace(delivery, state=DeliveryState.FAILED, last_error=FORGOTTEN)
    return delivery


async def export(store: LifecycleStore, group: Group) -> dict[str, Any]:
    """A group's history: its name, its members, and every message oldest first."""
    return {
        "groupId": group.group_id,
        "tenantId": group.tenant_id,
        "name": group.name,
        "createdAt": group.created_at.isoformat(),
        "members": [
            {
                "personId": m.person_id,
                "displayName": m.display_name,
                "owner": m.person_id == group.owner_id,
                "joinedAt": m.joined_at.isoformat(),
            }
            for m in group.members
        ],
        "messages": [
            {
                "messageId": m.message_id,
                "senderId": m.sender_id,
                "senderName": m.sender_name,
                "text": m.text,
                "sentAt": m.sent_at.isoformat(),
                "source": m.source.value,
                "media": [
                    {
                        "mediaId": item.media_id,
                        "name": item.name,
                        "contentType": item.content_type,
                        "size": item.size,
                        "kind": item.kind.value,
                        "sha256": item.sha256,
                    }
                    for item in m.media
                ],
                "deliveries": [
                    {
                        "recipientId": d.recipient_id,
                        "channel": d.channel.value,
                        "state": d.state.value,
                        "addresses": list(d.addresses),
                        "lastError": d.last_error,
                    }
                    for d in m.deliveries
                ],
            }
            for m in await store.messages_of(group.group_id)
        ],
    }
