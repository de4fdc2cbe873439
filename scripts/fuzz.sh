#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, one file each) in build-fuzz/
# with clang, ASan and UBSan, and runs them on the committed seed corpus
# plus a scratch corpus outside the repository.
#
#   bash scripts/fuzz.sh                    every target, 60 s each
#   bash scripts/fuzz.sh view_tree 600      one target, 10 minutes
#   bash scripts/fuzz.sh all 300            every target, 5 minutes each
#   bash scripts/fuzz.sh --ci               CI: replays tests/fuzz/crashes/,
#                                           then every target ~20 s; exit 1 on
#                                           a crash, printing the reproducer
#   bash scripts/fuzz.sh --replay [target]  only replays tests/fuzz/crashes/
#   bash scripts/fuzz.sh --merge [target]   keep new corpus entries: adds to
#                                           tests/fuzz/corpus/<target> the
#                                           scratch inputs that cover more
#   bash scripts/fuzz.sh --list             the targets
#
# Environment: GMB_FUZZ_JOBS targets run at once (default 1; --ci: the
# number of CPUs), GMB_FUZZ_WORK the scratch directory (default
# $TMPDIR/gomabarn-fuzz; --ci: a fresh temporary one), GMB_FUZZ_ARGS extra
# libFuzzer flags, GMB_FUZZ_KNOWN_BUGS=skip: the targets step around the
# bugs whose reproducers are in tests/fuzz/crashes/ (then those replay
# clean) to look for new ones. Nothing is written inside the repository
# except build-fuzz/ (and tests/fuzz/corpus/ with --merge, on request).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILD=$REPO/build-fuzz
FUZZ_SRC=$REPO/tests/fuzz

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

targets() { for f in "$FUZZ_SRC"/fuzz_*.c; do f=${f##*/fuzz_}; echo "${f%.c}"; done; }

mode=run
case "${1:-}" in
    -h|--help) usage ;;
    --list) targets; exit 0 ;;
    --ci) mode=ci; shift ;;
    --merge) mode=merge; shift ;;
    --replay) mode=replay; shift ;;
esac
what=${1:-all}
seconds=${2:-60}
[ "$mode" = ci ] && { what=all; seconds=20; }
if [ "$what" = all ]; then
    list=$(targets)
elif targets | grep -qx -- "$what"; then
    list=$what
else
    echo "fuzz.sh: no target \"$what\"; the targets are: $(targets | tr '\n' ' ')" >&2
    exit 2
fi
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a number" >&2; exit 2 ;; esac

if [ "$mode" = ci ] && [ -z "${GMB_FUZZ_WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gomabarn-fuzz-ci.XXXXXX")
else
    WORK=${GMB_FUZZ_WORK:-${TMPDIR:-/tmp}/gomabarn-fuzz}
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$WORK/" in
    "$REPO"/build-fuzz/*) ;;
    "$REPO"/*) echo "fuzz.sh: GMB_FUZZ_WORK ($WORK) must be outside the repository (or under build-fuzz/)" >&2; exit 2 ;;
esac

# ---- build ----
if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang is needed (Debian: apt-get install -y clang)" >&2
    exit 2
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    CC=clang cmake -S "$REPO" -B "$BUILD" -G Ninja -DGOMABARN_FUZZ=ON -DGOMABARN_WERROR=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! grep -q '^GOMABARN_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt" ||
   ! grep -q '^CMAKE_C_COMPILER:.*clang' "$BUILD/CMakeCache.txt"; then
    echo "fuzz.sh: $BUILD is not a clang build with GOMABARN_FUZZ=ON; remove it and run again" >&2
    exit 2
fi
ninja -C "$BUILD" fuzz_targets >/dev/null

# ---- merge: keep what the scratch corpus found ----
if [ "$mode" = merge ]; then
    for t in $list; do
        scratch=$WORK/$t/corpus
        [ -d "$scratch" ] || { echo "$t: no scratch corpus in $scratch (run it first)"; continue; }
        before=$(find "$FUZZ_SRC/corpus/$t" -type f | wc -l)
        (cd "$WORK/$t" && "$BUILD/fuzz/fuzz_$t" -merge=1 -max_len=65535 "$FUZZ_SRC/corpus/$t" "$scratch" \
            >"$WORK/$t/merge.log" 2>&1) || { echo "$t: merge failed, see $WORK/$t/merge.log"; exit 1; }
        after=$(find "$FUZZ_SRC/corpus/$t" -type f | wc -l)
        echo "$t: $((after - before)) new seed(s) in tests/fuzz/corpus/$t (review them, then commit)"
    done
    exit 0
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ---- replay: every saved reproducer, once ----
replay() {
    local bad=0 t f
    for t in $list; do
        [ -d "$FUZZ_SRC/crashes/$t" ] || continue
        for f in "$FUZZ_SRC/crashes/$t"/*; do
            [ -f "$f" ] || continue
            mkdir -p "$WORK/replay"
            if (cd "$WORK/replay" && "$BUILD/fuzz/fuzz_$t" -rss_limit_mb=2560 -timeout=25 "$f" \
                >"$WORK/replay/$t.${f##*/}.log" 2>&1); then
                echo "replay $t/${f##*/}: passes"
            else
                echo "replay $t/${f##*/}: STILL CRASHES (log: $WORK/replay/$t.${f##*/}.log)"
                echo "  reproduce: $BUILD/fuzz/fuzz_$t $f"
                bad=1
            fi
        done
    done
    return $bad
}
replay_failed=0
if [ "$mode" = replay ] || [ "$mode" = ci ]; then
    replay || replay_failed=1
    if [ "$mode" = replay ]; then
        exit $replay_failed
    fi
fi

# ---- run ----

# libconfig 1.5 leaks on many syntax errors (suppressed in fuzz_config.c);
# checking for leaks after each such input costs more than the input, so
# the config target checks once, at exit (a leak of ours still fails it).
target_flags() {
    case $1 in
        config) echo -detect_leaks=0 ;;
    esac
}

run_one() {
    local t=$1 dir=$WORK/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    local dict=()
    [ -f "$FUZZ_SRC/$t.dict" ] && dict=(-dict="$FUZZ_SRC/$t.dict")
    # New inputs go to the first directory (the scratch one); the
    # committed seeds are only read.
    local rc=0
    # shellcheck disable=SC2086
    (cd "$dir" && exec "$BUILD/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
        -max_len=65535 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" \
        $(target_flags "$t") ${GMB_FUZZ_ARGS:-} "$dir/corpus" "$FUZZ_SRC/corpus/$t") >"$dir/log" 2>&1 || rc=$?
    echo "$rc" >"$dir/rc"
}

report() {
    local t=$1 dir=$WORK/$1 rc execs last cov ft corp secs crash
    rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    if [ "$rc" = 0 ]; then
        crash=ok
    else
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$dir/log" | tail -1)
        crash="CRASH ${crash:-(no reproducer written; see $dir/log)}"
    fi
    printf '%-12s %12s %7s %7s %7s %6s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "${secs:-?}s" "$crash"
    [ "$rc" = 0 ]
}

jobs_max=${GMB_FUZZ_JOBS:-1}
[ "$mode" = ci ] && jobs_max=${GMB_FUZZ_JOBS:-$(nproc)}
n=$(wc -w <<<"$list")
echo "fuzzing $n target(s), ${seconds}s each, $jobs_max at a time; scratch: $WORK"
running=0
for t in $list; do
    rm -f "$WORK/$t/rc"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs_max" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

printf '\n%-12s %12s %7s %7s %7s %6s  %s\n' target executions cov ft corpus time result
failed=0
for t in $list; do
    report "$t" || failed=1
done
echo
[ "$replay_failed" = 1 ] && echo "Saved reproducers in tests/fuzz/crashes/ still crash (see above)." && failed=1
if [ "$failed" = 1 ]; then
    echo "A target failed. Reproduce with: $BUILD/fuzz/fuzz_<target> <reproducer>  (log: $WORK/<target>/log)."
    echo "A real bug's reproducer belongs in tests/fuzz/crashes/<target>/."
    exit 1
fi
echo "No crashes. Logs and new inputs are in $WORK/<target>/."
echo "To keep the new inputs that add coverage: bash scripts/fuzz.sh --merge [target]"
