"""People's alias documents: every name a person is known by points to their id.

They live in the `directory` partition of the person's tenant, one per name: a
`teamsAlias` per Teams user id, an `alias` per Entra object id and per address (primary,
UPN, proxy addresses). `Aliases` reads and writes them for `DocumentStore`, and keeps
what it has read.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.core.model import Person
from bot.store.documents import AlreadyExists, Documents, Eq, IdIn, safe_id

ALIAS_CACHE_SIZE = 100_000


class Aliases:
    def __init__(self, documents: Documents) -> None:
        self._docs = documents
        # (tenant, Teams user id) -> person id. An alias never changes once written, so
        # every instance may keep what it has read; bounded so memory stays flat.
        self._aliases: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def person_id_for_teams_user(self, tenant_id: str, teams_user_id: str) -> str | None:
        return await self._alias(tenant_id, _teams_alias_id(teams_user_id))

    async def person_id_for_object(self, tenant_id: str, aad_object_id: str) -> str:
        """The id of the person with this Entra object id."""
        person_id = await self._alias(tenant_id, _object_alias_id(aad_object_id))
        # People met with an object id are keyed by it.
        return person_id or aad_object_id.lower()

    async def person_id_for_address(self, tenant_id: str, address: str) -> str:
        """The id of the person known by this address (primary, UPN or proxy), any letter
        case."""
        person_id = await self._alias(tenant_id, _address_alias_id(address))
        # People stored before aliases existed are keyed by their address.
        return person_id or address.lower()

    async def named_by_address(self, address: str) -> list[tuple[str, str]]:
        """(tenant, person id) of every alias of that address, in every tenant."""
        aliases = await self._docs.query(
            "directory",
            None,
            [IdIn((_address_alias_id(address),)), Eq("type", "alias")],
        )
        return [(str(alias.partition), str(alias.body["personId"])) for alias in aliases]

    async def _alias(self, tenant_id: str, alias_id: str) -> str | None:
        key = (tenant_id, alias_id)
        person_id = self._aliases.get(key)
        if person_id is None:
            alias = await self._docs.read("directory", tenant_id, alias_id)
            if alias is None:
                return None
            person_id = self._remember_alias(key, str(alias.body["personId"]))
        return person_id

    def _remember_alias(self, key: tuple[str, str], person_id: str) -> str:
        self._aliases[key] = person_id
        self._aliases.move_to_end(key)
        while len(self._aliases) > ALIAS_CACHE_SIZE:
            self._aliases.popitem(last=False)
        return person_id

    async def write(self, person: Person, fresh: bool = False) -> None:
        """Every name of the person points to them. A Teams user id is theirs for good; an
        object id or an address already naming someone else keeps naming them (an older
        record of the same address is not taken over silently)."""
        tenant = person.tenant_id
        if person.teams is not None and person.teams.user_id:
            alias_id = _teams_alias_id(person.teams.user_id)
            if fresh or self._aliases.get((tenant, alias_id)) != person.person_id:
                # The alias never changes once written, so an upsert is safe and idempotent.
                await self._docs.upsert(
                    "directory",
                    tenant,
                    alias_id,
                    {"type": "teamsAlias", "personId": person.person_id},
                )
                self._remember_alias((tenant, alias_id), person.person_id)
        names = [_object_alias_id(person.aad_object_id)] if person.aad_object_id else []
        names += [_address_alias_id(a) for a in sorted(person.known_addresses)]
        for alias_id in names:
            if not fresh and (tenant, alias_id) in self._aliases:
                continue
            try:
                await self._docs.create(
                    "directory", tenant, alias_id, {"type": "alias", "personId": person.person_id}
                )
                self._remember_alias((tenant, alias_id), person.person_id)
            except AlreadyExists:
                self._aliases.pop((tenant, alias_id), None)
                await self._alias(tenant, alias_id)

    async def delete(self, person: Person) -> None:
        """Deletes every alias naming the person, and forgets them here."""
        for kind in ("teamsAlias", "alias"):
            await self._docs.delete_where(
                "directory",
                person.tenant_id,
                [Eq("type", kind), Eq("personId", person.person_id)],
            )
        for key in [k for k, v in self._aliases.items() if k[0] == person.tenant_id]:
            if self._aliases[key] == person.person_id:
                del self._aliases[key]


def _teams_alias_id(teams_user_id: str) -> str:
    return safe_id(f"teams-user:{teams_user_id}")


def _object_alias_id(aad_object_id: str) -> str:
    return safe_id(f"object:{aad_object_id.lower()}")


def _address_alias_id(address: str) -> str:
    return safe_id(f"address:{address.lower()}")
