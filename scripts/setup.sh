#!/usr/bin/env bash
# Creates .venv with the pinned Python packages and installs the Node test services.
# Usage: scripts/setup.sh [runtime|dev]   (dev adds the linters and test libraries)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-dev}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Send needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "$kind" = "dev" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
# The Cosmos DB server and the Agents Playground, exactly as locked in package-lock.json.
npm ci --no-audit --no-fund --loglevel=error
