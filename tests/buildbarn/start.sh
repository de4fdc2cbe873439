#!/usr/bin/env bash
# Starts gomabarn's local Buildbarn: bb_storage (CAS, AC, frontend) on
# 127.0.0.1:8980, bb_scheduler, and two worker pools with their runners,
# instance names `hardlinking` (native) and `fuse` (virtual, FUSE-mounted).
# Builds the binaries first if the cache lacks them. Waits until both pools
# have registered with the scheduler. Idempotent: a healthy cluster from
# the same data root is left running.
#
# Data root: $GOMABARN_BB_DIR (default /tmp/gomabarn-bb); logs in its logs/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export BB=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}
WAIT_SECONDS=${GOMABARN_BB_WAIT:-90}
ADMIN_URL=http://127.0.0.1:7982/

# Tests and benchmarks may call this at the same time: one at a time
# builds and starts, the others then find the cluster running.
exec 9>"${TMPDIR:-/tmp}/gomabarn-bb-start.lock"
flock -w 1200 9 || { echo "buildbarn: another start.sh holds the lock for 20 min" >&2; exit 1; }

pools_registered() {
    local page
    page=$(curl -fsS --max-time 2 "$ADMIN_URL" 2>/dev/null) || return 1
    # The page lists each platform queue's instance name prefix, quoted
    # and HTML-escaped: &#34;hardlinking&#34;.
    grep -Eq '(&#34;|&quot;|")hardlinking(&#34;|&quot;|")' <<<"$page" &&
        grep -Eq '(&#34;|&quot;|")fuse(&#34;|&quot;|")' <<<"$page"
}

all_alive() {
    local f
    for f in "$BB"/pids/*.pid; do
        [ -e "$f" ] || return 1
        kill -0 "$(cat "$f")" 2>/dev/null || return 1
    done
}

if [ -d "$BB/pids" ] && all_alive && pools_registered; then
    echo "buildbarn: already running from $BB (logs in $BB/logs)"
    exit 0
fi

BIN=$("$HERE/build.sh" | tail -n 1)

# Whatever is left of an earlier run (crashed or still half up) goes first.
"$HERE/stop.sh" >/dev/null 2>&1 || true

mkdir -p "$BB"/{logs,pids} "$BB"/hardlinking/{build,cache} "$BB"/fuse/build
"$HERE/make-credentials.sh"
# Buildbarn's configs see every environment variable as a Jsonnet extVar.
GOMABARN_BB_CA_PEM=$(cat "$BB/auth/ca.pem")
GOMABARN_BB_JWKS=$(cat "$BB/auth/jwks.json")
export GOMABARN_BB_CA_PEM GOMABARN_BB_JWKS
rm -f "$BB"/hardlinking/runner.sock "$BB"/fuse/runner.sock

start() {
    local name=$1 program=$2 config=$3
    # setsid: a process group of its own, so stop.sh can end it whole;
    # 9>&-: the daemon must not keep the start lock.
    setsid "$BIN/$program" "$HERE/config/$config" >"$BB/logs/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$BB/pids/$name.pid"
}

start storage bb_storage storage.jsonnet
start scheduler bb_scheduler scheduler.jsonnet
start runner-hardlinking bb_runner runner-hardlinking.jsonnet
start runner-fuse bb_runner runner-fuse.jsonnet
start worker-hardlinking bb_worker worker-hardlinking.jsonnet
start worker-fuse bb_worker worker-fuse.jsonnet
echo "buildbarn: started from $BIN; data root $BB; logs in $BB/logs"

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if ! all_alive; then
        echo "buildbarn: a process exited during start-up" >&2
        break
    fi
    if pools_registered; then
        echo "buildbarn: ready after ${i}s: instance names hardlinking and fuse on 127.0.0.1:8980"
        exit 0
    fi
    if ((i % 10 == 9)); then echo "buildbarn: waiting for both worker pools to register (${i}s)"; fi
    sleep 1
done

echo "buildbarn: not ready; the logs say:" >&2
for f in "$BB"/logs/*.log; do
    echo "---- $f" >&2
    tail -n 25 "$f" >&2
done
"$HERE/stop.sh" >/dev/null 2>&1 || true
exit 1
