"""Photos and files of messages: taken in whole or not at all, shown through our own links.

The rules live here; the media store (disk or Blob Storage) checks content and keeps
bytes, and the Teams adapter downloads what a person attached.

- A message's items are all stored, or none: when one is refused (not what it claims,
  too large) the ones stored before it are deleted and nothing is sent.
- Readers never get the sender's Teams URL: each gets a link signed for them, and
  the link works only while they are a member of the group (checked when it is used).
- In the thread's mail, pictures up to `INLINE_MAIL_BYTES` are shown in the mail;
  the mail serves every recipient, so its links name the thread, not a person.
- A held picker (no active group yet) carries the attachments in the card; the seal
  proves the card's copy is the one the core made, so a forged card cannot make Send
  download another URL with its token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.errors import MediaNotTaken
from bot.core.model import Channel, Group, MediaKind, Message, StoredMedia
from bot.core.ports import MailMedia, MessagingStore, SharedMedia, StoreError
from bot.core.texts import text
from bot.core.turn.requests import IncomingMedia
from bot.media.ports import MediaNotFound, MediaRefused, MediaStoreError

INLINE_MAIL_BYTES = 3 * 1024 * 1024  # Graph's limit for an attachment sent in one request
MAX_ITEMS = 10  # per message
# Photos and files one instance holds downloaded and not yet stored: past this, a new
# message's downloads wait for a minute ("try again"), so a burst cannot take the memory.
MEDIA_IN_FLIGHT_BYTES = 256 * 1024 * 1024
OUTLOOK_VIEWER = "outlook-thread"  # the viewer of links in the thread's mail: its recipients
_SEAL_PURPOSE = b"send-held-media-v1"


class MediaVault(Protocol):
    """What the core needs of a media store (bot/media/ports.MediaStore)."""

    async def put(
        self, tenant_id: str, group_id: str, name: str, data: bytes, *, by: str
    ) -> StoredMedia: ...

    async def read(self, media: StoredMedia) -> bytes: ...

    def stream(self, media: StoredMedia) -> AsyncGenerator[bytes, None]: ...

    async def delete(self, media: StoredMedia) -> None: ...

    async def delete_group(self, tenant_id: str, group_id: str) -> int: ...


class MediaLinker(Protocol):
    def link(self, item: StoredMedia, message_id: str, viewer_id: str) -> str:
        """A signed, expiring URL of the item for that viewer."""
        ...


class MediaFetcher(Protocol):
    async def fetch(self, item: IncomingMedia, service_url: str, max_bytes: int) -> bytes:
        """The attachment's bytes. Raises MediaRefused (one line for the sender) when it is
        larger than `max_bytes` or cannot be read."""
        ...


@dataclass(frozen=True)
class Upload:
    """Bytes someone sent, not checked yet."""

    name: str
    data: bytes


class Denial(StrEnum):
    """Why a link does not open (the web layer turns these into status codes)."""

    GONE = "that photo or file is no longer available"
    NOT_A_MEMBER = "this link is for a member of the group, and you are not one now"
    # A mail's link serves everyone the mail went to: once one of them has left the
    # group, it no longer opens (they, or whoever they forward it to, would read on).
    LEFT_SINCE = (
        "this link came in a mail to someone who has since left the group, so it no longer "
        "opens; the group's members still find it in Teams"
    )


@dataclass(frozen=True)
class Opened:
    """An item a viewer may see: its first chunk (read, so a missing item is known before
    anything is sent) and the rest, read as they are sent."""

    item: StoredMedia
    first: bytes
    rest: AsyncGenerator[bytes, None]


class Media:
    def __init__(
        self,
        store: MessagingStore,
        vault: MediaVault,
        links: MediaLinker,
        fetcher: MediaFetcher,
        seal_key: bytes,
        max_bytes: int,
        in_flight_bytes: int = MEDIA_IN_FLIGHT_BYTES,
    ) -> None:
        self._store = store
        self._vault = vault
        self._links = links
        self._fetcher = fetcher
        self._seal_key = seal_key
        self.max_bytes = max_bytes
        # Bytes downloaded and not yet stored, over every message being taken in.
        self._in_flight = 0
        self._most_in_flight = in_flight_bytes

    # taking items in

    async def fetch(
        self, group: Group, items: Sequence[IncomingMedia], service_url: str, *, by: str
    ) -> tuple[StoredMedia, ...]:
        """Downloads and stores what `by` (a person id) attached in Teams, all or nothing."""
        if not items:
            return ()
        _check_count(len(items))
        uploads: list[Upload] = []
        held = 0
        try:
            for item in items:
                if self._in_flight - held >= self._most_in_flight:  # others' bytes
                    raise MediaNotTaken(text("media.busy"))
                try:
                    data = await self._fetcher.fetch(item, service_url, self.max_bytes)
                except MediaRefused as refusal:
                    raise MediaNotTaken(refusal.text) from None
                held += len(data)
                self._in_flight += len(data)
                uploads.append(Upload(item.name, data))
            return await self.take(group, uploads, by=by)
        finally:
            self._in_flight -= held

    async def take(
        self, group: Group, uploads: Sequence[Upload], *, by: str
    ) -> tuple[StoredMedia, ...]:
        """Stores every upload `by` sent for the group, or none (Refused with the reason)."""
        _check_count(len(uploads))
        stored: list[StoredMedia] = []
        try:
            for upload in uploads:
                stored.append(
                    await self._vault.put(
                        group.tenant_id, group.group_id, upload.name, upload.data, by=by
                    )
                )
        except MediaRefused as refusal:
            await self.discard(stored)
            raise MediaNotTaken(refusal.text) from None
        except MediaStoreError as error:
            await self.discard(stored)
            raise StoreError(str(error)) from error
        return tuple(stored)

    async def discard(self, items: Sequence[StoredMedia]) -> None:
        """Deletes items stored for a message that was not sent after all."""
        for item in items:
            try:
                await self._vault.delete(item)
            except MediaStoreError as error:
                raise StoreError(str(error)) from error

    async def forget_group(self, tenant_id: str, group_id: str) -> int:
        try:
            return await self._vault.delete_group(tenant_id, group_id)
        except MediaStoreError as error:
            raise StoreError(str(error)) from error

    # showing items

    def shared(self, message: Message, viewer_id: str) -> tuple[SharedMedia, ...]:
        return tuple(
            SharedMedia(item, self._links.link(item, message.message_id, viewer_id))
            for item in message.media
        )

    def for_mail(self, message: Message) -> tuple[MailMedia, ...]:
        return tuple(
            MailMedia(
                item,
                self._links.link(item, message.message_id, OUTLOOK_VIEWER),
                inline=item.kind is MediaKind.PHOTO and item.size <= INLINE_MAIL_BYTES,
            )
            for item in message.media
        )

    async def open(
        self, tenant_id: str, group_id: str, message_id: str, media_id: str, viewer_id: str
    ) -> Opened | Denial:
        """The bytes behind a verified link, if its viewer may see them now."""
        group = await self._store.get_group(tenant_id, group_id)
        if group is None:
            return Denial.GONE
        if viewer_id != OUTLOOK_VIEWER and not group.has_member(viewer_id):
            return Denial.NOT_A_MEMBER
        message = await self._store.get_message(group_id, message_id)
        item = next((m for m in message.media if m.media_id == media_id), None) if message else None
        if message is None or item is None or item.tenant_id != tenant_id:
            return Denial.GONE
        if viewer_id == OUTLOOK_VIEWER and not await self._all_still_members(group, message):
            return Denial.LEFT_SINCE
        chunks = self._vault.stream(item)
        try:
            first = await anext(chunks, b"")
        except MediaNotFound:
            return Denial.GONE
        except MediaStoreError as error:
            raise StoreError(str(error)) from error
        return Opened(item, first, chunks)

    async def _all_still_members(self, group: Group, message: Message) -> bool:
        """Whether everyone the message's mail went to is still a member of the group."""
        mailed = {
            a.lower()
            for d in message.deliveries
            if d.channel is Channel.OUTLOOK
            for a in d.addresses
        }
        if not mailed:
            return True
        members = await self._store.get_people(
            group.tenant_id, [m.person_id for m in group.members]
        )
        current = {address for person in members for address in person.known_addresses}
        return mailed <= current

    # the picker's held attachments

    def seal(self, person_id: str, words: str, items: Sequence[IncomingMedia]) -> str:
        if not items:
            return ""
        raw = json.dumps(
            [person_id, words, [[i.url, i.name, i.content_type, i.needs_bot_token] for i in items]],
            separators=(",", ":"),
        ).encode()
        digest = hmac.new(self._seal_key, _SEAL_PURPOSE + raw, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def unsealed(
        self, person_id: str, words: str, items: Sequence[IncomingMedia], seal: str
    ) -> tuple[IncomingMedia, ...]:
        """`items` if the seal is the one made for them, for this person; else Refused."""
        if not items:
            return ()
        expected = self.seal(person_id, words, items)
        if not hmac.compare_digest(expected.encode(), seal.encode()):
            raise MediaNotTaken(text("media.forged_card"))
        return tuple(items)


def _check_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise MediaNotTaken(text("media.too_many", count=count, limit=MAX_ITEMS))
