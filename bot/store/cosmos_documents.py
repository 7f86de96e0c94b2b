"""Azure Cosmos DB backend for the document port (async azure-cosmos client).

One container per kind of document, partitioned as `PARTITION_KEYS` says; the
database and containers are created on start when missing. Every replace is
conditional on the etag read, so a concurrent change is reported, never lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.cosmos import PartitionKey, exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy

from bot.store.documents import (
    LEGACY_DIRECTORY_KINDS,
    PARTITION_KEYS,
    AlreadyExists,
    Before,
    ConcurrentUpdate,
    Condition,
    Contains,
    Doc,
    Eq,
    IdIn,
    JsonDict,
    NotFound,
    StoreError,
    check_field,
)

_SYSTEM_FIELDS = ("_rid", "_self", "_etag", "_ts", "_attachments")
# @vercel/cosmosdb-server answers a point read of a missing document with a 500
# unless this header is present (then it answers 404 like Azure). Azure Cosmos DB
# ignores the header on point reads, so sending it costs nothing there.
_POINT_READ_HEADERS = {"x-ms-documentdb-query-enablecrosspartition": "true"}
# The longest `ttl` Cosmos DB takes (seconds, a 32-bit number: about 68 years).
MAX_TTL = 2**31 - 1
# `delete_where` reads this many keys per query, then deletes them this many at a time.
_DELETE_BATCH = 100
_DELETES_IN_FLIGHT = 10


class RequestMeter:
    """Counts Cosmos requests and their request units (for the benchmark and logs)."""

    def __init__(self) -> None:
        self.requests = 0
        self.request_charge = 0.0

    def __call__(self, headers: Mapping[str, str], _body: object) -> None:
        self.requests += 1
        self.request_charge += float(headers.get("x-ms-request-charge", 0) or 0)


class CosmosDocuments:
    def __init__(
        self,
        endpoint: str,
        key: str,
        database: str,
        *,
        verify_tls: bool = True,
        ttl_seconds: Mapping[str, int] | None = None,
    ) -> None:
        """`ttl_seconds`: kind -> how long its documents live after their last write. Each
        document written gets that `ttl` (unless its body has one), and Cosmos deletes it."""
        self._client = CosmosClient(endpoint, credential=key, connection_verify=verify_tls)
        self._ttl_seconds = dict(ttl_seconds or {})
        self._database_name = database
        self._database: DatabaseProxy | None = None
        self._containers: dict[str, ContainerProxy] = {}
        self.meter = RequestMeter()

    async def open(self) -> None:
        try:
            self._database = await self._client.create_database_if_not_exists(self._database_name)
            for kind, field in PARTITION_KEYS.items():
                # Time to live on, with no default (-1): only documents with their own `ttl`
                # expire (messages, de-duplication markers). deployment/main.bicep says the same
                # for containers it creates; an older container keeps its setting, and the
                # retention purge still deletes its old messages.
                self._containers[kind] = await self._database.create_container_if_not_exists(
                    id=kind,
                    partition_key=PartitionKey(path=f"/{field}"),
                    default_ttl=-1,
                )
            for legacy in LEGACY_DIRECTORY_KINDS:
                await self._move_into_directory(self._database, legacy)
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(
                f"cosmos: cannot open database {self._database_name}: {error}"
            ) from error

    async def _move_into_directory(self, database: DatabaseProxy, legacy: str) -> None:
        """Copies an earlier layout's container into "directory", then drops it.

        Upserts are idempotent, so a start interrupted half-way copies again next time.
        """
        old = database.get_container_client(legacy)
        try:
            await old.read()
        except exceptions.CosmosResourceNotFoundError:
            return
        directory = self._containers["directory"]
        async for item in old.query_items("SELECT * FROM c"):
            body = {k: v for k, v in item.items() if k not in _SYSTEM_FIELDS}
            await directory.upsert_item(body)
        await database.delete_container(legacy)

    async def close(self) -> None:
        await self._client.close()
        # TLS connections finish closing on the next loop iterations; without this pause
        # a loop that ends right away leaves their transports to the garbage collector.
        await asyncio.sleep(0.1)

    def _container(self, kind: str) -> ContainerProxy:
        try:
            return self._containers[kind]
        except KeyError:
            raise StoreError(f"cosmos: the store is not open ({kind})") from None

    async def ping(self) -> None:
        try:
            assert self._database is not None, "store not open"
            await self._database.read(response_hook=self.meter)
        except (exceptions.CosmosHttpResponseError, AzureError, AssertionError) as error:
            raise StoreError(f"cosmos: {error}") from error

    async def read(self, kind: str, partition: str, doc_id: str) -> Doc | None:
        try:
            item = await self._container(kind).read_item(
                doc_id,
                partition_key=partition,
                headers=_POINT_READ_HEADERS,
                response_hook=self.meter,
            )
        except exceptions.CosmosResourceNotFoundError:
            return None
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error
        return _doc(kind, item)

    async def create(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, *, flush: bool = True
    ) -> Doc:
        # Every Cosmos DB write is durable once acknowledged: `flush` changes nothing.
        try:
            item = await self._container(kind).create_item(
                self._encode(kind, partition, doc_id, body), response_hook=self.meter
            )
        except exceptions.CosmosResourceExistsError:
            raise AlreadyExists(f"{kind}/{doc_id} exists") from None
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error
        return _doc(kind, item)

    async def replace(
        self, kind: str, partition: str, doc_id: str, body: JsonDict, etag: str
    ) -> Doc:
        try:
            item = await self._container(kind).replace_item(
                doc_id,
                self._encode(kind, partition, doc_id, body),
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                response_hook=self.meter,
            )
        except exceptions.CosmosAccessConditionFailedError:
            raise ConcurrentUpdate(f"{kind}/{doc_id} changed since it was read") from None
        except exceptions.CosmosResourceNotFoundError:
            raise NotFound(f"{kind}/{doc_id} not found") from None
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error
        return _doc(kind, item)

    async def upsert(self, kind: str, partition: str, doc_id: str, body: JsonDict) -> Doc:
        try:
            item = await self._container(kind).upsert_item(
                self._encode(kind, partition, doc_id, body), response_hook=self.meter
            )
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error
        return _doc(kind, item)

    async def delete(self, kind: str, partition: str, doc_id: str) -> bool:
        try:
            await self._container(kind).delete_item(
                doc_id, partition_key=partition, response_hook=self.meter
            )
        except exceptions.CosmosResourceNotFoundError:
            return False
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error
        return True

    async def query(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> list[Doc]:
        found = _where(kind, partition, where)
        if found is None:
            return []
        clause, parameters = found
        try:
            pages = self._query(kind, partition, f"SELECT * FROM c{clause}", parameters)
            return [_doc(kind, item) async for item in pages]
        except (exceptions.CosmosHttpResponseError, AzureError) as error:
            raise StoreError(f"cosmos: {error}") from error

    async def delete_where(
        self, kind: str, partition: str | None, where: Sequence[Condition]
    ) -> int:
        found = _where(kind, partition, where)
        if found is None:
            return 0
        clause, parameters = found
        field = PARTITION_KEYS[kind]
        sql = f"SELECT c.id, c.{field} FROM c{clause}"
        slots = asyncio.Semaphore(_DELETES_IN_FLIGHT)

        async def delete(doc_id: str, key: str) -> bool:
            async with slots:
                return await self.delete(kind, key, doc_id)

        deleted = 0
        while True:
            # A fresh query each round, stopped after a batch: deleting while paging on
            # could make a server skip what moved into pages already read.
            keys: list[tuple[str, str]] = []
            try:
                async for item in self._query(kind, partition, sql, parameters):
                    keys.append((str(item["id"]), str(item[field])))
                    if len(keys) == _DELETE_BATCH:
                        break
            except (exceptions.CosmosHttpResponseError, AzureError) as error:
                raise StoreError(f"cosmos: {error}") from error
            outcomes = await asyncio.gather(
                *(delete(doc_id, key) for doc_id, key in keys), return_exceptions=True
            )
            done = 0
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome  # after every delete has finished: none is left running
                done += outcome
            deleted += done
            if len(keys) < _DELETE_BATCH or not done:
                return deleted

    def _query(
        self, kind: str, partition: str | None, sql: str, parameters: list[dict[str, Any]]
    ) -> AsyncIterable[JsonDict]:
        container = self._container(kind)
        if partition is None:
            return container.query_items(sql, parameters=parameters, response_hook=self.meter)
        return container.query_items(
            sql, parameters=parameters, partition_key=partition, response_hook=self.meter
        )

    def _encode(self, kind: str, partition: str, doc_id: str, body: JsonDict) -> JsonDict:
        item = {**body, "id": doc_id, PARTITION_KEYS[kind]: partition}
        if kind in self._ttl_seconds:
            item.setdefault("ttl", self._ttl_seconds[kind])
        return item


def _where(
    kind: str, partition: str | None, where: Sequence[Condition]
) -> tuple[str, list[dict[str, Any]]] | None:
    """` WHERE ...` (or "") and its parameters; None when nothing can match (an empty IdIn)."""
    clauses: list[str] = []
    parameters: list[dict[str, Any]] = []
    if partition is not None:
        # Also filter on the partition field itself: cosmosdb-server ignores the
        # partition key of a query, and Azure answers this filter from the index.
        clauses.append(f"c.{PARTITION_KEYS[kind]} = @partition")
        parameters.append({"name": "@partition", "value": partition})
    for n, condition in enumerate(where):
        name = f"@p{n}"
        if isinstance(condition, Eq):
            clauses.append(f"c.{check_field(condition.field)} = {name}")
            parameters.append({"name": name, "value": condition.value})
        elif isinstance(condition, Contains):
            clauses.append(f"ARRAY_CONTAINS(c.{check_field(condition.field)}, {name})")
            parameters.append({"name": name, "value": condition.value})
        elif isinstance(condition, IdIn):
            if not condition.ids:
                return None
            clauses.append(f"ARRAY_CONTAINS({name}, c.id)")
            parameters.append({"name": name, "value": list(condition.ids)})
        elif isinstance(condition, Before):
            # Cosmos compares a string only with a string: anything else is left out.
            clauses.append(f"c.{check_field(condition.field)} < {name}")
            parameters.append({"name": name, "value": condition.value})
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters


def _doc(kind: str, item: JsonDict) -> Doc:
    etag = str(item.get("_etag", ""))
    body = {k: v for k, v in item.items() if k not in _SYSTEM_FIELDS}
    return Doc(id=str(body["id"]), partition=str(body[PARTITION_KEYS[kind]]), body=body, etag=etag)
