#!/usr/bin/env bash
# The README's test command: installs what is missing, builds gomabarn
# three times (normal with warnings as errors; AddressSanitizer +
# UndefinedBehaviorSanitizer; ThreadSanitizer), builds or reuses the pinned
# Buildbarn, and runs every test in the first two builds and all but the
# fault suite in the ThreadSanitizer one; integration
# tests start a real local Buildbarn cluster through the ctest fixture and
# stop it afterwards.
#
#   bash scripts/test.sh            everything
#   GMB_TEST_BUILDS=normal bash scripts/test.sh    skip the sanitizer builds
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILDS=${GMB_TEST_BUILDS:-"normal sanitize tsan"}
export GOMABARN_BB_DIR=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}

step() { printf '\n==== %s (%ds)\n' "$*" "$SECONDS"; }

step "dependencies"
bash scripts/install-deps.sh

step "Buildbarn (build or reuse)"
bash tests/buildbarn/build.sh

show_buildbarn_logs() {
    if [ -d "$GOMABARN_BB_DIR/logs" ]; then
        for f in "$GOMABARN_BB_DIR"/logs/*.log; do
            echo "---- last lines of $f"
            tail -n 40 "$f" || true
        done
    fi
}

step "format (clang-format --dry-run on every C file)"
if ! clang-format --dry-run -Werror $(find gateway fusefs config tests -name '*.[ch]'); then
    echo "test.sh: run clang-format -i on the files above (the style is .clang-format)" >&2
    exit 1
fi

failed=0
for kind in $BUILDS; do
    dir="$REPO/build-$kind"
    flags=(-DGOMABARN_WERROR=ON)
    if [ "$kind" = sanitize ]; then
        # clang's UndefinedBehaviorSanitizer also catches pointer arithmetic
        # on NULL; -fno-sanitize-recover makes any UB fail the test.
        flags+=(-DGOMABARN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang)
    elif [ "$kind" = tsan ]; then
        flags+=(-DGOMABARN_TSAN=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang)
    fi
    step "configure and build ($kind)"
    cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
    cmake --build "$dir"

    step "tests ($kind)"
    # Leak checking stays on (tests/lsan.supp is there for suppressions; it
    # holds none today).
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export LSAN_OPTIONS="suppressions=$REPO/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    only=()
    if [ "$kind" = tsan ]; then
        # Every report goes to a file, so a daemon's report fails the pass
        # even when its test does not look at its exit status. The fault
        # suite stays out: it judges timings, which ThreadSanitizer's
        # slowdown would decide.
        reports="$dir/tsan-reports"
        rm -rf "$reports" && mkdir -p "$reports"
        export TSAN_OPTIONS="suppressions=$REPO/tests/tsan.supp:halt_on_error=0:log_path=$reports/report"
        only=(-E 'integration\.fault_suite')
    fi
    if ! (cd "$dir" && ctest --output-on-failure --timeout 900 "${only[@]}"); then
        failed=1
        show_buildbarn_logs
    fi
    if [ "$kind" = tsan ] && [ -n "$(ls -A "$reports")" ]; then
        echo "test.sh: ThreadSanitizer reported races (one file per process in $reports):" >&2
        grep -h -A24 '^WARNING: ThreadSanitizer' "$reports"/* | head -n 300 >&2
        failed=1
    fi
    unset TSAN_OPTIONS
done

step "fuzzing, short (scripts/fuzz.sh --ci: every target ~20 s, known crashes replayed)"
if ! bash scripts/fuzz.sh --ci; then
    failed=1
fi

step "done"
exit $failed
