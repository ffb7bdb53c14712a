# Sourced by the CI scripts that test the running server (.ci/schemathesis.sh,
# .ci/generated_clients.sh): builds keygate, then `keygate_start` serves it on a free
# loopback port with a temporary SQLite database and keys directory, and the EXIT
# trap stops it and removes the directory. After keygate_start: BASE (the server's
# URL), WORK (the temporary directory, with server.log), BOOTSTRAP (the bootstrap
# admin key). A caller may write "$WORK/keygate.toml" before keygate_start.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/keygate-target}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

WORK="$(mktemp -d)"
SERVER_PID=""
keygate_cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap keygate_cleanup EXIT

keygate_start() {
    cargo build --quiet --bin keygate
    local bin="$CARGO_TARGET_DIR/debug/keygate" port
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    BASE="http://127.0.0.1:$port"
    [ -f "$WORK/keygate.toml" ] || : >"$WORK/keygate.toml"
    mkdir -m 0700 "$WORK/keys"
    KEYGATE_CONFIG="$WORK/keygate.toml" \
        KEYGATE_DATABASE_URL="sqlite://$WORK/keygate.db" \
        KEYGATE_KEYS_DIR="$WORK/keys" \
        KEYGATE_BIND="127.0.0.1:$port" \
        KEYGATE_ISSUER="$BASE" \
        KEYGATE_LOG=warn \
        "$bin" serve >"$WORK/stdout" 2>"$WORK/server.log" &
    SERVER_PID=$!

    BOOTSTRAP=""
    for _ in $(seq 1 100); do
        BOOTSTRAP="$(grep -o 'kg_live_[0-9A-Za-z]*' "$WORK/stdout" | head -n1 || true)"
        if [ -n "$BOOTSTRAP" ] && curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$WORK/server.log" >&2
            echo "keygate serve exited before serving" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "keygate did not come up (or printed no bootstrap key)" >&2
    return 1
}
