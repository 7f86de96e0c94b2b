"""Group commands: what each does, its rules (limits, owner-only, names) and its one-line answers.

The rules live in `group_rules`, the lookups and read-only answers in `group_reads`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.errors import Refused
from bot.core.features.media import Media
from bot.core.membership.addresses import MemberList
from bot.core.membership.group_reads import GroupReads
from bot.core.membership.group_reads import counted as counted
from bot.core.membership.group_rules import check_chat_size as check_chat_size
from bot.core.membership.group_rules import check_member_list as check_member_list
from bot.core.membership.group_rules import check_name as check_name
from bot.core.membership.group_rules import name_key as name_key
from bot.core.membership.group_rules import problems
from bot.core.membership.people import People, update_person
from bot.core.membership.policy import MailPolicy
from bot.core.membership.reach import NewMembers, TeamsAccess
from bot.core.model import MAX_MEMBERS, Group, MeetingLink, Member, Person
from bot.core.ports import Clock, MessagingStore, SendOutcome, StoreError
from bot.core.sending.relay import Relay
from bot.core.sending.retry import update_group
from bot.core.sending.thread import OutlookThread
from bot.core.texts import Language, Text, say, text

log = logging.getLogger("send.groups")


@dataclass(frozen=True)
class Created:
    group: Group
    text: str


def _names(people: Sequence[Person | Member]) -> str:
    return ", ".join(p.display_name for p in people)


class Groups(GroupReads):
    def __init__(
        self,
        store: MessagingStore,
        people: People,
        clock: Clock,
        *,
        mail: MailPolicy,
        access: TeamsAccess,
        newcomers: NewMembers,
        media: Media,
        relay: Relay,
        thread: OutlookThread,
        max_groups: int,
    ) -> None:
        super().__init__(store, clock, mail=mail, access=access, max_groups=max_groups)
        self._media = media
        # Renames and deletes are told in the Outlook thread too (see `_tell_thread`).
        self._relay = relay
        self._thread = thread
        self._people = people
        self._newcomers = newcomers

    async def create(self, owner: Person, name: str, members: MemberList) -> Created:
        self._relay.spend(owner)
        name = check_name(name)
        check_member_list(owner, members)
        people = await self._resolve(owner, members)
        everyone = [owner, *(p for p in people if p.person_id != owner.person_id)]
        if len(everyone) > MAX_MEMBERS:
            raise Refused(text("too_many_new", most=MAX_MEMBERS, count=len(everyone)))
        return await self.create_with(owner, name, everyone)

    async def create_with(
        self,
        owner: Person,
        name: str,
        everyone: Sequence[Person],
        *,
        activate: bool = True,
        meeting: MeetingLink | None = None,
    ) -> Created:
        """A new group; `activate` (a `new` typed in the 1:1 chat) makes it the owner's
        active group: made anywhere else, it is not, so plain text keeps its destination.
        `meeting`: the meeting it is made from, linked in the same write."""
        await self.check_unique(owner, everyone, name, joining=True)
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
                meeting=meeting,
            )
        )
        if activate:
            await self.set_active(owner, group.group_id)
        others = [p for p in everyone if p.person_id != owner.person_id]
        self._newcomers.arrived(group, others, owner)
        lang = owner.language
        who = _names(others) or say(lang, "group.only_you")
        return Created(group, say(lang, "group.created", group=name, who=who))

    async def create_from_chat(
        self, everyone: Sequence[Person], name: str, *, language: Language
    ) -> str:
        """`@Send new <name>` in a group chat: a group of the chat's roster, sender first."""
        check_chat_size(len(everyone))
        self._relay.spend(everyone[0])
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
        self._relay.spend(sender)
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
        await self.check_unique(sender, new, group.name, joining=True)
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
        if people is None:
            ids = [only] if only else list(group.member_ids)
            people = await self._store.get_people(group.tenant_id, ids)
        told = [p for p in people if p.person_id != but and (not only or p.person_id == only)]
        self._newcomers.announce(told, notice)

    async def _tell_thread(self, group: Group, notice: Text, people: Sequence[Person]) -> None:
        """A change told in the Outlook thread as a line from Send: a message of the group
        (in `history` and the cards), delivered and retried like any other. `people` are
        the members; the Outlook copy goes to those whose copy is on, the owner too."""
        try:
            await self._relay.post_notice(group, notice, people, f"send-{uuid.uuid4().hex}")
        except (StoreError, Refused):
            # The change is made and told in Teams; only its line in the thread is missing.
            log.exception("change not told in the outlook thread", extra=_ids(group))

    async def _close_thread(self, group: Group, notice: Text, people: Sequence[Person]) -> None:
        """The last mail of a deleted group's Outlook thread, tried once: its messages are
        gone, so nothing durable is left to retry it from. The group is deleted whatever
        happens here: Outlook being down must not keep a group its owner deleted."""
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

    async def receipts(self, sender: Person, on: bool) -> str:
        await update_person(
            self._store, sender.tenant_id, sender.person_id, lambda p: replace(p, receipts_on=on)
        )
        return say(sender.language, "receipts.on" if on else "receipts.off")

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

    async def _update(
        self, group: Group, change: Callable[[Group], Group], owner: str = ""
    ) -> Group:
        """Changes a group; with `owner`, only while that person still owns it (the check
        is repeated on every re-read, so a concurrent hand-over is respected)."""

        def checked(current: Group) -> Group:
            if owner and current.owner_id != owner:
                raise Refused(text("owner.only_do", group=current.name))
            return change(current)

        updated = await update_group(self._store, group, checked)
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
