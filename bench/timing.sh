#!/usr/bin/env bash
# Timing parity of client authentication: POST /oauth/token (client_credentials) with
# an unknown client id and with a registered client's id and a wrong secret must take
# the same time, or response times tell an attacker which client ids exist. Measured
# against the release binary, interleaved in one run on one server and one keep-alive
# connection (bench/timing.py), with the right secret (cached: no argon2) as a
# reference, a client in a secret-rotation overlap with a wrong secret, and a
# disabled client with a wrong secret.
#
#   bash bench/timing.sh                          # SQLite, 2,000 samples per kind
#   TIMING_SAMPLES=300 bash bench/timing.sh       # a quick check
#   BACKEND=postgres bash bench/timing.sh
#
# Prints per kind the median, p90, p99 and mean in ms, and against the unknown id the
# ratio of medians with a bootstrap 95 % interval and a Mann-Whitney U test. Exits
# non-zero if a request got another status than expected (401, or 200 for the right
# secret). Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18500}"
# The brute-force throttle would answer 429 after 10 failures per client id (30 per
# source address) a minute, before any argon2 work: this run measures the
# authentication itself, so the throttle is raised out of reach — for this server only.
export KEYGATE_AUTH_FAILURES_PER_MINUTE=1000000000 KEYGATE_AUTH_FAILURES_PER_MINUTE_PER_SOURCE=1000000000
. bench/server.sh

client_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])'; }
# The overlap and disabled clients first; create_client's last call leaves the known
# client in CLIENT_ID / CLIENT_SECRET.
create_client
OVERLAP_ID="$CLIENT_ID"
create_client
DISABLED_ID="$CLIENT_ID"
"$BIN" client disable "$DISABLED_ID" >/dev/null
create_client
ADMIN_KEY=$("$BIN" api-key create --name timing-admin --scope admin --scope read --scope write |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
start_server
URL="http://127.0.0.1:$PORT"

# Rotate the overlap client's secret with an hour's overlap: both secrets work now,
# and a wrong secret is checked against both.
curl -fs -o /dev/null -X POST -H "X-API-Key: $ADMIN_KEY" -H "Content-Type: application/json" \
    -d '{"overlap": "1h"}' "$URL/v1/clients/$OVERLAP_ID/rotate-secret"
# The right secret must work (and is cached from here on).
curl -fs -o /dev/null -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$URL/oauth/token"

echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $BACKEND, brute-force throttle raised for this run"
TIMING_URL="$URL" KG_KNOWN_ID="$CLIENT_ID" KG_KNOWN_SECRET="$CLIENT_SECRET" \
    KG_OVERLAP_ID="$OVERLAP_ID" KG_DISABLED_ID="$DISABLED_ID" python3 bench/timing.py
