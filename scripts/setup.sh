#!/usr/bin/env bash
# Creates .venv with the locked Python packages and installs the Node test services.
# Usage: scripts/setup.sh [runtime|dev] [all|python|services]
#   dev adds the linters and test libraries; `python` sets up .venv only, `services` the
#   rest (Node services, and for dev Debian's Chromium and notmuch), so that the test
#   command can lint while the services install. Default: all.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-dev}"
part="${2:-all}"
case "$part" in
  all | python | services) ;;
  *) echo "usage: scripts/setup.sh [runtime|dev] [all|python|services]" >&2; exit 2 ;;
esac
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Send needs Python 3.11 or newer")'
python_packages=""
if [ "$part" != services ]; then
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
fi
if [ "$part" = python ]; then
  wait "$python_packages"
  exit 0
fi
# Debian's Chromium, for the test that looks at the Agents Playground in a real browser
# (Playwright drives it; it never downloads a browser of its own), and Debian's notmuch,
# the mail indexer the tests ask whether Send's .eml files thread as a mail client would.
# Both in one apt run, so CI pays for it once. Only where they can be installed: as root,
# with apt. Elsewhere those tests say what they need.
browser=""
if [ "$kind" = "dev" ] && ! { command -v chromium && command -v notmuch; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    {
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq chromium notmuch >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq chromium notmuch >/dev/null; }
    } &
    browser=$!
  else
    echo "Chromium or notmuch is missing: install Debian's chromium and notmuch for the tests." >&2
  fi
fi
# The Cosmos DB server, the Agents Playground and Azurite, exactly as locked in package-lock.json.
npm ci --no-audit --no-fund --loglevel=error
if [ -n "$python_packages" ]; then
  wait "$python_packages"
fi
if [ -n "$browser" ]; then
  wait "$browser"
fi
