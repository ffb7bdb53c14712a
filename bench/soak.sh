#!/usr/bin/env bash
# Soak: one wrk run drives a mix of keygate requests against the release binary for
# SOAK_DURATION (default 10 minutes) — client_credentials, refresh-token chains with
# revocations, introspection, GET /v1/me with an API key and with a JWT access token
# (revoked and replaced every KG_JWT_USES uses) — and checks that every response is
# the expected success and that the server's memory stays flat.
#
#   bash bench/soak.sh                                  # SQLite, 10 minutes
#   BACKEND=postgres bash bench/soak.sh                 # a fresh database on 127.0.0.1:5432
#   SOAK_DURATION=30s bash bench/soak.sh                # a quick check
#   SOAK_CONNS="cc=4,refresh=12,api_key=4,jwt=4" bash bench/soak.sh   # the mix (wrk connections per role)
#
# Each wrk thread drives one connection through its role's state machine (see
# bench/soak.lua); no request in the mix is an expected failure, so any non-2xx
# response, any 2xx without what the step needs, and any socket error or timeout
# (SOAK_TIMEOUT, default 5s) counts as an unexpected error.
#
# The server's RSS (VmRSS) is sampled every 30 s, and as "start" after a warm-up of
# 10 s, "middle" at half time and "end" when the load stops; the samples, wrk's output
# and the server's log (KEYGATE_LOG=warn) go to SOAK_LOG_DIR (default a new
# /tmp/keygate-soak-* directory, kept). A `GET /healthz` yardstick run (DURATION,
# default 10s) comes first as in the other scripts; SOAK_YARDSTICK=0 skips it.
#
# Exit status: 0 when there were no unexpected errors, the server is still healthy
# and RSS grew by at most SOAK_RSS_TOLERANCE_MB (default 16) from the middle sample to
# the end; 1 otherwise. Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18400}"
SOAK_DURATION="${SOAK_DURATION:-10m}"
SOAK_CONNS="${SOAK_CONNS:-cc=4,refresh=12,api_key=4,jwt=4}"
SOAK_TIMEOUT="${SOAK_TIMEOUT:-5s}"
SOAK_RSS_TOLERANCE_MB="${SOAK_RSS_TOLERANCE_MB:-16}"
SOAK_YARDSTICK="${SOAK_YARDSTICK:-1}"
DURATION="${DURATION:-10s}"
export KG_CHAIN_LENGTH="${KG_CHAIN_LENGTH:-20}" KG_INTROSPECT_EVERY="${KG_INTROSPECT_EVERY:-10}"
export KG_JWT_USES="${KG_JWT_USES:-1000}" KG_JWT_SECONDS="${KG_JWT_SECONDS:-60}"
export KG_ROLES="$SOAK_CONNS"

to_seconds() {
    case "$1" in
        *h) echo $(( ${1%h} * 3600 )) ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}
SOAK_SECONDS=$(to_seconds "$SOAK_DURATION")
CONNECTIONS=0
for spec in ${SOAK_CONNS//,/ }; do CONNECTIONS=$((CONNECTIONS + ${spec#*=})); done

. bench/server.sh
LOG_DIR="${SOAK_LOG_DIR:-$(mktemp -d "/tmp/keygate-soak-$BACKEND-$(date +%Y%m%dT%H%M%S)-XXXX")}"
mkdir -p "$LOG_DIR"

# Rate limits stay on (every /v1/me request is counted against its credential and the
# organization), with a tier too generous to trip, as in bench/me.sh: the soak is
# about errors and memory under load, not about 429s. The brute-force throttle keeps
# its defaults: every client authentication in the mix succeeds (and is cached).
cat > "$WORK/keygate.toml" <<TOML
[tiers.free]
requests_per_minute = 1000000000
burst = 1000000000
TOML
export KEYGATE_CONFIG="$WORK/keygate.toml"
ISSUER="${KEYGATE_ISSUER:-http://127.0.0.1:8080}"

# Three clients and one API key: client_credentials only; with the refresh grant; for
# the management audience (its access tokens are accepted by /v1/me).
create_client --grant-type client_credentials --grant-type refresh_token
KG_REFRESH_BASIC="$KG_BASIC"
create_client --audience "$ISSUER/v1"
KG_MGMT_BASIC="$KG_BASIC"
create_client
export KG_REFRESH_BASIC KG_MGMT_BASIC
export KG_API_KEY=$("$BIN" api-key create --name soak --scope read |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
start_server 2>>"$LOG_DIR/server.log"

# Every credential must work before the figures mean anything; this also pays each
# client's one argon2 verification before the load starts.
URL="http://127.0.0.1:$PORT"
token() { curl -fs -H "Authorization: Basic $1" -d grant_type=client_credentials "$URL/oauth/token"; }
token "$KG_BASIC" >/dev/null
token "$KG_REFRESH_BASIC" | grep -q '"refresh_token":"kgr_'
JWT=$(token "$KG_MGMT_BASIC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -fs -H "Authorization: Bearer $JWT" "$URL/v1/me" | grep -q '"credential_kind":"access_token"'
curl -fs -H "X-API-Key: $KG_API_KEY" "$URL/v1/me" | grep -q '"credential_kind":"api_key"'

if [ "$SOAK_YARDSTICK" = 1 ]; then
    yardstick
else
    echo "keygate $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, $BACKEND (yardstick skipped: SOAK_YARDSTICK=0)"
fi
echo "=== soak: $SOAK_DURATION, $CONNECTIONS connections ($SOAK_CONNS), timeout $SOAK_TIMEOUT"
echo "    chains of $KG_CHAIN_LENGTH refreshes then a revocation; a JWT revoked after $KG_JWT_USES uses or ${KG_JWT_SECONDS}s; introspection every ${KG_INTROSPECT_EVERY}th token"
echo "    rate limits on, free tier raised to 1e9/min (burst 1e9) so that /v1/me is never 429; brute-force throttle at its defaults"
echo "    logs: $LOG_DIR"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
RSS_LOG="$LOG_DIR/rss.log"
echo "# elapsed_s rss_kb label" > "$RSS_LOG"
sample() { echo "$1 $(rss_kb) $2" >> "$RSS_LOG"; }

wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"$SOAK_DURATION" --timeout "$SOAK_TIMEOUT" --latency \
    -s bench/soak.lua "$URL" > "$LOG_DIR/wrk.out" 2>&1 &
WRK_PID=$!
T0=$(date +%s)
WARMUP=$(( SOAK_SECONDS / 3 < 10 ? SOAK_SECONDS / 3 : 10 ))
MIDDLE=$(( SOAK_SECONDS / 2 ))
NEXT_PERIODIC=0
START_DONE=0
MIDDLE_DONE=0
while kill -0 "$WRK_PID" 2>/dev/null; do
    ELAPSED=$(( $(date +%s) - T0 ))
    if [ "$START_DONE" = 0 ] && [ "$ELAPSED" -ge "$WARMUP" ]; then sample "$ELAPSED" start; START_DONE=1; fi
    if [ "$MIDDLE_DONE" = 0 ] && [ "$ELAPSED" -ge "$MIDDLE" ]; then sample "$ELAPSED" middle; MIDDLE_DONE=1; fi
    if [ "$ELAPSED" -ge "$NEXT_PERIODIC" ]; then
        sample "$ELAPSED" periodic
        NEXT_PERIODIC=$(( NEXT_PERIODIC + 30 ))
    fi
    sleep 1
done
WRK_STATUS=0
wait "$WRK_PID" || WRK_STATUS=$?
sample $(( $(date +%s) - T0 )) end

SERVER_OK=1
kill -0 "$SERVER_PID" 2>/dev/null && curl -fs -o /dev/null "$URL/healthz" || SERVER_OK=0
# The server's own count of non-2xx answers (every route, the set-up requests included).
curl -fs "$URL/metrics" > "$LOG_DIR/metrics.txt" || true

python3 - "$LOG_DIR" "$BACKEND" "$SOAK_DURATION" "$SOAK_RSS_TOLERANCE_MB" "$SERVER_OK" "$WRK_STATUS" <<'PY'
import re, sys
log_dir, backend, duration, tolerance_mb, server_ok, wrk_status = sys.argv[1:]
tolerance_mb, server_ok, wrk_status = float(tolerance_mb), server_ok == "1", int(wrk_status)
wrk = open(f"{log_dir}/wrk.out").read()
kinds, total, seconds, socket, latency, samples = [], 0, 0.0, {}, "", []
for line in wrk.splitlines():
    f = line.split()
    if line.startswith("SOAK kind "):
        kinds.append((f[2], int(f[3]), int(f[4]), float(f[5])))
    elif line.startswith("SOAK total "):
        total, seconds = int(f[2]), float(f[3])
    elif line.startswith("SOAK socket "):
        socket = {k: int(v) for k, v in (x.split("=") for x in f[2:])}
    elif line.startswith("SOAK latency "):
        latency = " ".join(f[2:])
    elif line.startswith("SOAK sample "):
        samples.append(line[len("SOAK sample "):])
if not kinds:
    print("wrk produced no summary; its output:\n" + wrk)
    sys.exit(1)
rss = [(int(e), int(kb) / 1024, label) for e, kb, label in
       (l.split() for l in open(f"{log_dir}/rss.log") if not l.startswith("#"))]
def pick(label):
    return next((mb for _, mb, l in rss if l == label), float("nan"))
start, middle, end = pick("start"), pick("middle"), pick("end")
response_errors = sum(k[2] for k in kinds)
socket_errors = sum(socket.get(k, 0) for k in ("connect", "read", "write", "timeout"))
unexpected = response_errors + socket_errors

server_non2xx = {}
try:
    for line in open(f"{log_dir}/metrics.txt"):
        m = re.match(r'keygate_http_requests_total\{(.*)\} (\d+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if not labels.get("status", "2").startswith("2") and int(m.group(2)) > 0:
                key = f'{labels.get("method", "?")} {labels.get("route", "?")} {labels["status"]}'
                server_non2xx[key] = server_non2xx.get(key, 0) + int(m.group(2))
except OSError:
    pass
server_log = open(f"{log_dir}/server.log").read().splitlines()
log_problems = [l for l in server_log if re.search(r"\b(WARN|ERROR)\b", l)]

print(f"\n{'kind':<16} {'requests':>10} {'req/s':>9} {'unexpected':>10}")
for name, n, err, rps in kinds:
    print(f"{name:<16} {n:>10} {rps:>9.1f} {err:>10}")
print(f"{'all':<16} {total:>10} {total / seconds if seconds else 0:>9.0f} {response_errors:>10}")
print(f"latency (ms, all kinds): {latency}")
print("socket errors: " + ", ".join(f"{k} {v}" for k, v in socket.items() if k != "status"))
for s in samples[:10]:
    print(f"  unexpected response: {s}")
if len(samples) > 10:
    print(f"  … (the first 3 per wrk thread are in {log_dir}/wrk.out)")
print("RSS samples (s: MB): " + ", ".join(f"{e}: {mb:.1f}" for e, mb, _ in rss))
growth = end - middle
rss_ok = growth <= tolerance_mb
print(f"server non-2xx by /metrics: {server_non2xx or 'none'}")
print(f"server log WARN/ERROR lines: {len(log_problems)}" +
      "".join(f"\n  {l[:300]}" for l in log_problems[:5]))
print()
print("| backend | duration | requests | requests/s | unexpected errors | RSS start | RSS middle | RSS end |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {backend} | {duration} | {total:,} | {total / seconds if seconds else 0:,.0f} | {unexpected} "
      f"| {start:.1f} MB | {middle:.1f} MB | {end:.1f} MB |")
print()
verdicts = []
if unexpected:
    verdicts.append(f"{unexpected} unexpected errors ({response_errors} responses, {socket_errors} socket)")
if not server_ok:
    verdicts.append("the server is no longer healthy")
if wrk_status:
    verdicts.append(f"wrk exited with status {wrk_status}")
if not rss_ok:
    verdicts.append(f"RSS grew {growth:.1f} MB from the middle to the end (tolerance {tolerance_mb:g} MB)")
if verdicts:
    print("SOAK FAILED: " + "; ".join(verdicts))
    sys.exit(1)
print(f"SOAK PASSED: no unexpected errors; RSS middle→end {growth:+.1f} MB "
      f"(start→end {end - start:+.1f} MB), within {tolerance_mb:g} MB")
PY
