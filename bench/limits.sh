#!/usr/bin/env bash
# Benchmark: the cost of rate limiting and usage metering on the API-key path.
# Two servers on one SQLite database — one with limits and metering on (a tier too
# generous to trip), one with both off — driven alternately with GET /v1/me
# (X-API-Key) at 32 connections, so both see the same machine in the same minutes.
# The servers are pinned to CPU 0 and wrk to CPU 1: unpinned, the same server swung
# between 58k and 100k requests/s from run to run depending on where the scheduler
# put the threads, which drowned the difference being measured.
#
#   bash bench/limits.sh
#   DURATION=20s ROUNDS=3 bash bench/limits.sh
#
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18300}"
OFF_PORT=$((PORT + 1))
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-10s}"
. bench/server.sh

cat > "$WORK/keygate.toml" <<TOML
[tiers.free]
requests_per_minute = 1000000000
burst = 1000000000
TOML
export KEYGATE_CONFIG="$WORK/keygate.toml"
API_KEY=$("$BIN" api-key create --name bench --scope read |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
# ON_ENV (e.g. "KEYGATE_USAGE_METERING=false") varies the measured server.
[ -n "${ON_ENV:-}" ] && export ${ON_ENV}
start_server
taskset -apc 0 "$SERVER_PID" >/dev/null
KEYGATE_BIND="127.0.0.1:$OFF_PORT" KEYGATE_RATE_LIMITS=false KEYGATE_USAGE_METERING=false \
    taskset -c 0 "$BIN" serve &
OFF_PID=$!
trap 'kill $OFF_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$OFF_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
# Both must answer 200, and only the first may carry RateLimit headers.
curl -fsi -H "X-API-Key: $API_KEY" "http://127.0.0.1:$PORT/v1/me" | grep -qi '^ratelimit-limit'
curl -fsi -H "X-API-Key: $API_KEY" "http://127.0.0.1:$OFF_PORT/v1/me" | grep -qvi '^ratelimit-limit'

echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, SQLite, ${DURATION} per run, $ROUNDS rounds"
measure() {
    taskset -c 1 wrk -t2 -c32 -d"$DURATION" --latency -H "X-API-Key: $API_KEY" \
        "http://127.0.0.1:$1/v1/me" |
        awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%s %s %s\n", rps, p99, bad+0}'
}
ON_TOTAL=0
OFF_TOTAL=0
for round in $(seq 1 "$ROUNDS"); do
    read -r OFF_RPS OFF_P99 OFF_BAD < <(measure "$OFF_PORT")
    read -r ON_RPS ON_P99 ON_BAD < <(measure "$PORT")
    echo "round $round: off $OFF_RPS req/s (p99 $OFF_P99, non-2xx $OFF_BAD) | on $ON_RPS req/s (p99 $ON_P99, non-2xx $ON_BAD)"
    ON_TOTAL=$(python3 -c "print($ON_TOTAL + $ON_RPS)")
    OFF_TOTAL=$(python3 -c "print($OFF_TOTAL + $OFF_RPS)")
done
python3 -c "print(f'limits + metering on / off: {$ON_TOTAL / $OFF_TOTAL:.3f}')"
