"""Group commands: what each does, its rules (limits, owner-only, names) and its one-line answers."""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.addresses import MemberList
from bot.core.errors import NoSuchGroup, Refused
from bot.core.media import Media
from bot.core.model import MAX_GROUP_NAME, MAX_MEMBERS, Group, Member, Person
from bot.core.people import People, update_person
from bot.core.policy import MailPolicy
from bot.core.ports import Clock, SendOutcome, Store, StoreError
from bot.core.reach import NewMembers, TeamsAccess
from bot.core.relay import Relay, wants_teams_copy
from bot.core.retry import read_modify_write
from bot.core.status import status_text
from bot.core.texts import Language, Listed, Text, joined, say, text, when
from bot.core.thread import OutlookThread

log = logging.getLogger("send.groups")


@dataclass(frozen=True)
class Created:
    group: Group
    text: str


def name_key(name: str) -> str:
    """How group names compare: Unicode-normalised, case-insensitive, blanks folded."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_name(name: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", name).split())
    # Control, format (zero-width, bidi overrides) and unassigned characters would make
    # two names look alike, or a name look like something else.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co", "Cs") for ch in name):
        raise Refused(text("name.invisible"))
    if not name:
        raise Refused(text("name.empty"))
    if len(name) > MAX_GROUP_NAME:
        raise Refused(text("name.too_long", most=MAX_GROUP_NAME, length=len(name)))
    if ":" in name:
        raise Refused(text("name.colon"))
    return name


def check_member_list(owner: Person, members: MemberList) -> None:
    """The rules a typed member list must pass before anyone is looked up.

    `create` and the `new` dialog both apply them, so both refuse alike.
    """
    if members.empty:
        raise Refused(text("members.none_named"))
    if members.malformed:
        raise Refused(problems([text("members.not_address", token=t) for t in members.malformed]))
    others = [a for a in members.addresses if a != owner.email] + list(members.mentions)
    if len(others) + 1 > MAX_MEMBERS:
        raise Refused(text("too_many_new", most=MAX_MEMBERS, count=len(others) + 1))


def check_chat_size(people: int) -> None:
    if people > MAX_MEMBERS:
        raise Refused(text("chat_too_big", most=MAX_MEMBERS))


def counted(count: int, noun: str, language: Language = Language.EN) -> str:
    """ "1 member", "2 members" / "0 membre", "1 membre", "2 membres": the plurals of the
    nouns Send counts (`n.<noun>` in the catalog), by each language's rule."""
    return say(language, f"n.{noun}", count=count)


def problems(found: Sequence[Text]) -> Text:
    """One refusal for several problems: "a; b. Nothing was changed." """
    return text("nothing_changed", problems=Listed(tuple(found)))


def _names(people: Sequence[Person | Member]) -> str:
    return ", ".join(p.display_name for p in people)


class Groups:
    def __init__(
        self,
        store: Store,
        people: People,
        clock: Clock,
        mail: MailPolicy | None = None,
        access: TeamsAccess | None = None,
        newcomers: NewMembers | None = None,
        media: Media | None = None,
        relay: Relay | None = None,
        thread: OutlookThread | None = None,
    ) -> None:
        self._store = store
        self._media = media
        # Renames and deletes are told in the Outlook thread too (see `_tell_thread`).
        self._relay = relay
        self._thread = thread
        self._mail = mail or MailPolicy()
        self._people = people
        self._clock = clock
        self._access = access or TeamsAccess()
        self._newcomers = newcomers

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
        self, asker: Person, people: Sequence[Person], name: str, except_id: str = ""
    ) -> None:
        """No member may end up in two groups of the same name (see `name_key`)."""
        key = name_key(name)
        for person in people:
            for group in await self.of(person):
                if name_key(group.name) == key and group.group_id != except_id:
                    if person.person_id == asker.person_id:
                        raise Refused(text("group.name_taken_you", group=group.name))
                    # Only that it clashes: another person's groups are theirs to know.
                    raise Refused(text("group.name_taken_other", person=person.display_name))

    async def check_new_name(self, owner: Person, name: str) -> str:
        """A valid name for a new group of `owner` (the dialog checks it when it is typed)."""
        name = check_name(name)
        await self.check_unique(owner, [owner], name)
        return name

    async def create(self, owner: Person, name: str, members: MemberList) -> Created:
        name = check_name(name)
        check_member_list(owner, members)
        people = await self._resolve(owner, members)
        everyone = [owner, *(p for p in people if p.person_id != owner.person_id)]
        if len(everyone) > MAX_MEMBERS:
            raise Refused(text("too_many_new", most=MAX_MEMBERS, count=len(everyone)))
        return await self.create_with(owner, name, everyone)

    async def create_with(
        self, owner: Person, name: str, everyone: Sequence[Person], *, activate: bool = True
    ) -> Created:
        """A new group; `activate` (a `new` typed in the 1:1 chat) makes it the owner's
        active group: made anywhere else, it is not, so plain text keeps its destination."""
        await self.check_unique(owner, everyone, name)
        everyone = await self._people.save_new(everyone)
        now = self._clock.now()
        group = await self._store.save_group(
            Group(
                tenant_id=owner.tenant_id,
                group_id=uuid.uuid4().hex,
                name=name,
                owner_id=owner.person_id,
                members=tuple(Member(p.person_id, p.display_name, now) for p in everyone),
                created_at=now,
            )
        )
        if activate:
            await self.set_active(owner, group.group_id)
        others = [p for p in everyone if p.person_id != owner.person_id]
        if self._newcomers is not None:
            self._newcomers.arrived(group, others, owner)
        lang = owner.language
        who = _names(others) or say(lang, "group.only_you")
        return Created(group, say(lang, "group.created", group=name, who=who))

    async def create_from_chat(
        self, everyone: Sequence[Person], name: str, language: Language = Language.EN
    ) -> str:
        """`@Send new <name>` in a group chat: a group of the chat's roster, sender first."""
        check_chat_size(len(everyone))
        created = await self.create_with(everyone[0], check_name(name), everyone, activate=False)
        named = created.group.name
        return say(language, "group.made_from_chat", group=named, count=len(everyone))

    async def _resolve(self, sender: Person, members: MemberList) -> list[Person]:
        if members.empty:
            raise Refused(text("members.none_named"))
        people, found = await self._people.resolve(sender.tenant_id, members)
        if found:
            raise Refused(problems(found))
        return people

    async def add(self, sender: Person, group: Group, members: MemberList) -> str:
        people = await self._resolve(sender, members)
        new = [p for p in people if not group.has_member(p.person_id)]
        if not new:
            return say(sender.language, "group.already_members", group=group.name)
        if len(group.members) + len(new) > MAX_MEMBERS:
            raise Refused(
                text(
                    "group.add_over_limit",
                    group=group.name,
                    count=len(group.members),
                    adding=len(new),
                    most=MAX_MEMBERS,
                )
            )
        await self.check_unique(sender, new, group.name)
        new = await self._people.save_new(new)
        now = self._clock.now()

        def change(g: Group) -> Group:
            added = [
                Member(p.person_id, p.display_name, now)
                for p in new
                if not g.has_member(p.person_id)
            ]
            if len(g.members) + len(added) > MAX_MEMBERS:
                raise Refused(text("group.would_pass_limit", group=g.name, most=MAX_MEMBERS))
            return replace(g, members=(*g.members, *added))

        updated = await self._update(group, change, owner=sender.person_id)
        if self._newcomers is not None:
            self._newcomers.arrived(updated, new, sender)
        return say(sender.language, "group.added", names=_names(new), group=group.name)

    async def remove(self, sender: Person, group: Group, who: str, mentioned: Sequence[str]) -> str:
        key = who.strip().strip("<>").lower().removeprefix("mailto:")
        named = await self._store.person_for_address(group.tenant_id, key) if "@" in key else None
        member = _pick_member(group, who, [*mentioned, *([named.person_id] if named else [])])
        if member is None:
            who_shown: str | Text = who.strip() or text("group.that_person")
            raise Refused(text("group.not_member_named", who=who_shown, group=group.name))
        if member.person_id == sender.person_id:
            raise Refused(text("group.remove_yourself", group=group.name))
        await self._update(
            group,
            lambda g: replace(
                g, members=tuple(m for m in g.members if m.person_id != member.person_id)
            ),
            owner=sender.person_id,
        )
        await self._announce(
            group,
            text("notice.removed", actor=sender.display_name, group=group.name),
            only=member.person_id,
        )
        return say(sender.language, "group.removed", person=member.display_name, group=group.name)

    async def rename(self, sender: Person, group: Group, new_name: str) -> str:
        new_name = check_name(new_name)
        people = await self._store.get_people(group.tenant_id, group.member_ids)
        await self.check_unique(sender, people, new_name, except_id=group.group_id)
        updated = await self._update(
            group, lambda g: replace(g, name=new_name), owner=sender.person_id
        )
        notice = text(
            "notice.renamed", actor=sender.display_name, group=group.name, new_name=new_name
        )
        await self._announce(group, notice, but=sender.person_id, people=people)
        await self._tell_thread(updated, notice, people)
        return say(sender.language, "group.renamed", group=group.name, new_name=new_name)

    async def leave(self, sender: Person, name: str) -> str:
        group = await self.find(sender, name)
        rest = sorted(
            (m for m in group.members if m.person_id != sender.person_id), key=lambda m: m.joined_at
        )
        lang = sender.language
        if not rest:
            # No last mail in the Outlook thread: nobody is left to read it.
            await self._delete_group(group)
            await self._clear_active(sender, group.group_id)
            return say(lang, "group.left_deleted", group=group.name)

        updated = await self._update(group, lambda g: g.without(sender.person_id))
        await self._clear_active(sender, group.group_id)
        if not updated.members:
            # The others left at the same moment: this was the last member after all.
            await self._delete_group(updated)
            return say(lang, "group.left_deleted", group=group.name)
        if group.owner_id == sender.person_id:
            heir = updated.member(updated.owner_id)
            named = heir.display_name if heir else say(lang, "group.the_oldest_member")
            return say(lang, "group.left_heir", group=group.name, heir=named)
        return say(lang, "group.left", group=group.name)

    async def delete(self, sender: Person, group: Group) -> str:
        people = await self._store.get_people(group.tenant_id, group.member_ids)
        await self._delete_group(group)
        await self._clear_active(sender, group.group_id)
        await self._announce(
            group,
            text("notice.deleted", actor=sender.display_name, group=group.name),
            but=sender.person_id,
            people=people,
        )
        await self._close_thread(
            group, text("thread.deleted", actor=sender.display_name, group=group.name), people
        )
        return say(sender.language, "group.deleted", group=group.name)

    async def _delete_group(self, group: Group) -> None:
        """The group with its messages, then its photos and files. Those are deleted after
        the group, so a failure leaves items nobody can open (no link finds a message),
        never a group whose pictures are gone; the log names what is left behind."""
        await self._store.delete_group(group)
        if self._media is None:
            return
        try:
            deleted = await self._media.forget_group(group.tenant_id, group.group_id)
        except StoreError:
            log.exception(
                "photos and files of a deleted group left behind",
                extra={"group_id": group.group_id, "tenant_id": group.tenant_id},
            )
            return
        if deleted:
            log.info("group media deleted", extra={"group_id": group.group_id, "items": deleted})

    async def _announce(
        self,
        group: Group,
        notice: Text,
        *,
        but: str = "",
        only: str = "",
        people: Sequence[Person] | None = None,
    ) -> None:
        """Tells members in Teams about a change to their group (not whoever made it)."""
        if self._newcomers is None:
            return
        if people is None:
            ids = [only] if only else list(group.member_ids)
            people = await self._store.get_people(group.tenant_id, ids)
        told = [p for p in people if p.person_id != but and (not only or p.person_id == only)]
        self._newcomers.announce(told, notice)

    async def _tell_thread(self, group: Group, notice: Text, people: Sequence[Person]) -> None:
        """A change told in the Outlook thread as a line from Send: a message of the group
        (in `history` and the cards), delivered and retried like any other. `people` are
        the members; the Outlook copy goes to those whose copy is on, the owner too."""
        if self._relay is None:
            return
        try:
            await self._relay.post_notice(group, notice, people, f"send-{uuid.uuid4().hex}")
        except (StoreError, Refused):
            # The change is made and told in Teams; only its line in the thread is missing.
            log.exception("change not told in the outlook thread", extra=_ids(group))

    async def _close_thread(self, group: Group, notice: Text, people: Sequence[Person]) -> None:
        """The last mail of a deleted group's Outlook thread, tried once: its messages are
        gone, so nothing durable is left to retry it from. The group is deleted whatever
        happens here: Outlook being down must not keep a group its owner deleted."""
        if self._thread is None:
            return
        addresses = tuple(sorted({p.email for p in people if self._mail.mails(p)}))
        try:
            result = await self._thread.last_mail(
                group, notice, addresses, people, self._clock.now()
            )
        except Exception:
            log.exception("last mail of a deleted group failed", extra=_ids(group))
            return
        if result.outcome is not SendOutcome.SENT:
            log.warning(
                "last mail of a deleted group not sent",
                extra={**_ids(group), "outcome": result.outcome.value, "detail": result.detail},
            )

    async def use(self, sender: Person, name: str) -> str:
        group = await self.find(sender, name)
        await self.set_active(sender, group.group_id)
        return say(sender.language, "group.now_active", group=group.name)

    async def mute(self, sender: Person, name: str, muted: bool) -> str:
        group = await self.find(sender, name)

        def change(g: Group) -> Group:
            return replace(
                g,
                members=tuple(
                    Member(m.person_id, m.display_name, m.joined_at, muted)
                    if m.person_id == sender.person_id
                    else m
                    for m in g.members
                ),
            )

        await self._update(group, change)
        return say(sender.language, "group.muted" if muted else "group.unmuted", group=group.name)

    async def outlook(self, sender: Person, on: bool) -> str:
        if on and not sender.email:
            raise Refused(text("outlook.no_address"))
        if on and not self._mail.mails_tenant(sender.tenant_id):
            raise Refused(text("outlook.other_org"))
        await update_person(
            self._store, sender.tenant_id, sender.person_id, lambda p: replace(p, outlook_on=on)
        )
        return say(sender.language, "outlook.on" if on else "outlook.off")

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
            members = counted(len(g.members), "member", lang)
            lines.append(say(lang, "groups.line", group=g.name, members=members, marks=extra))
        return "\n".join(lines)

    async def members_text(self, sender: Person, name: str) -> str:
        group = await self.active_or_named(sender, name)
        people = {
            p.person_id: p for p in await self._store.get_people(group.tenant_id, group.member_ids)
        }
        now = self._clock.now()
        lang = sender.language
        counted_members = counted(len(group.members), "member", lang)
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
        message = await self._store.get_message(group.group_id, last.message_id) if last else None
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
            at = when(lang, s.sent_at, sender.time_zone, now)
            lines.append(say(lang, "history.line", when=at, sender=s.sender_name, text=shown))
        return "\n".join(lines)

    async def set_active(self, person: Person, group_id: str) -> None:
        await update_person(
            self._store,
            person.tenant_id,
            person.person_id,
            lambda p: replace(p, active_group_id=group_id),
        )

    async def _clear_active(self, person: Person, group_id: str) -> None:
        def change(p: Person) -> Person:
            return replace(p, active_group_id="") if p.active_group_id == group_id else p

        await update_person(self._store, person.tenant_id, person.person_id, change)

    async def owned(self, sender: Person, name: str, action: str) -> Group:
        """The sender's group of that name, if they own it; `action` words the refusal."""
        group = await self.find(sender, name)
        if group.owner_id != sender.person_id:
            owner = group.member(group.owner_id)
            named = owner.display_name if owner else text("unknown")
            raise Refused(text("owner.only", group=group.name, owner=named, action=action))
        return group

    async def _update(
        self, group: Group, change: Callable[[Group], Group], owner: str = ""
    ) -> Group:
        """Changes a group; with `owner`, only while that person still owns it (the check
        is repeated on every re-read, so a concurrent hand-over is respected)."""

        def checked(current: Group) -> Group:
            if owner and current.owner_id != owner:
                raise Refused(text("owner.only_do", group=current.name))
            return change(current)

        updated = await read_modify_write(
            group,
            lambda: self._store.get_group(group.tenant_id, group.group_id),
            checked,
            self._store.save_group,
            f"group {group.group_id}",
        )
        if updated is None:
            raise Refused(text("group.no_longer", group=group.name))
        return updated


def _ids(group: Group) -> dict[str, str]:
    return {"group_id": group.group_id, "tenant_id": group.tenant_id}


def _pick_member(group: Group, who: str, mentioned: Sequence[str]) -> Member | None:
    for person_id in mentioned:
        member = group.member(person_id)
        if member is not None:
            return member
    key = who.strip().strip("<>").lower().removeprefix("mailto:")
    if not key:
        return None
    return next(
        (
            m
            for m in group.members
            if m.person_id == key or m.display_name.casefold() == key.casefold()
        ),
        None,
    )
