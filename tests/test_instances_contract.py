"""The instance registry's contract on SQLite and Cosmos DB (cosmosdb-server)."""

import pytest

from tests.contracts.instances_contract import *  # noqa: F403

pytestmark = pytest.mark.both_stores
