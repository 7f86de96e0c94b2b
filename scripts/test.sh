#!/usr/bin/env bash
# Sets everything up, then runs every check CI runs: lint, format, types, and the tests
# (which start the local Cosmos DB server and the Agents Playground themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python packages first; the linters and mypy (half a minute from cold) then run
# while npm installs the services the tests start.
scripts/setup.sh dev python
scripts/setup.sh dev services > .venv/services-setup.log 2>&1 &
services=$!
# Compiled modules are kept between the test workers and the app processes tests start
# (some machines set PYTHONDONTWRITEBYTECODE, which makes each of them compile everything).
unset PYTHONDONTWRITEBYTECODE
lint=0
{
  echo "== ruff check" && .venv/bin/ruff check . \
    && echo "== ruff format --check" && .venv/bin/ruff format --check . \
    && echo "== mypy --strict" && .venv/bin/mypy
} || lint=$?
echo "== services (npm ci, Chromium, notmuch)"
setup=0
wait "$services" || setup=$?
cat .venv/services-setup.log
if [ "$setup" != 0 ] || [ "$lint" != 0 ]; then
  exit 1
fi
# Four workers on two cores: much of an end-to-end test is waiting on sockets and pacing.
# Workers take tests from each other when they run out, so a long test started late
# does not hold the run up (the slow ones are started first).
echo "== pytest"; .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-4}" --dist worksteal "$@"
