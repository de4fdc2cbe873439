#!/usr/bin/env bash
# tests/lib/gateway.sh's log checks under `set -o pipefail`, as the
# integration tests run them: a line that is in the log is found however
# much follows it (a reader that stops at the first match must not make
# the writer's SIGPIPE count as "not found"), one that is not is not, and
# gmb_serve's port comes from the first "listening on" of this start.
set -uo pipefail
. "$(dirname "$0")/../lib/gateway.sh"
WORK=$(mktemp -d /tmp/gomabarn-gwlib-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failed=0
check() { # WHAT CMD...
    local what=$1
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failed=1; fi
}

# Far more than a pipe holds after the match, so the writer is still writing
# when grep -q has its answer.
{ echo "old life: listening on 127.0.0.1:1111"; } >"$WORK/log"
GMB_LOG_MARK=$(wc -l <"$WORK/log")
{ echo "[info] http: listening on 127.0.0.1:4242"; seq 1 300000; echo "last line"; } >>"$WORK/log"
for i in 1 2 3; do
    check "a line followed by 2 MB is found (try $i)" gmb_logged "$WORK/log" "listening on 127.0.0.1:4242"
done
check "the last line is found" gmb_logged "$WORK/log" "last line"
check "a missing line is not found" eval '! gmb_logged "$WORK/log" "no such text"'
check "lines before this start are not looked at" eval '! gmb_logged "$WORK/log" "old life"'

# gmb_serve on a "daemon" that logs its port and then a lot more.
fake_daemon() { echo "[info] http: listening on 127.0.0.1:5151"; seq 1 300000; sleep 30; }
GMB_PORT=
check "gmb_serve succeeds" gmb_serve "$WORK/serve.log" fake_daemon
check "gmb_serve sets the port (got '$GMB_PORT')" test "$GMB_PORT" = 5151
gmb_stop_all
exit "$failed"
