#!/usr/bin/env bash
# Creates .venv with the locked Python packages and installs the Node test services.
# Usage: scripts/setup.sh [runtime|dev]   (dev adds the linters and test libraries)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-dev}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Send needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
requirements=requirements.txt
if [ "$kind" = "dev" ]; then
  requirements=requirements-dev.txt
fi
# uv installs the locked set in seconds where pip takes half a minute.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
# The Python packages and the Node services at once: each mostly waits on the network.
# Byte-compiled at install, as pip does: a few dependencies have SyntaxWarnings that the
# tests (warnings are errors) would otherwise meet when Python compiles them on import.
.venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -r "$requirements" &
python_packages=$!
# Debian's Chromium, for the test that looks at the Agents Playground in a real browser
# (Playwright drives it; it never downloads a browser of its own). Only where it can be
# installed: as root, with apt. Elsewhere that test says it needs Chromium.
browser=""
if [ "$kind" = "dev" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    {
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
    } &
    browser=$!
  else
    echo "Chromium is not installed: install Debian's chromium for the browser test." >&2
  fi
fi
# The Cosmos DB server, the Agents Playground and Azurite, exactly as locked in package-lock.json.
npm ci --no-audit --no-fund --loglevel=error
wait "$python_packages"
if [ -n "$browser" ]; then
  wait "$browser"
fi
