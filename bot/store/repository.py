"""The `Store` port, written once over the document port for both backends.

Document layout (partition in brackets):
- directory [tenantId]: one `person` document per person, id = person id (the Entra
  object id, or for people met before or without Graph an e-mail or `teams:<user id>`);
  alias documents pointing to it, one per name the person is known by: a `teamsAlias`
  per Teams user id, an `alias` per Entra object id and per address (primary, UPN,
  proxy addresses); and one `group` document per group with its members and its last
  messages (`recent`).
  People and groups share the partition so a sender, their active group and its
  members come back from one query.
- messages [groupId]: one document per message with its deliveries, so accepting a
  message and all its deliveries is a single write.
- state [key]: Bot Framework state and de-duplication markers.

Times that are compared in queries (`sentAt`, `recentSince`, `expiresAt`) are written
in UTC, so their ISO-8601 text sorts as they happened.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.membership.groups import name_key
from bot.core.model import Group, Message, Person
from bot.core.ports import ConcurrentUpdate
from bot.core.sending.retry import read_modify_write
from bot.store.aliases import Aliases
from bot.store.bodies import _group, _message, _person, _utc, group_body, message_body, person_body
from bot.store.decoded import Decoded
from bot.store.documents import (
    AlreadyExists,
    Before,
    Contains,
    Doc,
    Documents,
    Eq,
    IdIn,
    JsonDict,
    NotFound,
    safe_id,
)

E = TypeVar("E", Person, Group)

# How many decoded documents are kept: a directory entry (person or group) is small; a
# message holds a delivery per member, and only those written or read one at a time are
# kept (a whole history read, or the recovery's pending list, uses them but keeps none).
DIRECTORY_KEPT = 4096
MESSAGES_KEPT = 512

# Where versions before the core kept the `new` dialog's step (`Person.new_group`) let
# botbuilder's ConversationState keep it for a person's 1:1 chat: still deleted with
# the person, since such a document may hold what they typed.
_TEAMS_CHAT_STATE = "bot:msteams/conversations/{}"


class DocumentStore:
    def __init__(self, documents: Documents) -> None:
        self._docs = documents
        self._aliases = Aliases(documents)
        self._directory: Decoded[Person | Group] = Decoded(_directory_entry, DIRECTORY_KEPT)
        self._messages: Decoded[Message] = Decoded(_message, MESSAGES_KEPT)

    def _person(self, doc: Doc) -> Person | None:
        entry = self._directory(doc)
        return entry if isinstance(entry, Person) else None

    def _group(self, doc: Doc) -> Group | None:
        entry = self._directory(doc)
        return entry if isinstance(entry, Group) else None

    def _kept(self, entry: E, doc: Doc) -> E:
        """A person or group just written (a group as it was given, a person as the store
        decodes it), kept for its new version: the next read of it is not decoded again."""
        self._directory.keep(doc.partition, doc.id, doc.etag, entry)
        return entry

    def _people(self, docs: Sequence[Doc]) -> list[Person]:
        return [p for p in map(self._person, docs) if p is not None]

    def _groups(self, docs: Sequence[Doc]) -> list[Group]:
        return [g for g in map(self._group, docs) if g is not None]

    async def ping(self) -> None:
        await self._docs.ping()

    # people

    async def get_person(self, tenant_id: str, person_id: str) -> Person | None:
        doc = await self._docs.read("directory", tenant_id, safe_id(person_id))
        return None if doc is None else self._person(doc)

    async def get_people(self, tenant_id: str, person_ids: Sequence[str]) -> list[Person]:
        ids = tuple(dict.fromkeys(safe_id(p) for p in person_ids))
        if not ids:
            return []
        docs = await self._docs.query("directory", tenant_id, [IdIn(ids), Eq("type", "person")])
        return self._people(docs)

    async def person_id_for_teams_user(self, tenant_id: str, teams_user_id: str) -> str | None:
        return await self._aliases.person_id_for_teams_user(tenant_id, teams_user_id)

    async def person_for_teams_user(self, tenant_id: str, teams_user_id: str) -> Person | None:
        person_id = await self.person_id_for_teams_user(tenant_id, teams_user_id)
        return None if person_id is None else await self.get_person(tenant_id, person_id)

    async def person_for_object(self, tenant_id: str, aad_object_id: str) -> Person | None:
        """The person with this Entra object id."""
        if not aad_object_id:
            return None
        person_id = await self._aliases.person_id_for_object(tenant_id, aad_object_id)
        return await self.get_person(tenant_id, person_id)

    async def person_for_address(self, tenant_id: str, address: str) -> Person | None:
        """The person known by this address (primary, UPN or proxy), any letter case."""
        if not address:
            return None
        person_id = await self._aliases.person_id_for_address(tenant_id, address)
        return await self.get_person(tenant_id, person_id)

    async def get_people_and_group(
        self, tenant_id: str, person_ids: Sequence[str], group_id: str
    ) -> tuple[list[Person], Group | None]:
        """People and a group of one tenant in one query (they share the partition)."""
        ids = tuple(dict.fromkeys([*(safe_id(p) for p in person_ids), safe_id(group_id)]))
        docs = await self._docs.query("directory", tenant_id, [IdIn(ids)])
        people = self._people(docs)
        groups = self._groups(docs)
        return people, next((g for g in groups if g.group_id == group_id), None)

    async def save_person(self, person: Person) -> Person:
        body = person_body(person)
        doc_id = safe_id(person.person_id)
        doc = await self._write("directory", person.tenant_id, doc_id, body, person.version)
        # A new person's aliases are written whatever this instance remembers: the one it
        # remembers may have been deleted since (`forget`, run by another process).
        await self._aliases.write(person, fresh=person.version is None)
        return self._kept(_person(doc), doc)

    async def migrate_aliases(self) -> int:
        """Writes the aliases of people stored before addresses and object ids had any;
        once per store (a marker in `state`). Returns how many people it went through."""
        marker = "migration:person-aliases-v1"
        if await self.get_state(marker) is not None:
            return 0
        docs = await self._docs.query("directory", None, [Eq("type", "person")])
        for doc in docs:
            await self._aliases.write(_person(doc))
        await self.put_state(marker, {"people": len(docs)})
        return len(docs)

    async def people_with_id(self, person_id: str) -> list[Person]:
        """The person of that id in every tenant (an address may be known in several)."""
        docs = await self._docs.query(
            "directory", None, [IdIn((safe_id(person_id),)), Eq("type", "person")]
        )
        return sorted(self._people(docs), key=lambda p: p.tenant_id)

    async def people_with_address(self, address: str) -> list[Person]:
        """The person known by that address in every tenant (an address may be known in
        several), wherever their id comes from."""
        named = await self._aliases.named_by_address(address)
        address = address.lower()
        by_email = await self._docs.query(
            "directory", None, [Eq("type", "person"), Eq("email", address)]
        )
        people = [*await self.people_with_id(address), *self._people(by_email)]
        for tenant_id, person_id in named:
            person = await self.get_person(tenant_id, person_id)
            if person is not None:
                people.append(person)
        # Two records of one address in a tenant (one made before aliases): both are theirs.
        found = {(p.tenant_id, p.person_id): p for p in people}
        return sorted(found.values(), key=lambda p: (p.tenant_id, p.person_id))

    async def delete_person(self, person: Person) -> None:
        """Deletes a person: their document, every alias naming them, and the dialog
        state of their 1:1 chat with the bot."""
        await self._aliases.delete(person)
        if person.teams is not None and person.teams.conversation_id:
            state_id = safe_id(_TEAMS_CHAT_STATE.format(person.teams.conversation_id))
            await self._docs.delete("state", state_id, state_id)
        await self._docs.delete("directory", person.tenant_id, safe_id(person.person_id))

    # groups

    async def get_group(self, tenant_id: str, group_id: str) -> Group | None:
        doc = await self._docs.read("directory", tenant_id, safe_id(group_id))
        return None if doc is None else self._group(doc)

    async def groups_of(self, tenant_id: str, person_id: str) -> list[Group]:
        docs = await self._docs.query(
            "directory", tenant_id, [Contains("memberIds", person_id), Eq("type", "group")]
        )
        return sorted(self._groups(docs), key=lambda g: (g.created_at, g.group_id))

    async def groups_in(self, tenant_id: str) -> list[Group]:
        """Every group of a tenant, oldest first."""
        docs = await self._docs.query("directory", tenant_id, [Eq("type", "group")])
        return sorted(self._groups(docs), key=lambda g: (g.created_at, g.group_id))

    async def find_groups(self, id_or_name: str, tenant_id: str | None = None) -> list[Group]:
        """The group with this id, else the groups of this name (as `name_key` compares
        names), in one tenant or in all; oldest first."""
        by_id = await self._docs.query(
            "directory", tenant_id, [IdIn((safe_id(id_or_name),)), Eq("type", "group")]
        )
        docs = by_id or await self._docs.query(
            "directory", tenant_id, [Eq("nameKey", name_key(id_or_name)), Eq("type", "group")]
        )
        return sorted(self._groups(docs), key=lambda g: (g.created_at, g.group_id))

    async def save_group(self, group: Group) -> Group:
        doc = await self._write(
            "directory", group.tenant_id, safe_id(group.group_id), group_body(group), group.version
        )
        # As with messages, what was written is what was given (test_message_bodies.py):
        # kept for the next read of this version (the sender's query of the next message).
        return self._kept(replace(group, version=doc.etag), doc)

    async def groups_with_meetings(self, until: datetime) -> list[Group]:
        """Groups linked to a meeting, not cancelled, that starts before `until` (every
        tenant: the meetings' watch goes through them all)."""
        docs = await self._docs.query(
            "directory", None, [Eq("type", "group"), Before("meetingStart", _utc(until))]
        )
        return self._groups(docs)

    async def groups_with_unfiled(self, until: datetime) -> list[Group]:
        docs = await self._docs.query(
            "directory", None, [Eq("type", "group"), Before("unfiledUntil", _utc(until))]
        )
        return self._groups(docs)

    async def group_for_outlook_conversation(self, conversation_id: str) -> Group | None:
        """The group whose Outlook thread has this Graph conversationId (any tenant)."""
        docs = await self._docs.query(
            "directory", None, [Eq("outlookConversation", conversation_id), Eq("type", "group")]
        )
        return next(iter(self._groups(docs)), None)

    async def delete_group(self, group: Group) -> None:
        """Deletes a group with everything of it: its messages with their deliveries (the
        whole of its partition), then the group itself, so a failure part-way leaves the
        group in place to be deleted again."""
        await self._docs.delete_where("messages", group.group_id, [])
        # Media (photos and files) do not exist yet; once they do, the group's are deleted here.
        await self._docs.delete("directory", group.tenant_id, safe_id(group.group_id))

    # messages

    async def add_message(self, message: Message) -> Message | None:
        try:
            doc = await self._docs.create(
                "messages", message.group_id, safe_id(message.message_id), message_body(message)
            )
        except AlreadyExists:
            return None
        # What was written is what was given (tests/unit/test_message_bodies.py): not
        # decoded again, only its new version taken.
        return self._written(message, doc)

    async def get_message(self, group_id: str, message_id: str) -> Message | None:
        doc = await self._docs.read("messages", group_id, safe_id(message_id))
        return None if doc is None else self._messages(doc)

    async def save_message(self, message: Message) -> Message:
        doc = await self._write(
            "messages",
            message.group_id,
            safe_id(message.message_id),
            message_body(message),
            message.version,
        )
        return self._written(message, doc)  # as add_message: not decoded again

    def _written(self, message: Message, doc: Doc) -> Message:
        written = replace(message, version=doc.etag)
        self._messages.keep(doc.partition, doc.id, doc.etag, written)
        return written

    async def messages_of(self, group_id: str) -> list[Message]:
        """A group's messages, oldest first (one partition)."""
        docs = await self._docs.query("messages", group_id, [])
        messages = [m for d in docs if (m := self._messages(d, keep=False)) is not None]
        return sorted(messages, key=lambda m: (m.sent_at, m.message_id))

    async def pending_messages(self) -> list[Message]:
        # Indexed on both backends (SQLite: documents_pending; Cosmos indexes every path),
        # so recovery reads the pending messages only, however long the history.
        docs = await self._docs.query("messages", None, [Eq("pending", True)])
        messages = [m for d in docs if (m := self._messages(d, keep=False)) is not None]
        return sorted(messages, key=lambda m: m.sent_at)

    async def purge_messages_before(self, cutoff: datetime) -> int:
        """Deletes the messages sent before `cutoff`, with their summaries on the groups
        (`recent`); how many messages were deleted. Both lookups are indexed."""
        before = Before("sentAt", _utc(cutoff))
        purged = await self._docs.delete_where("messages", None, [before])
        stale = await self._docs.query(
            "directory", None, [Eq("type", "group"), Before("recentSince", _utc(cutoff))]
        )
        for group in self._groups(stale):
            await self._drop_recent_before(group, cutoff)
        return purged

    async def _drop_recent_before(self, group: Group, cutoff: datetime) -> None:
        def change(current: Group) -> Group:
            kept = tuple(s for s in current.recent if s.sent_at >= cutoff)
            return current if kept == current.recent else replace(current, recent=kept)

        await read_modify_write(
            group,
            lambda: self.get_group(group.tenant_id, group.group_id),
            change,
            self.save_group,
            f"group {group.group_id}",
        )

    # de-duplication

    async def purge_expired_markers(self, now: datetime) -> int:
        """Deletes de-duplication markers that have expired (run at start; indexed)."""
        return await self._docs.delete_where(
            "state", None, [Eq("type", "once"), Before("expiresAt", _utc(now))]
        )

    async def forget(self, key: str) -> None:
        doc_id = safe_id(f"once:{key}")
        await self._docs.delete("state", doc_id, doc_id)

    async def remember_once(self, key: str, now: datetime, keep: timedelta) -> bool:
        doc_id = safe_id(f"once:{key}")
        # `ttl` lets Cosmos DB delete the marker itself; `purge_expired_markers` does it elsewhere.
        body = {
            "type": "once",
            "expiresAt": _utc(now + keep),
            "ttl": int(keep.total_seconds()) + 3600,
        }
        try:
            # A marker lost with the machine only lets a repeat through, once: not flushed.
            await self._docs.create("state", doc_id, doc_id, body, flush=False)
            return True
        except AlreadyExists:
            seen = await self._docs.read("state", doc_id, doc_id)
        if seen is not None and datetime.fromisoformat(str(seen.body["expiresAt"])) > now:
            return False
        try:
            if seen is None:
                await self._docs.create("state", doc_id, doc_id, body)
            else:
                await self._docs.replace("state", doc_id, doc_id, body, seen.etag)
        except (AlreadyExists, ConcurrentUpdate, NotFound):
            return False  # another request took it first
        return True

    # live instances of the app (sharing Teams' pace)

    async def announce_instance(self, instance_id: str, until: datetime) -> None:
        doc_id = safe_id(f"instance:{instance_id}")
        await self._docs.upsert(
            "state", doc_id, doc_id, {"type": "instance", "until": until.isoformat()}
        )

    async def live_instances(self, now: datetime) -> int:
        docs = await self._docs.query("state", None, [Eq("type", "instance")])
        return sum(datetime.fromisoformat(str(d.body["until"])) > now for d in docs)

    async def withdraw_instance(self, instance_id: str) -> None:
        doc_id = safe_id(f"instance:{instance_id}")
        await self._docs.delete("state", doc_id, doc_id)

    # small state documents of the edges (Graph subscription, delta link)

    async def get_state(self, key: str) -> JsonDict | None:
        doc_id = safe_id(f"state:{key}")
        doc = await self._docs.read("state", doc_id, doc_id)
        return None if doc is None else dict(doc.body.get("value") or {})

    async def put_state(self, key: str, value: JsonDict) -> None:
        doc_id = safe_id(f"state:{key}")
        await self._docs.upsert("state", doc_id, doc_id, {"type": "edgeState", "value": value})

    # keys

    async def signing_key(self, name: str) -> bytes:
        """A random 256-bit key kept in the store, made on first use (shared by all instances)."""
        doc_id = safe_id(f"key:{name}")
        doc = await self._docs.read("state", doc_id, doc_id)
        if doc is None:
            value = base64.b64encode(secrets.token_bytes(32)).decode()
            try:
                doc = await self._docs.create(
                    "state", doc_id, doc_id, {"type": "key", "value": value}
                )
            except AlreadyExists:
                doc = await self._docs.read("state", doc_id, doc_id)
        if doc is None:
            raise NotFound(f"key {name} vanished while it was being created")
        return base64.b64decode(str(doc.body["value"]))

    async def _write(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, version: str | None
    ) -> Doc:
        if version is None:
            try:
                return await self._docs.create(kind, partition, doc_id, body)
            except AlreadyExists:
                raise ConcurrentUpdate(f"{kind}/{doc_id} was created meanwhile") from None
        try:
            return await self._docs.replace(kind, partition, doc_id, body, version)
        except NotFound:
            raise ConcurrentUpdate(f"{kind}/{doc_id} was deleted meanwhile") from None


def _directory_entry(doc: Doc) -> Person | Group | None:
    """A directory document as a person or a group; None for anything else (an alias)."""
    kind = doc.body.get("type")
    return _person(doc) if kind == "person" else _group(doc) if kind == "group" else None
