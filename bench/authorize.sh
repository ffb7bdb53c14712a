#!/usr/bin/env bash
# Benchmark: the authorization code grant with PKCE against the release binary, on
# SQLite (BACKEND=postgres: a fresh PostgreSQL database), driven by wrk on this
# machine, one connection per wrk thread.
#
#   bash bench/authorize.sh                    # SQLite, DURATION=20s
#   BACKEND=postgres bash bench/authorize.sh   # a fresh database on 127.0.0.1:5432
#   DURATION=30s bash bench/authorize.sh
#
# Setup through the CLI and HTTP only: a public client (token_endpoint_auth_method
# none, authorization_code + refresh_token, a loopback redirect URI), a person whose
# password is set through their setup link, a session cookie from POST /sign-in, and
# one consent given on the consent page (Allow, with its CSRF token), so that later
# authorizations are remembered and answered 303 with a code at once. Then, at 32
# connections:
#   1. the yardsticks: GET /healthz, and client_credentials (as bench/token.sh);
#   2. full flows for DURATION: GET /oauth/authorize with the cookie (303, a code),
#      then POST /oauth/token exchanging it (grant_type=authorization_code,
#      client_id, code, redirect_uri, code_verifier), chained per connection —
#      flows/s and p50/p99 of a whole flow;
#   3. codes minted (the authorize request alone) for DURATION (at most 30 s), then
#      the token endpoint alone spending them for half that (codes live 60 s) —
#      exchanges/s and p99.
# Prints the server's peak RSS. Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18300}"
CONNECTIONS=32
# shellcheck source=bench/server.sh
. bench/server.sh
export KEYGATE_ISSUER="http://127.0.0.1:$PORT"
BASE="http://127.0.0.1:$PORT"

seconds=${DURATION%s}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "DURATION must be whole seconds, e.g. 20s" >&2; exit 2; }
MINT_SECONDS=$(( seconds < 30 ? seconds : 30 ))
EXCHANGE_SECONDS="${EXCHANGE_SECONDS:-$(( (MINT_SECONDS + 1) / 2 ))}"
(( MINT_SECONDS + EXCHANGE_SECONDS <= 50 )) ||
    { echo "EXCHANGE_SECONDS: minting and exchanging must fit in the codes' 60 s" >&2; exit 2; }

REDIRECT_URI="http://127.0.0.1:53682/callback"   # any port of the registered loopback URI
VERIFIER=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
CHALLENGE=$(python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$VERIFIER")

# The yardstick's confidential client (server.sh's helper) and the public app.
# shellcheck disable=SC2119 # create_client takes `client create` flags, none here
create_client
PUBLIC_ID=$("$BIN" client create --name "bench CLI" --scope "read write" \
    --grant-type authorization_code --grant-type refresh_token \
    --redirect-uri "http://127.0.0.1/callback" --token-endpoint-auth-method none |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
SETUP=$("$BIN" user create --email ada@bench.example --org default --role developer |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["setup_url"].split("#",1)[1])')
PASSWORD="bench password that is long enough"
start_server

curl -fs -o /dev/null -H "Origin: $BASE" --data-urlencode "token=$SETUP" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "confirm=$PASSWORD" "$BASE/setup"
COOKIE=$(curl -fs -o /dev/null -D - -H "Origin: $BASE" --data-urlencode "email=ada@bench.example" \
    --data-urlencode "password=$PASSWORD" "$BASE/sign-in" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "sign-in failed" >&2; exit 1; }

# The authorization request (the same for every flow; `state` included, as an app sends).
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.urlencode([tuple(a.split("=", 1)) for a in sys.argv[1:]]))' "$@"; }
QUERY=$(urlencode response_type=code "client_id=$PUBLIC_ID" "redirect_uri=$REDIRECT_URI" scope=read \
    state=bench "code_challenge=$CHALLENGE" code_challenge_method=S256)
# The consent, given once on the consent page.
CSRF=$(curl -fs -H "Cookie: $COOKIE" "$BASE/oauth/authorize?$QUERY" |
    sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
[ -n "$CSRF" ] || { echo "no consent page" >&2; exit 1; }
ALLOWED=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $BASE" -H "Cookie: $COOKIE" \
    -d "$QUERY&$(urlencode "csrf=$CSRF" decision=allow)" "$BASE/oauth/authorize")
[ "$ALLOWED" = 303 ] || { echo "the consent was not given ($ALLOWED)" >&2; exit 1; }

export KG_COOKIE="$COOKIE" KG_AUTHORIZE="/oauth/authorize?$QUERY" KG_CODES_DIR="$WORK"
KG_EXCHANGE=$(urlencode grant_type=authorization_code "client_id=$PUBLIC_ID" \
    "redirect_uri=$REDIRECT_URI" "code_verifier=$VERIFIER")
export KG_EXCHANGE="$KG_EXCHANGE&code="
# One flow by hand first: remembered consent → 303 with a code → tokens.
LOCATION=$(curl -fs -o /dev/null -w '%{redirect_url}' -H "Cookie: $COOKIE" "$BASE$KG_AUTHORIZE")
CODE=$(printf '%s' "$LOCATION" | sed -n 's/.*[?&]code=\(kgac_[A-Za-z0-9_-]*\).*/\1/p')
[ -n "$CODE" ] || { echo "no code in the redirect: $LOCATION" >&2; exit 1; }
TOKENS=$(curl -fs -d "$KG_EXCHANGE$CODE" "$BASE/oauth/token")
[[ "$TOKENS" == *'"access_token"'* ]] || { echo "the code exchange failed: $TOKENS" >&2; exit 1; }
# The yardstick client's one argon2 verification is paid here, then cached.
curl -fs -o /dev/null -H "Authorization: Basic $KG_BASIC" -d grant_type=client_credentials "$BASE/oauth/token"

yardstick
echo "=== client_credentials (bench/token.sh's request), $CONNECTIONS connections"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/token.lua "$BASE/oauth/token" |
    grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors"

echo "=== full flows (authorize 303 + code exchange), $CONNECTIONS connections, $DURATION"
KG_MODE=flow wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"$DURATION" -s bench/authorize.lua "$BASE/" |
    grep -E "^flows|^flow latency|failure|Socket errors"

echo "=== authorize alone (minting codes), $CONNECTIONS connections, ${MINT_SECONDS}s"
KG_MODE=mint wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${MINT_SECONDS}s" --latency -s bench/authorize.lua "$BASE/" |
    grep -E "Requests/sec|^ +50%|^ +99%|^codes|failure|Socket errors"
echo "codes on file: $(cat "$WORK"/codes-* | wc -l)"

echo "=== code exchanges alone, $CONNECTIONS connections, ${EXCHANGE_SECONDS}s"
KG_MODE=exchange wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${EXCHANGE_SECONDS}s" --latency -s bench/authorize.lua "$BASE/" |
    grep -E "Requests/sec|^ +50%|^ +99%|^code exchanges|WARNING|failure|Socket errors"
echo "server peak RSS: $(peak_rss)"
