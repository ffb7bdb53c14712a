#!/usr/bin/env bash
# Benchmark: the identity resolver — GET /v1/me with an API key (X-API-Key) and with a
# Bearer JWT access token, against the release binary at 32 and 64 connections.
#
#   bash bench/me.sh                       # SQLite
#   BACKEND=postgres bash bench/me.sh      # a fresh database on 127.0.0.1:5432
#   DURATION=60s bash bench/me.sh
#
# Every API-key request reads the key's row (revocation is immediate); every JWT
# request verifies an ES256 signature and looks up its jti among revoked tokens.
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18100}"
. bench/server.sh
# Rate limits and metering stay on, with a tier too generous to trip: the figures
# are of the resolver with its per-request bookkeeping, not of 429s.
cat > "$WORK/keygate.toml" <<TOML
[tiers.free]
requests_per_minute = 1000000000
burst = 1000000000
TOML
export KEYGATE_CONFIG="$WORK/keygate.toml"
# Access tokens for keygate's own API carry its management audience.
create_client --audience "${KEYGATE_ISSUER:-http://127.0.0.1:8080}/v1"
API_KEY=$("$BIN" api-key create --name bench --scope read |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
start_server
JWT=$(curl -fs -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials \
    "http://127.0.0.1:$PORT/oauth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Both credentials must resolve, or the figures below would be of 401s.
curl -fs -o /dev/null -H "X-API-Key: $API_KEY" "http://127.0.0.1:$PORT/v1/me"
curl -fs -o /dev/null -H "Authorization: Bearer $JWT" "http://127.0.0.1:$PORT/v1/me"

yardstick
for CONNECTIONS in 32 64; do
    echo "=== GET /v1/me, X-API-Key, $CONNECTIONS connections"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "X-API-Key: $API_KEY" \
        "http://127.0.0.1:$PORT/v1/me" | grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors"
    echo "=== GET /v1/me, Bearer JWT, $CONNECTIONS connections"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $JWT" \
        "http://127.0.0.1:$PORT/v1/me" | grep -E "Requests/sec|50%|90%|99%|Non-2xx|Socket errors"
done
echo "server peak RSS: $(peak_rss)"
