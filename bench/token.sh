#!/usr/bin/env bash
# Benchmark: POST /oauth/token (client_credentials, ES256) against the release binary
# on SQLite (BACKEND=postgres: PostgreSQL), driven by wrk on this machine at 32 and
# 64 connections.
#
#   bash bench/token.sh                 # 20 s per run
#   DURATION=60s bash bench/token.sh
#
# Prints wrk's requests/s and latency percentiles per run, and the server's peak RSS.
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18080}"
# The flood below measures argon2's memory bound, not the brute-force throttle (which
# would answer it 429 after a few attempts).
export KEYGATE_AUTH_FAILURES_PER_MINUTE=1000000 KEYGATE_AUTH_FAILURES_PER_MINUTE_PER_SOURCE=1000000
. bench/server.sh
create_client
start_server
# One request first: the single argon2 verification is paid here, then cached.
curl -fs -o /dev/null -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials \
    "http://127.0.0.1:$PORT/oauth/token"

yardstick
for CONNECTIONS in 32 64; do
    echo "=== POST /oauth/token, $CONNECTIONS connections"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/token.lua \
        "http://127.0.0.1:$PORT/oauth/token" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
done
echo "server peak RSS after the valid-secret runs: $(peak_rss)"

# A wrong-secret flood: every request costs a full argon2id verification (~19 MiB,
# ~20 ms), so throughput is tiny by design; what matters is that memory stays flat
# (at most argon2_max_concurrency verifications at once) and nothing fails.
echo "=== wrong-secret flood, 64 connections, ${FLOOD_DURATION:-10s}"
KG_BASIC=$(printf '%s:%s' "$CLIENT_ID" "wrong-$CLIENT_SECRET" | base64 -w0) \
    wrk -t2 -c64 -d"${FLOOD_DURATION:-10s}" --timeout 30s --latency -s bench/token.lua \
    "http://127.0.0.1:$PORT/oauth/token" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
echo "server peak RSS after the flood: $(peak_rss)"
