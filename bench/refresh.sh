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
PORT="${PORT:-18090}"
. bench/server.sh
create_client --grant-type client_credentials --grant-type refresh_token
start_server
yardstick
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
echo "server peak RSS: $(peak_rss)"
