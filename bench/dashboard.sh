#!/usr/bin/env bash
# Benchmark: the people side under load, against the release binary (SQLite; with
# BACKEND=postgres a fresh PostgreSQL database).
#
#   bash bench/dashboard.sh
#   DURATION=20s KEYS=10000 bash bench/dashboard.sh
#
# 1. A wrong-password flood on POST /sign-in at 64 connections — every attempt a full
#    argon2id verification (the brute-force throttle is raised out of the way, as a
#    flood from many addresses on many accounts would get past it) — while a cached
#    client asks POST /oauth/token at 32 connections: its throughput during the flood
#    against its throughput alone, measured in the same run, and the server's peak RSS.
# 2. The dashboard's pages with $KEYS keys in the organization: p95 latency of the
#    keys page (first page and one deep in the table), one key's page and the overview,
#    at 8 connections on loopback (an upper bound of the server's time).
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18200}"
KEYS="${KEYS:-10000}"
export KEYGATE_AUTH_FAILURES_PER_MINUTE=1000000000 KEYGATE_AUTH_FAILURES_PER_MINUTE_PER_SOURCE=1000000000
. bench/server.sh
cat > "$WORK/keygate.toml" <<TOML
[tiers.free]
requests_per_minute = 1000000000
burst = 1000000000
TOML
export KEYGATE_CONFIG="$WORK/keygate.toml"
export KEYGATE_ISSUER="http://127.0.0.1:$PORT"
BASE="http://127.0.0.1:$PORT"
create_client
ADMIN_KEY=$("$BIN" api-key create --name bench-admin --scope "read write admin" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
SETUP=$("$BIN" user create --email owner@bench.example --org default --role owner |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["setup_url"].split("#",1)[1])')
PASSWORD="bench password that is long enough"
start_server
curl -fs -o /dev/null -H "Origin: $BASE" --data-urlencode "token=$SETUP" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "confirm=$PASSWORD" "$BASE/setup"
# The cached client: its one argon2 verification is paid here.
curl -fs -o /dev/null -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials "$BASE/oauth/token"

yardstick
echo "=== 1. client_credentials alone, 32 connections"
wrk -t1 -c32 -d"$DURATION" --latency -s bench/token.lua "$BASE/oauth/token" |
    tee "$WORK/alone" | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
echo "=== 1. the same during a wrong-password flood on /sign-in (64 connections)"
SIGN_IN_EMAIL=owner@bench.example ORIGIN="$BASE" \
    wrk -t1 -c64 -d"$(( ${DURATION%s} + 4 ))s" --timeout 30s -s bench/sign_in.lua "$BASE/sign-in" \
    > "$WORK/flood" &
FLOOD=$!
sleep 2
wrk -t1 -c32 -d"$DURATION" --latency -s bench/token.lua "$BASE/oauth/token" |
    tee "$WORK/loaded" | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
wait "$FLOOD"
echo "--- the flood itself:"
grep -E "Requests/sec|Latency|Non-2xx|Socket errors" "$WORK/flood"
python3 - "$WORK/alone" "$WORK/loaded" <<'PY'
import re, sys
rate = lambda f: float(re.search(r"Requests/sec:\s+([\d.]+)", open(f).read()).group(1))
alone, loaded = rate(sys.argv[1]), rate(sys.argv[2])
print(f"client_credentials during the flood: {loaded / alone:.2f}x of alone ({loaded:.0f} vs {alone:.0f} req/s)")
PY
echo "server peak RSS after the flood: $(peak_rss)"

echo "=== 2. creating $KEYS keys"
DEEP=$(python3 - "$BASE" "$ADMIN_KEY" "$KEYS" <<'PY'
import http.client, json, sys, urllib.parse
base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
for i in range(n):
    body = json.dumps({"name": f"bench key {i}", "scopes": ["read"], "expires_in": f"{1 + i % 30}d"})
    conn.request("POST", "/v1/api-keys", body, {"X-API-Key": key, "Content-Type": "application/json"})
    r = conn.getresponse(); created = r.read()
    assert r.status == 201, (r.status, i)
    if i == n // 2:
        middle = json.loads(created)["id"]
print(middle)  # a key half-way down the table
PY
)
COOKIE=$(curl -fs -o /dev/null -D - -H "Origin: $BASE" --data-urlencode "email=owner@bench.example" \
    --data-urlencode "password=$PASSWORD" "$BASE/sign-in" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "sign-in failed"; exit 1; }
for PAGE in "/dashboard/keys" "/dashboard/keys?after=$DEEP" "/dashboard/keys/$DEEP" "/dashboard" "/dashboard?range=7d"; do
    echo "=== 2. GET $PAGE, 8 connections, $KEYS keys"
    wrk -t1 -c8 -d"$DURATION" --latency -s bench/p95.lua -H "Cookie: $COOKIE" "$BASE$PAGE" |
        grep -E "Requests/sec|50%|99%|p95|Non-2xx|Socket errors"
done
echo "server peak RSS at the end: $(peak_rss)"
