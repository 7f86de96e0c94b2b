"""The instance registry's contract on the in-memory store."""

from tests.contracts.instances_contract import *  # noqa: F403
