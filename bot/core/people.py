"""Who people are: registering Teams users and resolving member lists to people."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.addresses import MemberList, Mention, normalize_address
from bot.core.model import Person, TeamsReach
from bot.core.ports import ConcurrentUpdate, Directory, Store
from bot.core.retry import read_modify_write


@dataclass(frozen=True)
class TeamsUser:
    """A person as a Teams activity or roster describes them."""

    tenant_id: str
    user_id: str
    display_name: str
    service_url: str
    bot_id: str = ""
    email: str = ""
    aad_object_id: str = ""
    # Set when the activity comes from the person's own 1:1 chat with the bot.
    conversation_id: str = ""


def person_id_for(email: str, teams_user_id: str) -> str:
    """People are known by e-mail/UPN (the same in Teams and Outlook); a Teams id otherwise."""
    return normalize_address(email) if email else f"teams:{teams_user_id}"


async def update_person(
    store: Store, tenant_id: str, person_id: str, change: Callable[[Person], Person]
) -> Person | None:
    """Read-modify-write with etag retries; None if the person does not exist."""
    return await read_modify_write(
        None,
        lambda: store.get_person(tenant_id, person_id),
        change,
        store.save_person,
        f"person {person_id}",
    )


class People:
    def __init__(self, store: Store, directory: Directory | None) -> None:
        self._store = store
        self._directory = directory

    async def register(self, user: TeamsUser, known: Person | None = None) -> Person:
        """Stores a Teams user (first contact, install, or roster) and how to reach them.

        `known` is the person already read for this user, if any (saves a read).
        A chat conversation id is only replaced by one from the person's own 1:1 chat.
        """
        for attempt in range(5):
            person = known if attempt == 0 and known is not None else None
            if person is None:
                person = await self._store.person_for_teams_user(user.tenant_id, user.user_id)
            if person is None:
                person = await self._store.get_person(
                    user.tenant_id, person_id_for(user.email, user.user_id)
                )
            updated = _merge(person, user)
            if person is not None and updated == person:
                return person
            try:
                return await self._store.save_person(updated)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"person {user.user_id} keeps changing")

    async def resolve(self, tenant_id: str, members: MemberList) -> tuple[list[Person], list[str]]:
        """People for a member list, creating Outlook-only people for unknown addresses.

        Returns (people, problems); when there are problems nothing was written.
        """
        problems = [f"{token} is not an e-mail address" for token in members.malformed]
        found: list[Person] = []
        new: list[Person] = []
        for address in members.addresses:
            person = await self._store.get_person(tenant_id, address)
            if person is not None:
                found.append(person)
                continue
            if self._directory is not None and self._directory.covers(tenant_id):
                entry = await self._directory.find(tenant_id, address)
                if entry is None:
                    problems.append(f"{address} is not a person in your organisation")
                    continue
                new.append(
                    Person(
                        tenant_id=tenant_id,
                        person_id=normalize_address(entry.email),
                        display_name=entry.display_name or entry.email,
                        email=normalize_address(entry.email),
                        aad_object_id=entry.aad_object_id,
                    )
                )
            else:
                # Without a directory the address is kept as an Outlook-only member.
                new.append(
                    Person(
                        tenant_id=tenant_id, person_id=address, display_name=address, email=address
                    )
                )
        for mention in members.mentions:
            person = await self._store.person_for_teams_user(tenant_id, mention.teams_user_id)
            if person is None:
                new.append(_from_mention(tenant_id, mention))
            else:
                found.append(person)
        if problems:
            return [], problems
        for person in new:
            try:
                found.append(await self._store.save_person(person))
            except ConcurrentUpdate:
                # Created meanwhile by someone else: use the stored one.
                stored = await self._store.get_person(tenant_id, person.person_id)
                if stored is None:
                    raise
                found.append(stored)
        unique = {p.person_id: p for p in found}
        return list(unique.values()), []


def _from_mention(tenant_id: str, mention: Mention) -> Person:
    reach = None
    if mention.service_url:
        reach = TeamsReach(mention.teams_user_id, mention.service_url, mention.bot_id)
    return Person(
        tenant_id=tenant_id,
        person_id=person_id_for(mention.email, mention.teams_user_id),
        display_name=mention.display_name,
        email=normalize_address(mention.email) if mention.email else "",
        aad_object_id=mention.aad_object_id,
        teams=reach,
    )


def _merge(person: Person | None, user: TeamsUser) -> Person:
    old = person.teams if person else None
    conversation_id = user.conversation_id or (old.conversation_id if old else "")
    reach = TeamsReach(
        user_id=user.user_id,
        service_url=user.service_url or (old.service_url if old else ""),
        bot_id=user.bot_id or (old.bot_id if old else ""),
        conversation_id=conversation_id,
        # A message from their own chat proves the bot is reachable again.
        reachable=True if user.conversation_id else (old.reachable if old else True),
    )
    if person is None:
        return Person(
            tenant_id=user.tenant_id,
            person_id=person_id_for(user.email, user.user_id),
            display_name=user.display_name or user.email or user.user_id,
            email=normalize_address(user.email) if user.email else "",
            aad_object_id=user.aad_object_id,
            teams=reach,
        )
    return person.with_changes(
        display_name=user.display_name or person.display_name,
        email=person.email or (normalize_address(user.email) if user.email else ""),
        aad_object_id=person.aad_object_id or user.aad_object_id,
        teams=reach,
    )
