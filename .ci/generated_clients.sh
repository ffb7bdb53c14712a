#!/usr/bin/env bash
# Clients generated from keygate's own /openapi.json compile: the document of the
# running server (.ci/keygate_server.sh) goes through a generator, pinned, from the
# registries this CI reaches (npm and PyPI; openapi-generator's jar is out of reach):
#
# - TypeScript: openapi-typescript's types, with openapi-fetch as the client, checked by
#   `tsc --strict` together with .ci/generated_clients/usage.ts, which calls the
#   operations the way a user would (a typed call that no longer fits the document
#   fails here);
#
# The tools are installed once per set of versions under ~/.cache. Any failure fails
# the script (and CI).
#
#   bash .ci/generated_clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAPI_TYPESCRIPT_VERSION=7.13.0
OPENAPI_FETCH_VERSION=0.17.0
TYPESCRIPT_VERSION=5.9.3
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

CACHE="${HOME:-/root}/.cache"
NODE_TOOLS="$CACHE/keygate-clients-node-$OPENAPI_TYPESCRIPT_VERSION-$OPENAPI_FETCH_VERSION-$TYPESCRIPT_VERSION"

if [ ! -x "$NODE_TOOLS/node_modules/.bin/tsc" ] || [ ! -x "$NODE_TOOLS/node_modules/.bin/openapi-typescript" ]; then
    echo "--- installing openapi-typescript, openapi-fetch and typescript into $NODE_TOOLS"
    if ! command -v npm >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
    fi
    rm -rf "$NODE_TOOLS"
    mkdir -p "$NODE_TOOLS"
    (cd "$NODE_TOOLS" && npm init -y >/dev/null &&
        npm install --no-audit --no-fund --silent --save-exact \
            "openapi-typescript@$OPENAPI_TYPESCRIPT_VERSION" \
            "openapi-fetch@$OPENAPI_FETCH_VERSION" \
            "typescript@$TYPESCRIPT_VERSION")
fi

. .ci/keygate_server.sh
keygate_start
curl -fsS -o "$WORK/openapi.json" "$BASE/openapi.json"
ROOT="$PWD"

echo "--- TypeScript: openapi-typescript $OPENAPI_TYPESCRIPT_VERSION, tsc $TYPESCRIPT_VERSION --strict"
TS="$WORK/ts"
mkdir -p "$TS"
ln -s "$NODE_TOOLS/node_modules" "$TS/node_modules"
"$NODE_TOOLS/node_modules/.bin/openapi-typescript" "$WORK/openapi.json" -o "$TS/keygate.d.ts"
cp "$ROOT/.ci/generated_clients/usage.ts" "$TS/usage.ts"
cat >"$TS/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "skipLibCheck": false
  },
  "files": ["keygate.d.ts", "usage.ts"]
}
JSON
(cd "$TS" && "$NODE_TOOLS/node_modules/.bin/tsc" -p tsconfig.json)

echo "--- generated clients compile"
