"""Finding a person's groups, and the read-only answers about them (`groups`, `members`,
`status`, `history`): nothing here changes a group. `Groups` adds the commands that do."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.errors import NoSuchGroup, Refused
from bot.core.membership.group_rules import check_name, name_key, name_skeleton
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import TeamsAccess
from bot.core.membership.status import status_text
from bot.core.model import Group, Person
from bot.core.ports import Clock, MessagingStore
from bot.core.sending.relay import wants_teams_copy
from bot.core.sending.unfiled import message_in
from bot.core.texts import Language, joined, say, text, when


def counted(count: int, noun: str, *, language: Language) -> str:
    """ "1 member", "2 members" / "0 membre", "1 membre", "2 membres": the plurals of the
    nouns Send counts (`n.<noun>` in the catalog), by each language's rule."""
    return say(language, f"n.{noun}", count=count)


class GroupReads:
    def __init__(
        self,
        store: MessagingStore,
        clock: Clock,
        *,
        mail: MailPolicy,
        access: TeamsAccess,
        max_groups: int,
    ) -> None:
        self._store = store
        self._max_groups = max_groups
        self._mail = mail
        self._clock = clock
        self._access = access

    async def of(self, person: Person) -> list[Group]:
        return await self._store.groups_of(person.tenant_id, person.person_id)

    async def by_id(self, person: Person, group_id: str) -> Group:
        """A group the person is a member of, named by id (quick replies, picked buttons)."""
        group = await self._store.get_group(person.tenant_id, group_id)
        if group is None or not group.has_member(person.person_id):
            raise Refused(text("group.gone_or_left"))
        return group

    async def people_for_mentions(
        self, tenant_id: str, teams_user_ids: Sequence[str]
    ) -> list[Person]:
        found = [await self._store.person_for_teams_user(tenant_id, u) for u in teams_user_ids]
        return [p for p in found if p is not None]

    async def active(self, person: Person) -> Group | None:
        """The person's active group, if it still exists and they are still in it."""
        group = await self._store.get_group(person.tenant_id, person.active_group_id)
        return group if group is not None and group.has_member(person.person_id) else None

    async def find(self, person: Person, name: str) -> Group:
        """The sender's group of that name (case-insensitive)."""
        key = name_key(name)
        if not key:
            raise Refused(text("group.which_name"))
        for group in await self.of(person):
            if name_key(group.name) == key:
                return group
        raise NoSuchGroup(name.strip())

    async def active_or_named(self, person: Person, name: str) -> Group:
        if name.strip():
            return await self.find(person, name)
        groups = await self.of(person)
        active = next((g for g in groups if g.group_id == person.active_group_id), None)
        if active is not None:
            return active
        if len(groups) == 1:
            return groups[0]
        if not groups:
            raise Refused(text("group.none_yet"))
        raise Refused(text("group.which_or_use"))

    async def check_unique(
        self,
        asker: Person,
        people: Sequence[Person],
        name: str,
        except_id: str = "",
        *,
        joining: bool = False,
    ) -> None:
        """No member may end up in two groups of the same name (see `name_key`), or of
        names that look alike (`name_skeleton`); and, `joining` a group, nobody past
        MAX_GROUPS_PER_PERSON groups."""
        key, looks = name_key(name), name_skeleton(name)
        for person in people:
            groups = await self.of(person)
            if joining and len(groups) >= self._max_groups:
                if person.person_id == asker.person_id:
                    raise Refused(text("group.too_many_yours", most=self._max_groups))
                raise Refused(text("group.too_many_theirs", person=person.display_name))
            for group in groups:
                if group.group_id == except_id or name_skeleton(group.name) != looks:
                    continue
                if person.person_id == asker.person_id:
                    if name_key(group.name) != key:
                        raise Refused(text("group.name_looks_like", group=group.name))
                    raise Refused(text("group.name_taken_you", group=group.name))
                # Only that it clashes: another person's groups are theirs to know.
                raise Refused(text("group.name_taken_other", person=person.display_name))

    async def check_new_name(self, owner: Person, name: str) -> str:
        """A valid name for a new group of `owner` (the dialog checks it when it is typed)."""
        name = check_name(name)
        await self.check_unique(owner, [owner], name, joining=True)
        return name

    async def owned(self, sender: Person, name: str, action: str) -> Group:
        """The sender's group of that name, if they own it; `action` words the refusal."""
        group = await self.find(sender, name)
        if group.owner_id != sender.person_id:
            owner = group.member(group.owner_id)
            named = owner.display_name if owner else text("unknown")
            raise Refused(text("owner.only", group=group.name, owner=named, action=action))
        return group

    async def list_text(self, sender: Person) -> str:
        groups = await self.of(sender)
        lang = sender.language
        if not groups:
            return say(lang, "group.none_yet")
        lines = [say(lang, "groups.heading")]
        for g in groups:
            marks = []
            if g.group_id == sender.active_group_id or len(groups) == 1:
                marks.append(say(lang, "mark.active"))
            if g.owner_id == sender.person_id:
                marks.append(say(lang, "mark.owner"))
            member = g.member(sender.person_id)
            if member is not None and member.muted:
                marks.append(say(lang, "mark.muted"))
            extra = say(lang, "groups.marks", marks=", ".join(marks)) if marks else ""
            members = counted(len(g.members), "member", language=lang)
            lines.append(say(lang, "groups.line", group=g.name, members=members, marks=extra))
        return "\n".join(lines)

    async def members_text(self, sender: Person, name: str) -> str:
        group = await self.active_or_named(sender, name)
        people = {
            p.person_id: p for p in await self._store.get_people(group.tenant_id, group.member_ids)
        }
        now = self._clock.now()
        lang = sender.language
        counted_members = counted(len(group.members), "member", language=lang)
        lines = [say(lang, "members.heading", group=group.name, members=counted_members)]
        for m in group.members:
            person = people.get(m.person_id)
            teams = person is not None and wants_teams_copy(person, group, self._access, now)
            mailed = person is not None and self._mail.mails(person)
            ways = [
                say(lang, key) for key, on in (("way.teams", teams), ("way.outlook", mailed)) if on
            ]
            how = joined(lang, ways) or say(lang, "way.none")
            if person is not None and self._access.outlook_only(person) and mailed and not teams:
                how = say(lang, "way.outlook_only", why=person.teams_unavailable)
            name = (person.display_name if person else "") or m.display_name
            label = say(lang, "members.owner", name=name) if m.person_id == group.owner_id else name
            # The address tells two people of one name apart; never shown twice.
            email = person.email if person is not None else ""
            address = f" <{email}>" if email and email.lower() != name.lower() else ""
            lines.append(say(lang, "members.line", label=label, address=address, how=how))
        return "\n".join(lines)

    async def status_text(self, sender: Person, name: str) -> str:
        group = await self.active_or_named(sender, name)
        last = next((s for s in reversed(group.recent) if s.sender_id == sender.person_id), None)
        message = await message_in(self._store, group, last.message_id) if last else None
        ids = [*group.member_ids, *(d.recipient_id for d in message.deliveries)] if message else []
        people = {p.person_id: p for p in await self._store.get_people(group.tenant_id, ids)}
        return status_text(group, message, people, sender, self._clock.now())

    async def history_text(self, sender: Person, name: str) -> str:
        group = await self.active_or_named(sender, name)
        lang = sender.language
        if not group.recent:
            return say(lang, "history.empty", group=group.name)
        now = self._clock.now()
        lines = [say(lang, "history.heading", count=len(group.recent), group=group.name)]
        for s in group.recent:
            # One line per message: a newline typed in a message cannot forge another line.
            shown = " ".join(s.text.split())
            if s.edited:
                shown = say(lang, "history.edited", text=shown)
            at = when(lang, s.sent_at, sender.time_zone, now)
            lines.append(say(lang, "history.line", when=at, sender=s.sender_name, text=shown))
        return "\n".join(lines)
