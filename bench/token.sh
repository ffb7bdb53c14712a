#!/usr/bin/env bash
# Benchmark: POST /oauth/token (client_credentials, ES256) against the release binary
# on SQLite, driven by wrk on this machine at 32 and 64 connections.
#
#   bash bench/token.sh                 # 20 s per run
#   DURATION=60s bash bench/token.sh
#
# Prints wrk's requests/s and latency percentiles per run, and the server's peak RSS.
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/keygate-target}"
DURATION="${DURATION:-20s}"
PORT="${PORT:-18080}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/keygate"

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

export KEYGATE_DATABASE_URL="sqlite://$WORK/keygate.db"
export KEYGATE_KEYS_DIR="$WORK/keys"
export KEYGATE_BIND="127.0.0.1:$PORT"
export KEYGATE_LOG=warn

CREATED=$("$BIN" client create --name bench --scope "read write")
CLIENT_ID=$(echo "$CREATED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
CLIENT_SECRET=$(echo "$CREATED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
export KG_BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)

"$BIN" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
# One request first: the single argon2 verification is paid here, then cached.
curl -fs -o /dev/null -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials \
    "http://127.0.0.1:$PORT/oauth/token"

echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, SQLite, ES256, ${DURATION} per run"
# The machine is shared and its speed varies from run to run: a bare handler in the
# same process, measured in the same run, is the yardstick for the token figures.
echo "=== reference: GET /healthz, 32 connections"
wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz" | grep -E "Requests/sec|50%|99%"
for CONNECTIONS in 32 64; do
    echo "=== POST /oauth/token, $CONNECTIONS connections"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/token.lua \
        "http://127.0.0.1:$PORT/oauth/token" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
done
peak_rss() { grep VmHWM "/proc/$SERVER_PID/status" | awk '{printf "%.1f MB", $2/1024}'; }
echo "server peak RSS after the valid-secret runs: $(peak_rss)"

# A wrong-secret flood: every request costs a full argon2id verification (~19 MiB,
# ~20 ms), so throughput is tiny by design; what matters is that memory stays flat
# (at most argon2_max_concurrency verifications at once) and nothing fails.
echo "=== wrong-secret flood, 64 connections, ${FLOOD_DURATION:-10s}"
KG_BASIC=$(printf '%s:%s' "$CLIENT_ID" "wrong-$CLIENT_SECRET" | base64 -w0) \
    wrk -t2 -c64 -d"${FLOOD_DURATION:-10s}" --timeout 30s --latency -s bench/token.lua \
    "http://127.0.0.1:$PORT/oauth/token" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
echo "server peak RSS after the flood: $(peak_rss)"
