"""A group's Outlook conversation: one mail per message, in one thread.

One mail of a group is written at a time, so the conversation starts exactly once;
every later mail answers its first one. The thread id is remembered here because a
thread started again (its first mail was deleted) is newer than the snapshot of the
group that queued messages carry.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.features.media import Media
from bot.core.features.polls import poll_view
from bot.core.kept import keep
from bot.core.model import Group, Message, MessageSummary, Person, Source
from bot.core.ports import (
    DirectoryStore,
    MailReaders,
    OutlookRecorder,
    PollMail,
    RecordResult,
    SendOutcome,
    ThreadMail,
)
from bot.core.sending.relay import SEND_ID, SEND_NAME
from bot.core.sending.retry import update_group
from bot.core.texts import Text, majority

THREADS_KEPT = 10_000
CARD_MESSAGES = 5


class OutlookThread:
    def __init__(self, store: DirectoryStore, outlook: OutlookRecorder, media: Media) -> None:
        self._store = store
        self._media = media
        self._outlook = outlook
        self._threads: dict[str, str] = {}  # group id -> latest Outlook thread id
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def record(
        self,
        message: Message,
        group: Group,
        addresses: tuple[str, ...],
        people: Mapping[str, Person] | None = None,
    ) -> RecordResult:
        """Adds the message to the thread; `people` are members already read (the others
        are read here, for the mail's language and time zone)."""
        readers = await self._readers(group, addresses, people or {})
        async with self._lock(group.group_id):
            thread_id = await self._thread_of(group)
            result = await self._outlook.record(
                ThreadMail(
                    tenant_id=group.tenant_id,
                    group_id=group.group_id,
                    group_name=group.name,
                    message_id=message.message_id,
                    thread_id=thread_id,
                    addresses=addresses,
                    recent=recent_until(group, message),
                    poll=None
                    if message.poll is None
                    else PollMail(
                        message.message_id,
                        message.text,
                        poll_view(message.poll, group, language=readers.language),
                    ),
                    media=self._media.for_mail(message),
                    readers=readers,
                    styled=message.styled,
                    conversation_id=group.outlook_conversation,
                    text=message.text,
                    reply_to=message.reply_to,
                    members=tuple(m.display_name for m in group.members),
                )
            )
            if result.outcome is SendOutcome.SENT and result.thread_id not in ("", thread_id):
                await set_outlook_thread(
                    self._store, group, result.thread_id, result.conversation_id
                )
                keep(self._threads, group.group_id, result.thread_id, THREADS_KEPT)
        return result

    async def last_mail(
        self,
        group: Group,
        notice: Text,
        addresses: tuple[str, ...],
        people: Sequence[Person],
        at: datetime,
    ) -> RecordResult:
        """The thread's closing mail, once its group is deleted: only `notice` (worded in
        the thread's language), from Send, with nothing to answer. One attempt: nothing of
        the group is left to retry it from. A group whose thread never started has none
        to close (SENT, nothing written)."""
        async with self._lock(group.group_id):
            thread_id = self._threads.pop(group.group_id, "") or group.outlook_thread
            if not thread_id or not addresses:
                return RecordResult(SendOutcome.SENT)
            readers = mail_readers(people, addresses)
            words = notice.say(readers.language)
            mail = _send_line(group, f"deleted-{group.group_id}", words, at, readers)
            return await self._outlook.record(
                replace(mail, thread_id=thread_id, addresses=addresses, closed=True)
            )

    async def tell(self, group: Group, person: Person, line: str, at: datetime) -> RecordResult:
        """One line from Send in the thread, to `person` alone (the answer to a change they
        mailed, when they do not read Send in Teams). One attempt: a lost answer is told
        again by nothing, but changes nothing either."""
        if not person.email:
            return RecordResult(SendOutcome.SENT)
        readers = mail_readers([person], (person.email,))
        told = f"told-{person.person_id}-{int(at.timestamp() * 1000)}"
        mail = _send_line(group, told, line, at, readers)
        async with self._lock(group.group_id):
            thread_id = await self._thread_of(group)
            return await self._outlook.record(
                replace(
                    mail,
                    thread_id=thread_id,
                    addresses=(person.email,),
                    members=tuple(m.display_name for m in group.members),
                )
            )

    def _lock(self, group_id: str) -> asyncio.Lock:
        """One mail of a group at a time: its thread starts once and chains in order."""
        lock = self._locks.get(group_id)
        if lock is None:
            lock = self._locks[group_id] = asyncio.Lock()
        return lock

    async def _readers(
        self, group: Group, addresses: tuple[str, ...], known: Mapping[str, Person]
    ) -> MailReaders:
        missing = [m for m in group.member_ids if m not in known]
        found = list(known.values())
        if missing:
            found += await self._store.get_people(group.tenant_id, missing)
        return mail_readers(found, addresses)

    async def _thread_of(self, group: Group) -> str:
        known = self._threads.get(group.group_id)
        if known:
            return known
        if group.outlook_thread:
            return group.outlook_thread
        # Another message (or process) may have started the conversation since `group` was read.
        current = await self._store.get_group(group.tenant_id, group.group_id)
        return current.outlook_thread if current else ""


def _send_line(
    group: Group, message_id: str, words: str, at: datetime, readers: MailReaders
) -> ThreadMail:
    """A mail of the thread holding one line from Send (to be addressed by the caller)."""
    line = MessageSummary(
        message_id=message_id,
        sender_id=SEND_ID,
        sender_name=SEND_NAME,
        text=words,
        sent_at=at,
        source=Source.SEND,
    )
    return ThreadMail(
        tenant_id=group.tenant_id,
        group_id=group.group_id,
        group_name=group.name,
        message_id=message_id,
        thread_id="",
        addresses=(),
        recent=(line,),
        readers=readers,
        conversation_id=group.outlook_conversation,
    )


def mail_readers(people: Iterable[Person], addresses: Iterable[str]) -> MailReaders:
    """The language and time zone of one mail for all its recipients (see `MailReaders`)."""
    wanted = {a.lower() for a in addresses}
    readers = {p.person_id: p for p in people if p.known_addresses & wanted}.values()
    languages = [p.language for p in readers]
    zones = {p.time_zone for p in readers if p.time_zone}
    return MailReaders(
        language=majority(languages),
        time_zone=next(iter(zones)) if len(zones) == 1 else "",
        mixed=len(set(languages)) > 1,
    )


def recent_until(
    group: Group, message: Message, count: int = CARD_MESSAGES
) -> tuple[MessageSummary, ...]:
    """The card's messages: the group's latest up to and including this one."""
    earlier = [
        s
        for s in group.recent
        if s.sent_at <= message.sent_at and s.message_id != message.message_id
    ]
    return (*earlier[-(count - 1) :], message.summary())


async def set_outlook_thread(
    store: DirectoryStore, group: Group, thread_id: str, conversation_id: str
) -> None:
    def point(current: Group) -> Group:
        if current.outlook_thread == thread_id:
            return current
        return replace(current, outlook_thread=thread_id, outlook_conversation=conversation_id)

    await update_group(store, group, point)
