#!/usr/bin/env bash
# Coverage-guided fuzzing of keygate's parsers with cargo-fuzz (libFuzzer); see
# fuzz/README.md. Not part of `cargo test` or .ci/run.
#
#   bash fuzz/run.sh                       # every target, 60 s each
#   FUZZ_SECONDS=600 bash fuzz/run.sh api_key credential
#
# Exits non-zero if any target finds a crash (panic, failed assertion, overflow,
# sanitizer report, out-of-memory or a slow input); the input is left in
# fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
# Nightly, sanitizer-instrumented builds get a directory of their own, never the
# stable one of the main build.
export CARGO_TARGET_DIR="${KEYGATE_FUZZ_TARGET_DIR:-$HOME/.cache/keygate-fuzz-target}"

ALL_TARGETS=(token_request api_key credential access_token registration_metadata)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

# Longest input per target: past each parser's own limit (8 KiB credentials and
# tokens) so the limits themselves are exercised.
max_len() {
    case "$1" in
        api_key) echo 256 ;;
        credential | access_token) echo 20000 ;;
        *) echo 4096 ;;
    esac
}

if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Release optimisations, with debug assertions and overflow checks, AddressSanitizer.
BUILD_FLAGS=(--debug-assertions)
cargo "+$TOOLCHAIN" fuzz build "${BUILD_FLAGS[@]}"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
broken=()
for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    dict=()
    [ -f "fuzz/dicts/$target.dict" ] && dict=("-dict=fuzz/dicts/$target.dict")
    echo "== $target: ${FUZZ_SECONDS}s"
    # The first directory collects new inputs; the committed seeds are read only.
    if cargo "+$TOOLCHAIN" fuzz run "${BUILD_FLAGS[@]}" "$target" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$target")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        2>&1 | tee "$logs/$target.log"; then
        :
    elif grep -q "failed to build fuzz script" "$logs/$target.log"; then
        # cargo fuzz run rebuilds when the sources changed since the build above.
        broken+=("$target")
    else
        failed+=("$target")
    fi
done

echo
echo "== summary (FUZZ_SECONDS=$FUZZ_SECONDS)"
for target in "${TARGETS[@]}"; do
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -n 1 || true)"
    runs="$(grep -E '^Done [0-9]+ runs' "$logs/$target.log" | tail -n 1 || true)"
    printf '%-22s %s | %s\n' "$target" "${done_line:-no DONE line}" "${runs:-}"
done
if [ ${#broken[@]} -gt 0 ]; then
    echo "did not build: ${broken[*]}" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; see fuzz/README.md)" >&2
    exit 1
fi
[ ${#broken[@]} -eq 0 ] || exit 2
echo "all targets ran clean"
