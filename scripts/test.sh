#!/usr/bin/env bash
# Sets everything up, then runs every check CI runs: lint, format, types, and the tests
# (which start the local Cosmos DB server and the Agents Playground themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
# Compiled modules are kept between the test workers and the app processes tests start
# (some machines set PYTHONDONTWRITEBYTECODE, which makes each of them compile everything).
unset PYTHONDONTWRITEBYTECODE
echo "== ruff check"; .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy --strict"; .venv/bin/mypy
# Four workers on two cores: much of an end-to-end test is waiting on sockets and pacing.
# Workers take tests from each other when they run out, so a long test started late
# does not hold the run up (the slow ones are started first).
echo "== pytest"; .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-4}" --dist worksteal "$@"
