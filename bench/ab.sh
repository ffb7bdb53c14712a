#!/usr/bin/env bash
# A/B driver: one benchmark script run alternately against two commits (and any
# more named in AB_ALSO), round after round in one session, so that the drift of a
# shared machine falls on every side alike. Prints each round's requests/s per run
# (the "=== …" headings of the script) and, per run, the sum over the rounds of each
# side ÷ the base's.
#
#   bash bench/ab.sh BASE_REF HEAD_REF BENCH [ROUNDS]
#   bash bench/ab.sh 1f2c5d3 a78cf18 me 4                  # bench/me.sh, 4 rounds
#   DURATION=20s BACKEND=postgres bash bench/ab.sh 1f2c5d3 a78cf18 token
#   AB_ALSO=main AB_ONLY=JWT bash bench/ab.sh 1f2c5d3 a78cf18 me 4
#
# BENCH is a script name under bench/ (me, token, refresh, limits…); each side runs
# its own commit's copy, `DURATION=${DURATION:-10s} bash bench/BENCH.sh`. ROUNDS
# defaults to 3. Each side gets a detached worktree AB_ROOT/ab-<side> (default
# /work/ab-base, /work/ab-head, /work/ab-<ref> for AB_ALSO's; one already there at the
# same commit is reused, at another commit is an error) and its own release build in
# AB_TARGET/kg-ab-<side> (default ~/.cache/kg-ab-base …), built with `nice -n 19`
# before the first round. AB_ONLY (an extended regex) keeps only
# the runs whose heading matches in the summary; every run still runs. Worktrees this
# script made are removed at the end (AB_KEEP=1 keeps them); build directories are
# kept for the next run (remove ~/.cache/kg-ab-* when done). Full logs go to
# AB_LOGS (default a fresh directory under /tmp, printed).
#
# Everything runs on loopback (the bench scripts bind 127.0.0.1) and stops by itself;
# it writes nothing to any branch and commits nothing.
set -euo pipefail

usage() { sed -n '2,11p' "$0" >&2; exit 2; }
[ $# -ge 3 ] && [ $# -le 4 ] || usage
BASE_REF=$1 HEAD_REF=$2 BENCH=$3 ROUNDS=${4:-3}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || usage

REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
DURATION="${DURATION:-10s}"
AB_ROOT="${AB_ROOT:-/work}"
AB_TARGET="${AB_TARGET:-${HOME:-/root}/.cache}"
AB_LOGS="${AB_LOGS:-$(mktemp -d /tmp/kg-ab-logs.XXXXXX)}"
AB_ONLY="${AB_ONLY:-.}"
mkdir -p "$AB_LOGS"

# Sides: base, head, then AB_ALSO's refs, each as "side ref sha".
SIDES=()
n=0
for ref in "$BASE_REF" "$HEAD_REF" ${AB_ALSO:-}; do
    sha=$(git -C "$REPO" rev-parse --verify --quiet --short "$ref^{commit}") || {
        echo "ab.sh: no commit $ref" >&2
        exit 2
    }
    case $n in 0) side=base ;; 1) side=head ;; *) side=$(printf '%s' "$ref" | tr -c 'A-Za-z0-9._-' _) ;; esac
    SIDES+=("$side $ref $sha")
    n=$((n + 1))
done

MADE=()
cleanup() {
    [ "${AB_KEEP:-0}" = 1 ] && return
    for dir in "${MADE[@]}"; do git -C "$REPO" worktree remove --force "$dir" || true; done
}
trap cleanup EXIT

worktree() { echo "$AB_ROOT/ab-$1"; }
target() { echo "$AB_TARGET/kg-ab-$1"; }

for entry in "${SIDES[@]}"; do
    read -r side ref sha <<<"$entry"
    dir=$(worktree "$side")
    if [ -d "$dir" ]; then
        [ "$(git -C "$dir" rev-parse --short HEAD)" = "$sha" ] || {
            echo "ab.sh: $dir exists at another commit" >&2
            exit 2
        }
    else
        git -C "$REPO" worktree add --quiet --detach "$dir" "$sha"
        MADE+=("$dir")
    fi
    [ -f "$dir/bench/$BENCH.sh" ] || { echo "ab.sh: $ref has no bench/$BENCH.sh" >&2; exit 2; }
    echo "building $ref ($sha) in $(target "$side")" >&2
    (cd "$dir" && CARGO_TARGET_DIR=$(target "$side") nice -n 19 cargo build --release --quiet)
done

# run SIDE ROUND: one run of the benchmark; its "heading<TAB>requests/s" lines to stdout.
run() {
    local side=$1 round=$2 log
    log="$AB_LOGS/$BENCH-$side-$round.log"
    (cd "$(worktree "$side")" && CARGO_TARGET_DIR=$(target "$side") DURATION="$DURATION" \
        bash "bench/$BENCH.sh") >"$log" 2>&1 || {
        echo "ab.sh: bench/$BENCH.sh failed on $side, round $round (see $log)" >&2
        exit 1
    }
    awk '/^=== /{sub(/^=== /, ""); h=$0} /Requests\/sec:/{printf "%s\t%s\n", h, $2}' "$log"
}

RESULTS="$AB_LOGS/results.tsv"   # round, side, heading, requests/s
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    for entry in "${SIDES[@]}"; do
        read -r side ref sha <<<"$entry"
        echo "round $round/$ROUNDS: $side = $ref ($sha), DURATION=$DURATION bash bench/$BENCH.sh" >&2
        run "$side" "$round" | while IFS=$'\t' read -r heading rps; do
            printf '%s\t%s\t%s\t%s\n' "$round" "$side" "$heading" "$rps"
        done >>"$RESULTS"
    done
done

echo "bench/$BENCH.sh, $ROUNDS rounds of $DURATION, ${BACKEND:-sqlite}, $(nproc) cores; logs in $AB_LOGS"
NAMES=""
for entry in "${SIDES[@]}"; do
    read -r side ref sha <<<"$entry"
    NAMES="$NAMES $side"
    echo "  $side = $ref ($sha)"
done
awk -F'\t' -v shas="$NAMES" -v only="$AB_ONLY" '
    { if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 }
      v[$3, $2, $1] = $4; sum[$3, $2] += $4; if ($1 > rounds) rounds = $1 }
    END {
        k = split(shas, s, " ")
        for (i = 1; i <= n; i++) {
            h = order[i]
            if (h !~ only) continue
            printf "\n=== %s\n", h
            for (j = 1; j <= k; j++) {
                line = sprintf("  %-9s", s[j])
                for (r = 1; r <= rounds; r++) line = line sprintf(" %9.0f", v[h, s[j], r])
                if (j == 1 || sum[h, s[1]] == 0) line = line "   (base)"
                else line = line sprintf("   %.3f x base", sum[h, s[j]] / sum[h, s[1]])
                print line
            }
        }
    }' "$RESULTS"
