#!/usr/bin/env bash
# Sets up and runs Send locally on the embedded store, with the Microsoft 365 Agents
# Playground (an emulated Teams) to chat with it in a browser. Ctrl+C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh runtime
export PORT="${PORT:-3978}" HOST="${HOST:-127.0.0.1}" DATA_DIR="${DATA_DIR:-./data}"
playground_port="${PLAYGROUND_PORT:-56150}"
mkdir -p "$DATA_DIR"

.venv/bin/python app.py &
bot=$!
# The Playground writes its own log into its working folder: keep it under DATA_DIR.
(cd "$DATA_DIR" && TEAMSAPPTESTER_BROWSER=none exec "$OLDPWD/node_modules/.bin/agentsplayground" \
  -e "http://$HOST:$PORT/api/messages" -c msteams -p "$playground_port" --disable-telemetry \
  > playground.log 2>&1) &
playground=$!
trap 'kill -INT $playground 2>/dev/null; kill -TERM $bot 2>/dev/null; wait' INT TERM EXIT

for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request as u; u.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null \
    && grep -q "Listening on" "$DATA_DIR/playground.log" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
actual_port=$(sed -n 's/.*Listening on \([0-9]*\).*/\1/p' "$DATA_DIR/playground.log" | head -n 1)
echo
echo "Send is running on http://$HOST:$PORT (store: $DATA_DIR/send.sqlite3)."
echo "Open http://localhost:${actual_port:-$playground_port} to chat with it as Alex Wilber. Ctrl+C stops both."
wait $bot
