"""The instance registry's contract on SQLite and Cosmos DB (cosmosdb-server)."""

from tests.contracts.instances_contract import *  # noqa: F403
