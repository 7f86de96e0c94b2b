"""The document port's contract (tests/contracts) on SQLite and Cosmos DB (cosmosdb-server),
through the `documents` fixture of tests/conftest.py."""

import pytest

from tests.contracts.documents_contract import *  # noqa: F403

pytestmark = pytest.mark.both_stores
