# Shared set-up for the benchmark scripts (sourced, not run): builds the release
# binary, gives it a scratch database (SQLite, or a fresh PostgreSQL database with
# BACKEND=postgres) and keys directory, registers a client, starts `keygate serve` on
# loopback, and cleans everything up on exit.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/keygate-target}"
DURATION="${DURATION:-20s}"
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

# create_client [extra `client create` flags…]: sets CLIENT_ID, CLIENT_SECRET and
# KG_BASIC (base64 "id:secret", read by the wrk scripts).
create_client() {
    local created
    created=$("$BIN" client create --name bench --scope "read write" "$@")
    CLIENT_ID=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    CLIENT_SECRET=$(echo "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    export KG_BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)
}

start_server() {
    "$BIN" serve &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
}

# The machine is shared and its speed varies from run to run: a bare handler in the
# same process, measured in the same run, is the yardstick for the other figures.
yardstick() {
    echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $BACKEND, ES256, ${DURATION} per run"
    echo "=== reference: GET /healthz, 32 connections"
    wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz" | grep -E "Requests/sec|50%|99%"
}

peak_rss() { grep VmHWM "/proc/$SERVER_PID/status" | awk '{printf "%.1f MB", $2/1024}'; }
