#!/usr/bin/env bash
# The README's test command: installs what is missing, builds gomabarn
# twice (normal with warnings as errors, and with AddressSanitizer +
# UndefinedBehaviorSanitizer), builds or reuses the pinned Buildbarn, and
# runs every test in both builds; integration tests start a real local
# Buildbarn cluster through the ctest fixture and stop it afterwards.
#
#   bash scripts/test.sh            everything
#   GMB_TEST_BUILDS=normal bash scripts/test.sh    skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILDS=${GMB_TEST_BUILDS:-"normal sanitize"}
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
    fi
    step "configure and build ($kind)"
    cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
    cmake --build "$dir"

    step "tests ($kind)"
    # Leak checking stays on; suppressions cover only gRPC's own globals.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export LSAN_OPTIONS="suppressions=$REPO/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    if ! (cd "$dir" && ctest --output-on-failure --timeout 900); then
        failed=1
        show_buildbarn_logs
    fi
done

step "fuzzing, short (scripts/fuzz.sh --ci: every target ~20 s, known crashes replayed)"
if ! bash scripts/fuzz.sh --ci; then
    failed=1
fi

step "done"
exit $failed
