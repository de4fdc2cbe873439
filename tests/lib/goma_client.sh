# Sourced by tests/goma_client/ and tests/bench/: Google's real goma client
# (compiler_proxy, gomacc, goma_ctl.py from shared/goma-client/build.sh),
# built once, started and stopped with deadlines, and its own counts.
# Safe under `set -e`: a helper fails only where it says so.
#
#   gmc_build REPO CACHE_ROOT LOG  build or reuse the client; sets GMC_BIN
#                                  (the caller holds gmc_lock around it)
#   gmc_lock CACHE_ROOT / gmc_unlock  one lock (fd 9) for the client's build
#                                  and the Debian sources, across runs
#   gmc_env WORK AUTH_FILE         export the client's settings (scratch
#                                  HOME, GOMA_TMP_DIR 0700, no OAuth, remote only)
#   gmc_start_proxy PORT MODE LOG  start compiler_proxy for the gateway on
#                                  PORT, MODE plain | toolchain; sets GMC_PROXY_PID
#   gmc_stop_proxy LOG             stop it (goma_ctl.py, then signals)
#   gmc_stat FILE                  `goma_ctl.py stat` into FILE
#   gmc_statv FILE SECTION KEY     one count of such a FILE
#   gmc_delta BEFORE AFTER SECTION KEY  a count's growth ("?" if unknown)
#
# Settings (never GOMA_*: gomacc refuses GOMA_ variables it does not know):
#   GOMABARN_GOMA_CLIENT_BUILD  the client's build.sh (default: shared/ beside
#                               the repository, else /work/shared)
#   GOMABARN_GOMA_START_S       how long compiler_proxy may take to start (300)

GMC_BIN=
GMC_PROXY_PID=

gmc_lock() {
    mkdir -p "$1"
    exec 9>"$1/goma-client-test.lock"
    flock -w 1800 9 || {
        echo "error: could not lock $1/goma-client-test.lock in 30 minutes" >&2
        return 1
    }
}
gmc_unlock() { flock -u 9; }

gmc_build() {
    local repo=$1 cache_root=$2 log=$3 build_sh=${GOMABARN_GOMA_CLIENT_BUILD:-} c
    if [ -z "$build_sh" ]; then
        for c in "$repo/../shared/goma-client/build.sh" /work/shared/goma-client/build.sh; do
            [ -f "$c" ] && build_sh=$c && break
        done
    fi
    GMC_BIN=
    if [ -z "$build_sh" ]; then
        echo "error: no shared/goma-client/build.sh (set GOMABARN_GOMA_CLIENT_BUILD)" >&2
        return 1
    fi
    echo "---- goma client: $build_sh"
    GMC_BIN=$(GOMABARN_CACHE=$cache_root timeout 1500 bash "$build_sh" 2>"$log" | tail -n 1) || {
        GMC_BIN=
        echo "error: $build_sh failed; see $log" >&2
        return 1
    }
    [ -x "$GMC_BIN/compiler_proxy" ] && [ -x "$GMC_BIN/gomacc" ] && [ -f "$GMC_BIN/goma_ctl.py" ]
}

gmc_ctl() { timeout 120 python3 "$GMC_BIN/goma_ctl.py" "$@"; }

gmc_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

gmc_env() {
    local work=$1 auth=$2 v
    # gomacc refuses GOMA_* variables it does not know: start from none.
    for v in $(compgen -e | grep '^GOMA_' || true); do unset "$v"; done
    # compiler_proxy routes through these even without TLS (docs/operations.md).
    unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY http_proxy HTTP_PROXY
    # Its state (GOMA_CACHE_DIR, logs) survives a restart like a developer's does.
    export HOME=$work/home GOMA_TMP_DIR=$work/goma-tmp GOMA_CACHE_DIR=$work/goma-cache GLOG_log_dir=$work/glog
    mkdir -p "$HOME" "$GOMA_TMP_DIR" "$GOMA_CACHE_DIR" "$GLOG_log_dir"
    chmod 700 "$GOMA_TMP_DIR"
    export GOMA_SERVER_HOST=127.0.0.1 GOMA_USE_SSL=false GOMACTL_USE_PROXY=false GOMACTL_SKIP_AUTH=true
    export GOMA_HTTP_AUTHORIZATION_FILE=$auth
    export GOMA_COMPILER_PROXY_SOCKET_NAME=$GOMA_TMP_DIR/goma.ipc
    export GOMA_GOMACC_ALLOW_ROOT=true GOMA_USE_LOCAL=false GOMA_FALLBACK=false
}

# The compiler_proxy of this run: the one whose environment names our IPC
# socket (another run on the machine has its own), never one by name alone.
gmc_proxy_pid() {
    local p
    for p in $(pgrep -x compiler_proxy || true); do
        # grep -z: NUL-separated entries; no pipe (its SIGPIPE under pipefail).
        if grep -qzxF "GOMA_COMPILER_PROXY_SOCKET_NAME=$GOMA_COMPILER_PROXY_SOCKET_NAME" "/proc/$p/environ" 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 0
}

# Starting takes goma_ctl.py ensure_start, then, only if that gave up while
# our compiler_proxy still runs, asking the proxy directly; both within
# GOMABARN_GOMA_START_S (300 s) in all. goma_ctl.py checks readiness through
# helpers that are fragile on a loaded machine: `gomacc port` killed after
# 1 s, and lsof/fuser, which scan every process's open files (mounts of other
# tests included) before it prints "Now goma is ready!". It has once failed
# to say so in CI although the gateway had answered the proxy's ping in 1 s.
# compiler_proxy pings the gateway and only then opens its IPC socket;
# goma_ctl.py waits GOMA_PING_TIMEOUT_SEC + 20 s for the socket (60 + 20 by
# default), then kills the proxy: the variable widens both to a third of the
# deadline, and `timeout` bounds goma_ctl.py to half of it.
#
# Ready means what "Now goma is ready!" with status "ok" means: the proxy
# runs, answers on its socket and its /healthz says "ok", which it says only
# after it reached the gateway. "Now goma is ready!" alone is not enough: a
# proxy whose pings all failed opens its socket once its ping time is up
# and reports "running: failed to send request to backend servers".
gmc_start_proxy() {
    local port=$1 mode=$2 log=$3 limit=${GOMABARN_GOMA_START_S:-300} rc=0 t0=$SECONDS why
    export GOMA_SERVER_PORT=$port GOMA_COMPILER_PROXY_PORT
    GOMA_COMPILER_PROXY_PORT=$(gmc_free_port)
    if [ "$mode" = toolchain ]; then
        export GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true
    else
        export GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=false
    fi
    GOMA_PING_TIMEOUT_SEC=$((limit / 3)) timeout "$((limit / 2))" python3 "$GMC_BIN/goma_ctl.py" ensure_start \
        >"$log" 2>&1 || rc=$?
    GMC_PROXY_PID=$(gmc_proxy_pid)
    if grep -q "Now goma is ready" "$log" && grep -qE '^compiler proxy .* status: http://[^ ]+ ok$' "$log"; then
        echo "     compiler_proxy (pid ${GMC_PROXY_PID:-?}) ready in $((SECONDS - t0)) s"
        return 0
    fi
    why=$(gmc_start_failure "$log" "$rc" "$limit")
    if [ -n "$GMC_PROXY_PID" ] && gmc_wait_healthy $((t0 + limit)); then
        echo "     compiler_proxy (pid $GMC_PROXY_PID) ready in $((SECONDS - t0)) s: its /healthz says ok" \
            "(goma_ctl.py ensure_start did not: $why)"
        return 0
    fi
    echo "error: compiler_proxy did not start in $((SECONDS - t0)) s: $why;" \
        "$([ -n "$GMC_PROXY_PID" ] && echo "its /healthz said: ${GMC_HEALTH:-nothing}" || echo "it is not running")"
    gmc_show_logs "$log"
    return 1
}

# /healthz's first word, asked through the port `gomacc port` names (the
# way goma_ctl.py asks, with limits of our own); sets GMC_HEALTH.
gmc_healthz() {
    local p
    GMC_HEALTH=
    p=$(timeout 10 "$GMC_BIN/gomacc" port 2>/dev/null) || return 1
    [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" != 0 ] || return 1
    GMC_HEALTH=$(curl -fsS --noproxy '*' --max-time 10 "http://127.0.0.1:$p/healthz" 2>/dev/null | awk 'NR == 1')
    [ "${GMC_HEALTH%% *}" = ok ]
}

# gmc_wait_healthy UNTIL: until /healthz says ok, the proxy exits or
# $SECONDS reaches UNTIL.
gmc_wait_healthy() {
    until gmc_healthz; do
        kill -0 "$GMC_PROXY_PID" 2>/dev/null && [ "$SECONDS" -lt "$1" ] || return 1
        sleep 1
    done
}

# Why goma_ctl.py's start failed, in words, from its output and exit status.
gmc_start_failure() {
    local log=$1 rc=$2 limit=$3
    if grep -q "Now goma is ready" "$log"; then
        echo "it runs but has not reached the gateway: $(grep -m 1 'status:' "$log")"
    elif [ "$rc" = 124 ]; then
        echo "goma_ctl.py ensure_start had not finished after $((limit / 2)) s (killed)"
    elif grep -q "compiler_proxy is not running" "$log"; then
        echo "compiler_proxy exited while starting ($(grep -o 'compiler_proxy is not running.*' "$log" | tail -n 1))"
    elif grep -q "compiler_proxy is not ready" "$log"; then
        echo "its IPC socket did not answer \`gomacc port\` within GOMA_PING_TIMEOUT_SEC + 20 = $((limit / 3 + 20)) s"
    elif grep -q "Failed to start compiler_proxy" "$log"; then
        echo "it runs but its /healthz is not ok: $(grep 'status:' "$log" | tail -n 1)"
    else
        echo "goma_ctl.py ensure_start exited $rc without \"Now goma is ready!\""
    fi
}

# goma_ctl.py's output and the ends of compiler_proxy's own logs (its
# INFO log without the worker threads' once-a-second lines).
gmc_show_logs() {
    local f
    echo "     | goma_ctl.py ensure_start ($1):"
    tail -n 40 "$1" | sed 's/^/     |   /'
    echo "     | compiler_proxy of this run: ${GMC_PROXY_PID:-not running}"
    f=$GLOG_log_dir/compiler_proxy.INFO
    if [ -e "$f" ]; then
        echo "     | $f (last lines):"
        grep -vE 'worker_thread\.cc|RequestFromSocket::Finish|handle portz|I am healthy' "$f" | tail -n 25 | sed 's/^/     |   /'
    fi
    for f in compiler_proxy.ERROR compiler_proxy.FATAL compiler_proxy-subproc.ERROR; do
        [ -e "$GLOG_log_dir/$f" ] || continue
        echo "     | $GLOG_log_dir/$f (last lines):"
        tail -n 15 "$GLOG_log_dir/$f" | sed 's/^/     |   /'
    done
}

gmc_wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

gmc_stop_proxy() {
    [ -n "$GMC_BIN" ] || return 0
    [ -n "$GMC_PROXY_PID" ] || GMC_PROXY_PID=$(gmc_proxy_pid)
    gmc_ctl ensure_stop >>"$1" 2>&1 || true
    if [ -n "$GMC_PROXY_PID" ]; then
        gmc_wait_gone "$GMC_PROXY_PID" 15 || { kill -TERM "$GMC_PROXY_PID" 2>/dev/null || true; }
        gmc_wait_gone "$GMC_PROXY_PID" 10 || { kill -KILL "$GMC_PROXY_PID" 2>/dev/null || true; }
    fi
    GMC_PROXY_PID=
}

gmc_stat() { gmc_ctl stat >"$1" 2>/dev/null || true; }
gmc_statv() { sed -n "s/^ *$2:.*[ :]$3=\(-\{0,1\}[0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }
gmc_delta() {
    local a b
    a=$(gmc_statv "$1" "$3" "$4")
    b=$(gmc_statv "$2" "$3" "$4")
    if [ -n "$a" ] && [ -n "$b" ]; then echo $((b - a)); else echo "?"; fi
}
