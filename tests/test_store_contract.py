"""The Store port's contract (tests/contracts) on SQLite and Cosmos DB, through the `store`
fixture of tests/conftest.py."""

import pytest

from tests.contracts.store_contract import *  # noqa: F403

pytestmark = pytest.mark.both_stores
