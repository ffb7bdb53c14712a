#!/usr/bin/env bash
# Benchmark: POST /oauth/token with grant_type=refresh_token against the release
# binary, each wrk connection walking its own chain of refresh tokens (every request
# spends one token and receives the next), at 32 and 64 connections.
#
#   bash bench/refresh.sh                          # SQLite
#   BACKEND=postgres bash bench/refresh.sh         # a fresh database on 127.0.0.1:5432
#   DURATION=60s bash bench/refresh.sh
#
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/keygate-target}"
DURATION="${DURATION:-20s}"
PORT="${PORT:-18090}"
BACKEND="${BACKEND:-sqlite}"
POSTGRES_ADMIN_URL="${POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/keygate"

WORK=$(mktemp -d)
SERVER_PID=""
DB_NAME=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ -n "$DB_NAME" ] && psql "$POSTGRES_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
    DB_NAME="kg_bench_$$"
    psql "$POSTGRES_ADMIN_URL" -qc "CREATE DATABASE $DB_NAME"
    export KEYGATE_DATABASE_URL="${POSTGRES_ADMIN_URL%/*}/$DB_NAME"
else
    export KEYGATE_DATABASE_URL="sqlite://$WORK/keygate.db"
fi
export KEYGATE_KEYS_DIR="$WORK/keys"
export KEYGATE_BIND="127.0.0.1:$PORT"
export KEYGATE_LOG=warn

CREATED=$("$BIN" client create --name bench --scope "read write" \
    --grant-type client_credentials --grant-type refresh_token)
CLIENT_ID=$(echo "$CREATED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
CLIENT_SECRET=$(echo "$CREATED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
export KG_BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)

"$BIN" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $BACKEND, ES256, ${DURATION} per run"
echo "=== reference: GET /healthz, 32 connections"
wrk -t2 -c32 -d"$DURATION" "http://127.0.0.1:$PORT/healthz" | grep -E "Requests/sec"
for CONNECTIONS in 32 64; do
    # One fresh family per connection: client_credentials returns its first token.
    export KG_TOKENS_FILE="$WORK/tokens-$CONNECTIONS"
    for _ in $(seq 1 "$CONNECTIONS"); do
        curl -fs -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials \
            "http://127.0.0.1:$PORT/oauth/token" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])'
    done > "$KG_TOKENS_FILE"
    echo "=== refresh_token grant, $CONNECTIONS connections (one chain each)"
    wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/refresh.lua \
        "http://127.0.0.1:$PORT/oauth/token" |
        grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors|broken chains"
done
echo "server peak RSS: $(grep VmHWM /proc/$SERVER_PID/status | awk '{printf "%.1f MB", $2/1024}')"
