"""Who people are: registering Teams users and resolving member lists to people."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.membership.addresses import MemberList, Mention, normalize_address
from bot.core.model import Group, Person, TeamsReach
from bot.core.ports import (
    ConcurrentUpdate,
    Directory,
    DirectoryEntry,
    DirectoryStore,
    DirectoryUnavailable,
    PeopleStore,
    RosterEntry,
    TeamsRoster,
)
from bot.core.sending.retry import read_modify_write
from bot.core.texts import Language, Text, language_of, text, valid_zone
from bot.core.turn.requests import MentionedUser, TeamsRequest, TeamsUser


def person_id_for(email: str, teams_user_id: str, aad_object_id: str = "") -> str:
    """A new person's id: their Entra object id (the same in Teams, Graph and action
    tokens); without one (no Graph, no Teams yet) their address, else their Teams id."""
    if aad_object_id:
        return aad_object_id.lower()
    return normalize_address(email) if email else f"teams:{teams_user_id}"


async def update_person(
    store: PeopleStore, tenant_id: str, person_id: str, change: Callable[[Person], Person]
) -> Person | None:
    """Read-modify-write with etag retries; None if the person does not exist."""
    return await read_modify_write(
        None,
        lambda: store.get_person(tenant_id, person_id),
        change,
        store.save_person,
        f"person {person_id}",
    )


HINTS_KEPT = 100_000


@dataclass(frozen=True)
class ActiveGroup:
    """A sender's active group and its members, read together with the sender."""

    group: Group
    people: dict[str, Person]


@dataclass(frozen=True)
class Sender:
    person: Person
    active: ActiveGroup | None = None


class People:
    def __init__(self, store: DirectoryStore, directory: Directory, roster: TeamsRoster) -> None:
        self._store = store
        self._directory = directory
        self._roster = roster
        # (tenant, person) -> (active group id, its member ids) as last posted to: what to
        # read together with the person. Bounded, so memory stays flat.
        self._hints: OrderedDict[tuple[str, str], tuple[str, tuple[str, ...]]] = OrderedDict()

    async def sender(self, request: TeamsRequest) -> Sender:
        """The person a request comes from, registered with how to reach them.

        When the person posted to their active group before, that group and its members
        are read in the same store request as the person (the usual case: one request).
        """
        user = request.sender
        tenant_id = user.tenant_id
        person_id = await self._store.person_id_for_teams_user(tenant_id, user.user_id)
        known: Person | None = None
        active: ActiveGroup | None = None
        hint = self._hints.get((tenant_id, person_id)) if person_id else None
        if person_id and hint:
            group_id, member_ids = hint
            people, group = await self._store.get_people_and_group(
                tenant_id, (person_id, *member_ids), group_id
            )
            by_id = {p.person_id: p for p in people}
            known = by_id.get(person_id)
            if (
                known is not None
                and group is not None
                and known.active_group_id == group.group_id
                and group.has_member(person_id)
            ):
                active = ActiveGroup(group, by_id)
        elif person_id:
            known = await self._store.get_person(tenant_id, person_id)
        # First contact (or an earlier lookup failed): Teams knows the person's UPN. Only
        # the person's own 1:1 chat is asked: its roster holds just them.
        if (known is None or not known.email) and request.personal:
            entry = await self._roster.member(
                user.service_url, request.conversation_id, user.user_id
            )
            if entry is not None and entry.email:
                user = replace(user, email=entry.email)
        return Sender(await self.register(user, known), active)

    def remember_active(self, person: Person, group: Group) -> None:
        """Which group to read with this person next time (a hint, checked when used)."""
        key = (person.tenant_id, person.person_id)
        self._hints[key] = (group.group_id, group.member_ids)
        self._hints.move_to_end(key)
        while len(self._hints) > HINTS_KEPT:
            self._hints.popitem(last=False)

    async def mentioned(self, request: TeamsRequest) -> tuple[Mention, ...]:
        """The people @mentioned in a request, registered so they can be reached later.

        Who a mention is comes from Microsoft's word only: the person Send already knows by
        that Teams id, or the connector's member lookup of a group chat. The object id a
        mention entity claims is the sender's client's word: it never links anybody, and
        a mention whose claim disagrees with what Send knows is left a plain name."""
        mentions = []
        tenant_id = request.sender.tenant_id
        for mentioned in request.mentions:
            known = await self._store.person_for_teams_user(tenant_id, mentioned.user_id)
            if await self._disputed(tenant_id, mentioned, known):
                continue
            email = known.email if known else ""
            object_id = known.aad_object_id if known else ""
            # A 1:1 chat's roster holds only its owner: asking Teams about anyone else is a 404.
            if not known and not request.personal:
                entry = await self._roster.member(
                    request.sender.service_url, request.conversation_id, mentioned.user_id
                )
                email = entry.email if entry else ""
                object_id = entry.aad_object_id if entry else ""
            user = TeamsUser(
                tenant_id=tenant_id,
                user_id=mentioned.user_id,
                display_name=mentioned.display_name,
                service_url=request.sender.service_url,
                bot_id=request.sender.bot_id,
                email=email,
                aad_object_id=object_id,
            )
            person = await self.register(user, names=False)
            mentions.append(
                Mention(
                    user.user_id,
                    user.display_name,
                    person.email,
                    person.aad_object_id,
                    person_id=person.person_id,
                )
            )
        return tuple(mentions)

    async def _disputed(
        self, tenant_id: str, mentioned: MentionedUser, known: Person | None
    ) -> bool:
        """Whether the object id a mention claims contradicts what Send knows: another
        object id for that Teams id, or a person Send knows by another Teams id."""
        claimed = mentioned.aad_object_id
        if not claimed:
            return False
        if known is not None and known.aad_object_id:
            return known.aad_object_id != claimed
        owner = await self._store.person_for_object(tenant_id, claimed)
        return owner is not None and (known is None or owner.person_id != known.person_id)

    async def from_roster(self, request: TeamsRequest, entries: list[RosterEntry]) -> list[Person]:
        """The people of a group chat's roster, registered; the sender first."""
        people = []
        for entry in entries:
            user = TeamsUser(
                tenant_id=request.sender.tenant_id,
                user_id=entry.user_id,
                display_name=entry.display_name,
                service_url=request.sender.service_url,
                bot_id=request.sender.bot_id,
                email=entry.email,
                aad_object_id=entry.aad_object_id,
            )
            people.append(await self.register(user))
        sender = next(
            (p for p in people if p.teams and p.teams.user_id == request.sender.user_id), None
        )
        if sender is None:
            sender = await self.register(request.sender)
        return [sender, *(p for p in people if p.person_id != sender.person_id)]

    async def register(
        self, user: TeamsUser, known: Person | None = None, *, names: bool = True
    ) -> Person:
        """Stores a Teams user (first contact, install, or roster) and how to reach them.

        `known` is the person already read for this user, if any (saves a read).
        A chat conversation id is only replaced by one from the person's own 1:1 chat.
        `names` False keeps a stored person's display name: a mention's text is typed by
        whoever wrote the message, so it never renames anybody.
        """
        for attempt in range(5):
            person = known if attempt == 0 and known is not None else None
            if person is None:
                person = await self._find(user)
            updated = _merge(
                person, user if names or person is None else replace(user, display_name="")
            )
            if person is not None and updated == person:
                return person
            try:
                return await self._store.save_person(updated)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"person {user.user_id} keeps changing")

    async def _find(self, user: TeamsUser) -> Person | None:
        """The stored person a Teams user is: by Teams id, else object id, else address."""
        person = await self._store.person_for_teams_user(user.tenant_id, user.user_id)
        if person is None and user.aad_object_id:
            person = await self._store.person_for_object(user.tenant_id, user.aad_object_id)
        if person is None and user.email:
            person = await self._store.person_for_address(user.tenant_id, user.email)
        return person

    async def resolve(self, tenant_id: str, members: MemberList) -> tuple[list[Person], list[Text]]:
        """People for a member list; unknown addresses become Outlook-only people.

        Returns (people, problems) and writes nothing: people not stored yet have
        `version` None, and `save_new` stores them once every rule has passed.
        """
        problems = [text("members.not_address", token=token) for token in members.malformed]
        found: list[Person] = []
        new: list[Person] = []
        for address in members.addresses:
            try:
                person = await self.in_org(tenant_id, address)
            except DirectoryUnavailable:
                problems.append(text("members.directory_down", address=address))
                continue
            if person is not None:
                (found if person.version is not None else new).append(person)
            elif self._directory.covers(tenant_id):
                problems.append(text("members.not_in_org", address=address))
            elif self._directory.searchable:
                # Graph mode, another organisation: an address nobody can vouch for would
                # make the service mailbox write to anyone. Teams @mentions still work.
                problems.append(text("members.other_org", address=address))
            else:
                # Without a directory the address is kept as an Outlook-only member.
                new.append(
                    Person(
                        tenant_id=tenant_id, person_id=address, display_name=address, email=address
                    )
                )
        for mention in members.mentions:
            person = await self._store.person_for_teams_user(tenant_id, mention.teams_user_id)
            if person is None and mention.aad_object_id:
                person = await self._store.person_for_object(tenant_id, mention.aad_object_id)
            if person is None:
                new.append(_from_mention(tenant_id, mention))
            else:
                found.append(person)
        if problems:
            return [], problems
        unique = {p.person_id: p for p in [*found, *new]}
        return list(unique.values()), []

    async def in_org(self, tenant_id: str, address: str) -> Person | None:
        """The person with that address: stored already, or found in the organisation's
        directory (then not stored yet: `version` None); None when neither knows it.
        Raises DirectoryUnavailable when the directory did not answer."""
        person = await self._store.person_for_address(tenant_id, address)
        if person is not None or not self._directory.covers(tenant_id):
            return person
        entry = await self._directory.find(tenant_id, address)
        if entry is None:
            return None
        # Known already by their object id (from Teams) or by their primary address.
        person = await self._store.person_for_object(tenant_id, entry.aad_object_id)
        if person is None and normalize_address(entry.email) != address:
            person = await self._store.person_for_address(tenant_id, entry.email)
        return person or _from_directory(tenant_id, entry)

    async def save_new(self, people: Sequence[Person]) -> list[Person]:
        """Stores the people `resolve` made up (version None); the others as they are."""
        saved = []
        for person in people:
            if person.version is not None:
                saved.append(person)
                continue
            try:
                saved.append(await self._store.save_person(person))
            except ConcurrentUpdate:
                # Created meanwhile by someone else: use the stored one.
                stored = await self._store.get_person(person.tenant_id, person.person_id)
                if stored is None:
                    raise
                saved.append(stored)
        return saved


def _from_directory(tenant_id: str, entry: DirectoryEntry) -> Person:
    email = normalize_address(entry.email)
    others = tuple(sorted({normalize_address(a) for a in entry.addresses} - {email, ""}))
    return Person(
        tenant_id=tenant_id,
        person_id=person_id_for(email, "", entry.aad_object_id),
        display_name=entry.display_name or email,
        email=email,
        aad_object_id=entry.aad_object_id,
        addresses=others,
        language=language_of(entry.preferred_language),
    )


def _from_mention(tenant_id: str, mention: Mention) -> Person:
    reach = None
    if mention.service_url:
        reach = TeamsReach(mention.teams_user_id, mention.service_url, mention.bot_id)
    return Person(
        tenant_id=tenant_id,
        person_id=person_id_for(mention.email, mention.teams_user_id, mention.aad_object_id),
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
    # Teams says both on every message: kept when they change, never cleared by silence.
    language = language_of(user.locale) if user.locale else None
    zone = valid_zone(user.time_zone)
    if person is None:
        return Person(
            tenant_id=user.tenant_id,
            person_id=person_id_for(user.email, user.user_id, user.aad_object_id),
            display_name=user.display_name or user.email or user.user_id,
            email=normalize_address(user.email) if user.email else "",
            aad_object_id=user.aad_object_id,
            teams=reach,
            language=language or Language.EN,
            time_zone=zone,
        )
    address = normalize_address(user.email) if user.email else ""
    addresses = person.addresses
    if address and person.email and address not in person.known_addresses:
        addresses = (*addresses, address)  # their UPN, when Outlook knows another address
    return replace(
        person,
        display_name=user.display_name or person.display_name,
        email=person.email or address,
        aad_object_id=person.aad_object_id or user.aad_object_id,
        addresses=addresses,
        teams=reach,
        # Their own chat with Send: whatever kept Teams from them before is over.
        teams_unavailable="" if user.conversation_id else person.teams_unavailable,
        teams_retry_at=None if user.conversation_id else person.teams_retry_at,
        language=language or person.language,
        time_zone=zone or person.time_zone,
    )
