#!/usr/bin/env bash
# The README's run command: installs what is missing, builds gomabarn,
# starts the local Buildbarn (tests/buildbarn), and compiles a small C
# program through gomabarn on both worker pools, checking every object
# file byte for byte against a local compile. Buildbarn is left running
# (stop it with tests/buildbarn/stop.sh).
#
# The goma front end (`gomabarn serve`) and the FUSE view arrive with
# their issues; until then this drives Buildbarn with `gomabarn remote-run`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

bash scripts/install-deps.sh
cmake -S . -B build-normal -G Ninja >/dev/null
cmake --build build-normal >/dev/null
GOMABARN="$REPO/build-normal/gateway/gomabarn"
tests/buildbarn/start.sh

WORK=$(mktemp -d /tmp/gomabarn-sample-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp tests/data/sample/*.c tests/data/sample/*.h "$WORK/"
cd "$WORK"
for instance in hardlinking fuse; do
    echo
    echo "== instance name \"$instance\""
    mkdir -p "obj-$instance" local
    for src in *.c; do
        obj="obj-$instance/${src%.c}.o"
        "$GOMABARN" remote-run --config "$REPO/config/gomabarn.conf.example" --instance "$instance" \
            --no-cache -i "$src" -i greet.h -o "$obj" -- /usr/bin/cc -O2 -c "$src" -o "$obj"
        /usr/bin/cc -O2 -c "$src" -o "local/${src%.c}.o"
        cmp "$obj" "local/${src%.c}.o"
        echo "   $obj: identical to the local compile"
    done
    /usr/bin/cc -o "sample-$instance" "obj-$instance"/*.o
    echo "   linked locally; it says: $("./sample-$instance")"
done
echo
echo "Buildbarn is still running: admin page http://127.0.0.1:7982/, stop with tests/buildbarn/stop.sh"
