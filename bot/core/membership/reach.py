"""Reaching a member in Teams: the 1:1 chat they opened, one Teams lets Send open, or,
for colleagues who never opened Send, one Send installs itself for (Microsoft Graph).

Who can get Teams copies is decided here, once, for the relay, `members` and delivery.
An installation is tried once per person at a time (concurrent deliveries wait for it),
and where Teams cannot be used the person is marked so: Outlook copies only, tried
again after `RETRY_INSTALL_AFTER`, and whoever added or wrote to them told once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.core.membership.notices import outlook_only_line, welcome
from bot.core.membership.people import update_person
from bot.core.model import Group, Person, TeamsReach
from bot.core.ports import (
    Clock,
    InstallOutcome,
    PeopleStore,
    SendOutcome,
    TeamsInstaller,
    TeamsSender,
)
from bot.core.sending.fair_use import NOTICES_PER_HOUR, SenderAllowance
from bot.core.texts import Text

log = logging.getLogger("send.reach")

RETRY_INSTALL_AFTER = timedelta(days=1)


class Reach(StrEnum):
    READY = "ready"  # the chat is known: send
    RETRY = "retry"  # a passing failure: try again later
    GONE = "gone"  # blocked the bot, left Teams, no way in: no Teams copies
    OUTLOOK_ONLY = "outlook-only"  # Teams cannot be used for them (installation refused)


@dataclass(frozen=True)
class ChatOutcome:
    reach: Reach
    person: Person
    detail: str = ""
    retry_after: float = 0.0
    # True the first time Teams is found unusable for them: whoever added or wrote to
    # them is told (once: later refusals are quiet).
    news: bool = False


@dataclass(frozen=True)
class TeamsAccess:
    """Who can get Teams copies; `installs`: Send can install itself for colleagues."""

    installs: bool = False

    def possible(self, person: Person, now: datetime) -> bool:
        """Whether a Teams copy for this person can be attempted now."""
        if person.teams is not None and not person.teams.reachable:
            return False  # they blocked the bot or the chat is gone: never forced back
        if person.teams_chat_ready:
            return True
        if person.teams_unavailable:
            return person.teams_retry_at is not None and person.teams_retry_at <= now
        if person.teams is not None and person.teams.user_id:
            return True  # known from a roster or a mention: Teams may let Send open it
        return self.installs and bool(person.aad_object_id)

    @staticmethod
    def outlook_only(person: Person) -> bool:
        return bool(person.teams_unavailable) and not person.teams_chat_ready


class NewMembers(Protocol):
    """What members are told about their group changing, in the background."""

    def arrived(self, group: Group, people: Sequence[Person], added_by: Person) -> None:
        """People just became members: get their Teams chats ready (an installation takes
        seconds), so the first message reaches them at once, and welcome them there."""
        ...

    def announce(self, people: Sequence[Person], text: Text) -> None:
        """A one-line notice to each of these people who can be reached in Teams, each in
        their own language."""
        ...


class TeamsChats:
    """Finds, opens or installs each person's 1:1 chat with Send, one attempt at a time."""

    def __init__(
        self,
        store: PeopleStore,
        teams: TeamsSender,
        clock: Clock,
        installer: TeamsInstaller,
    ) -> None:
        self._store = store
        self._teams = teams
        self._clock = clock
        self._installer = installer
        self.access = TeamsAccess(installs=installer.installs)
        # Notices one person gets because of what others do (welcomes, renames): capped.
        self._notices = SenderAllowance(NOTICES_PER_HOUR, window=timedelta(hours=1))
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def arrived(self, group: Group, people: Sequence[Person], added_by: Person) -> None:
        now = self._clock.now()
        reachable = [p for p in people if self.access.possible(p, now)]
        if reachable:
            self._start(self._prepare(group, reachable, added_by))

    def announce(self, people: Sequence[Person], text: Text) -> None:
        ready = [p for p in people if p.teams_chat_ready]
        if ready:
            self._start(self._tell(ready, text))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _may_tell(self, person: Person) -> bool:
        now = self._clock.now()
        if not self._notices.allows(person.tenant_id, person.person_id, now):
            log.info("notice not sent: hourly cap", extra={"person_id": person.person_id})
            return False
        self._notices.record(person.tenant_id, person.person_id, now)
        return True

    async def _tell(self, people: Sequence[Person], text: Text) -> None:
        for person in people:
            if not self._may_tell(person):
                continue
            try:
                await self._teams.send_notice(person, text.say(person.language))
            except Exception:
                log.exception("notice not sent", extra={"person_id": person.person_id})

    async def drain(self, grace: float) -> None:
        """Waits for chats being prepared; what is left is done by the first delivery."""
        if not self._tasks:
            return
        _, left = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def _prepare(self, group: Group, people: Sequence[Person], added_by: Person) -> None:
        """Opens or installs the new members' chats and welcomes them there; tells whoever
        added them, once, about those Teams cannot be used for. A failure here is retried
        by their first delivery."""
        lines = []
        for person in people:
            try:
                found = await self.chat(person, added_by.teams)
                if found.reach is Reach.READY and self._may_tell(found.person):
                    welcomed = welcome(group, added_by, language=found.person.language)
                    await self._teams.send_notice(found.person, welcomed)
            except Exception:
                log.exception("teams chat not prepared", extra={"person_id": person.person_id})
                continue
            if found.reach is Reach.OUTLOOK_ONLY and found.news:
                lines.append(
                    outlook_only_line(
                        person.display_name, group.name, found.detail, language=added_by.language
                    )
                )
        if lines and added_by.teams_chat_ready:
            await self._teams.send_notice(added_by, "\n".join(lines))

    async def chat(self, person: Person, via: TeamsReach | None) -> ChatOutcome:
        """The person's chat, ready to send to. `via` is a reach of someone else in the
        tenant (the sender's, a member's): its service URL and bot id serve for a person
        Send never heard from in Teams."""
        if person.teams_chat_ready:
            return ChatOutcome(Reach.READY, person)
        key = (person.tenant_id, person.person_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            # Another delivery (or the install event) may have found the chat meanwhile.
            person = await self._store.get_person(person.tenant_id, person.person_id) or person
            if person.teams_chat_ready:
                return ChatOutcome(Reach.READY, person)
            if person.teams is not None and not person.teams.reachable:
                return ChatOutcome(Reach.GONE, person, "blocked or left")
            return await self._open_or_install(person, via)

    async def _open_or_install(self, person: Person, via: TeamsReach | None) -> ChatOutcome:
        service_url = (person.teams.service_url if person.teams else "") or (
            via.service_url if via else ""
        )
        bot_id = (person.teams.bot_id if person.teams else "") or (via.bot_id if via else "")
        if person.teams is not None and person.teams.user_id and service_url:
            opened = await self._teams.open_chat(person, service_url, bot_id)
            if opened.outcome is SendOutcome.SENT:
                return ChatOutcome(
                    Reach.READY,
                    await self._keep(person, opened.conversation_id, service_url, bot_id),
                )
            if opened.outcome is SendOutcome.RETRY:
                return ChatOutcome(Reach.RETRY, person, opened.detail, opened.retry_after)
            # Refused: Send is not installed for them. Installing it is the way in.
        if not self._installer.installs or not person.aad_object_id or not service_url:
            return ChatOutcome(Reach.GONE, person, "no Teams chat with Send")
        now = self._clock.now()
        if person.teams_unavailable and (
            person.teams_retry_at is None or person.teams_retry_at > now
        ):
            return ChatOutcome(Reach.OUTLOOK_ONLY, person, person.teams_unavailable)
        result = await self._installer.install(person.tenant_id, person.aad_object_id)
        if result.outcome is InstallOutcome.RETRY:
            return ChatOutcome(Reach.RETRY, person, result.detail, result.retry_after or 0.0)
        if result.outcome is InstallOutcome.REFUSED:
            log.info(
                "teams installation refused",
                extra={"person_id": person.person_id, "detail": result.detail},
            )
            news = not person.teams_unavailable
            marked = await self._mark_unavailable(person, result.detail, now)
            return ChatOutcome(Reach.OUTLOOK_ONLY, marked, result.detail, news=news)
        log.info("teams app installed", extra={"person_id": person.person_id})
        conversation_id = result.conversation_id
        if not conversation_id:
            # Installed, but Graph did not name the chat: Teams opens it by object id now.
            opened = await self._teams.open_chat(person, service_url, bot_id)
            if opened.outcome is SendOutcome.RETRY:
                return ChatOutcome(Reach.RETRY, person, opened.detail, opened.retry_after)
            if opened.outcome is not SendOutcome.SENT:
                return ChatOutcome(Reach.RETRY, person, "installed, chat not open yet")
            conversation_id = opened.conversation_id
        return ChatOutcome(
            Reach.READY, await self._keep(person, conversation_id, service_url, bot_id)
        )

    async def _keep(
        self, person: Person, conversation_id: str, service_url: str, bot_id: str
    ) -> Person:
        def change(p: Person) -> Person:
            if p.teams_chat_ready:
                return p  # the install event (their own chat) was faster: keep that
            old = p.teams
            teams = TeamsReach(
                user_id=old.user_id if old else "",
                service_url=(old.service_url if old else "") or service_url,
                bot_id=(old.bot_id if old else "") or bot_id,
                conversation_id=conversation_id,
                reachable=True,
            )
            return replace(p, teams=teams, teams_unavailable="", teams_retry_at=None)

        updated = await update_person(self._store, person.tenant_id, person.person_id, change)
        return updated or change(person)

    async def _mark_unavailable(self, person: Person, detail: str, now: datetime) -> Person:
        def change(p: Person) -> Person:
            if p.teams_chat_ready:
                return p
            return replace(p, teams_unavailable=detail, teams_retry_at=now + RETRY_INSTALL_AFTER)

        updated = await update_person(self._store, person.tenant_id, person.person_id, change)
        return updated or change(person)
