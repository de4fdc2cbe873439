#!/usr/bin/env bash
# The README's run command. On a fresh machine, as root: installs what is
# missing, builds gomabarn, starts the local Buildbarn (tests/buildbarn)
# and `gomabarn serve` with config/gomabarn.conf.example, builds the sample
# program with make CC="gomabarn-cc gcc" on both worker pools (hardlinking
# and fuse), checks every object byte for byte against a local compile,
# and prints the status page and the settings a goma client needs.
# Buildbarn and the gateway keep running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
RUN=${GOMABARN_RUN_DIR:-/tmp/gomabarn-run}

bash scripts/install-deps.sh
cmake -S . -B build-normal -G Ninja >/dev/null
cmake --build build-normal >/dev/null
GOMABARN="$REPO/build-normal/bin/gomabarn"
CC_BIN="$REPO/build-normal/bin/gomabarn-cc"
tests/buildbarn/start.sh
. tests/lib/gateway.sh

mkdir -p "$RUN"
# A gateway left from an earlier run gives way to this one (and its port).
if [ -f "$RUN/serve.pid" ] && kill -0 "$(cat "$RUN/serve.pid")" 2>/dev/null; then
    gmb_stop "$(cat "$RUN/serve.pid")" || true
fi
"$GOMABARN" check --config config/gomabarn.conf.example --instance fuse
# setsid: the gateway outlives this script. A fresh log for each run.
: >"$RUN/serve.log"
gmb_serve "$RUN/serve.log" setsid "$GOMABARN" serve --config config/gomabarn.conf.example
echo "$GMB_PID" >"$RUN/serve.pid"

for instance in hardlinking fuse; do
    echo
    echo "== make CC=\"gomabarn-cc gcc\" on instance name \"$instance\""
    rm -rf "$RUN/$instance" "$RUN/$instance-local"
    mkdir -p "$RUN/$instance" "$RUN/$instance-local"
    cp tests/data/sample/* "$RUN/$instance/"
    cp tests/data/sample/* "$RUN/$instance-local/"
    GOMABARN_VERBOSE=1 GOMABARN_INSTANCE=$instance make -C "$RUN/$instance" CC="$CC_BIN gcc"
    make -s -C "$RUN/$instance-local"
    for o in main greet sum; do
        cmp "$RUN/$instance/$o.o" "$RUN/$instance-local/$o.o"
        echo "   $o.o: identical to the local compile"
    done
    echo "   the program says: $("$RUN/$instance/prog")"
done

cat <<MSG

gomabarn is serving the goma protocol on 127.0.0.1:5050 (log: $RUN/serve.log).
  status page   http://127.0.0.1:5050/        metrics  http://127.0.0.1:5050/metrics
  your builds   CC="$CC_BIN gcc" make          (GOMABARN_INSTANCE=fuse for the other pool)
  goma clients  GOMA_SERVER_HOST=127.0.0.1 GOMA_SERVER_PORT=5050 GOMA_USE_SSL=false
                GOMACTL_USE_PROXY=false GOMACTL_SKIP_AUTH=true
                GOMA_HTTP_AUTHORIZATION_FILE=<a file holding "Bearer <token>"> (skips Google's OAuth)
                GOMA_TMP_DIR=<a directory of yours, mode 0700>
                GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true (ship the client's compiler; false: the worker's)
                then: goma_ctl.py ensure_start (its status line must say ok); make CC="gomacc gcc";
                goma_ctl.py stat; goma_ctl.py ensure_stop
                (unset https_proxy/HTTPS_PROXY/all_proxy/ALL_PROXY; as root upstream gomacc compiles
                 locally: see docs/operations.md, "Google's goma client, step by step")
  stop          kill \$(cat $RUN/serve.pid); tests/buildbarn/stop.sh
MSG
