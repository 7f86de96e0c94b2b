#!/usr/bin/env bash
# Locks the Python packages: pyproject.toml names what Send imports (and, in the `dev`
# extra, the tools); requirements.txt and requirements-dev.txt pin those and everything
# they need. Versions already locked stay unless named: scripts/lock.sh --upgrade-package aiohttp
set -euo pipefail
cd "$(dirname "$0")/.."
lock() {  # lock <file> <first header line> <second header line> [uv pip compile options]
  local file="$1" first="$2" second="$3"
  shift 3
  .venv/bin/uv pip compile pyproject.toml --python-version 3.11 --quiet --no-header \
    -o "$file" "$@"
  { echo "# $first"; echo "# $second"; cat "$file"; } > "$file.new"
  mv "$file.new" "$file"
}
lock requirements.txt \
  "Send's runtime packages, locked: what pyproject.toml's \`dependencies\` name" \
  "(\"send (pyproject.toml)\" below) and everything they need. Made by scripts/lock.sh." "$@"
lock requirements-dev.txt \
  "requirements.txt plus the tools and test libraries (pyproject.toml's \`dev\` extra)," \
  "locked. Made by scripts/lock.sh." --extra dev -c requirements.txt "$@"
