# Sourced by the shell tests, the benchmarks and scripts/run.sh: start a
# gomabarn daemon with a log, wait for it with a deadline, stop it.
# Safe under `set -e`: a helper fails only where it says so.
#
#   gmb_conf FILE LINE...        a configuration: the workers' platform, then LINE...
#   gmb_start LOG CMD...         CMD in the background; sets GMB_PID
#   gmb_wait WHAT LOG SECS CMD...  until CMD succeeds, else an error with LOG's tail
#   gmb_wait_log LOG TEXT [SECS] until this start has logged TEXT
#   gmb_serve LOG CMD...         start `gomabarn serve`, wait until it listens; sets GMB_PORT
#   gmb_stop PID [SIGNAL [SECS]] stop a daemon, returns its exit status
#   gmb_stop_all                 stop every daemon still running (for EXIT traps)
#   gmb_hold_port FILE           hold a free port busy; its number in FILE, sets GMB_PID

GMB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The workers' container image: the example configuration is the one place
# that names it, so the tests cannot drift from what the README runs.
GMB_IMAGE=$(sed -n 's/^ *container_image = "\(.*\)";/\1/p' "$GMB_REPO/config/gomabarn.conf.example")
GMB_WAIT_SECONDS=10   # how long a daemon may take to come up
GMB_PIDS=()           # daemons started and not yet stopped

gmb_conf() {
    local file=$1
    shift
    {
        printf 'platform = { container_image = "%s"; };\n' "$GMB_IMAGE"
        printf '%s\n' "$@"
    } >"$file"
}

# The log is appended to, not truncated: a restarted daemon keeps one log
# across its lives. GMB_LOG_MARK remembers where this start began, so the
# waits below look only at what this start wrote.
gmb_start() {
    local log=$1
    shift
    GMB_LOG_MARK=0
    if [ -f "$log" ]; then GMB_LOG_MARK=$(wc -l <"$log"); fi
    "$@" >>"$log" 2>&1 </dev/null &
    GMB_PID=$!
    GMB_PIDS+=("$GMB_PID")
}

# The lines of LOG written since the last gmb_start.
gmb_log_since_start() { tail -n "+$((GMB_LOG_MARK + 1))" "$1" 2>/dev/null; }

# Each wait also ends early, with the same error, when the daemon last
# started has exited: it will not come up any more.
gmb_wait() {
    local what=$1 log=$2 secs=$3 why
    shift 3
    local deadline=$((SECONDS + secs))
    until "$@"; do
        if ! gmb_alive "$GMB_PID"; then
            "$@" && return 0   # it did its part and then exited
            why="pid $GMB_PID exited"
        elif [ "$SECONDS" -ge "$deadline" ]; then
            why="gave up after $secs s"
        else
            sleep 0.1
            continue
        fi
        echo "error: waiting for $what: $why; last lines of $log:" >&2
        tail -n 20 "$log" >&2 2>/dev/null
        return 1
    done
}

# Not `gmb_log_since_start | grep -q`: grep -q exits at the first match, the
# writer then dies of SIGPIPE and, under `set -o pipefail`, a line that is
# there reads as missing. Here the writer's status is not looked at.
gmb_logged() { grep -q -- "$2" < <(gmb_log_since_start "$1"); }
gmb_wait_log() {
    gmb_wait "\"$2\" in the log" "$1" "${3:-$GMB_WAIT_SECONDS}" gmb_logged "$1" "$2"
}

gmb_serve() {
    local log=$1
    shift
    gmb_start "$log" "$@"
    gmb_wait_log "$log" "listening on" || return 1
    # The first port logged (sed quits there: no pipe for SIGPIPE to fail).
    GMB_PORT=$(sed -n '/listening on 127\.0\.0\.1:[0-9]/{s/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p;q}' \
        < <(gmb_log_since_start "$log"))
}

# Alive and not a zombie: an exited child stays in the process table (and
# answers kill -0) until it is waited for.
gmb_alive() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${stat:0:1}" != Z ]
}

# Stopping has a deadline too: a daemon stuck in its shutdown (a FUSE
# unmount, say) is killed rather than hanging the test until ctest's timeout.
gmb_stop() {
    local pid=$1 sig=${2:-TERM} secs=${3:-30} rc=0 late= p rest=()
    local deadline=$((SECONDS + secs))
    # stderr off: bash would print "Killed" when it reaps a SIGKILLed daemon.
    {
        kill -"$sig" "$pid" || true
        while gmb_alive "$pid"; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                late=1
                kill -KILL "$pid" || true
                break
            fi
            sleep 0.1
        done
        # A killed daemon whose own thread waits on its own FUSE mount can
        # hang in the kernel: abort gomabarn's FUSE connections, then wait
        # only for a process that is gone (never block on one that is not).
        if [ -n "$late" ] || [ "$sig" = KILL ]; then
            local until=$((SECONDS + 5))
            while gmb_alive "$pid" && [ "$SECONDS" -lt "$until" ]; do sleep 0.1; done
            gmb_alive "$pid" && gmb_abort_fuse
        fi
        if gmb_alive "$pid"; then
            echo "error: pid $pid does not die even after SIGKILL and a FUSE abort; not waiting for it" >&2
            rc=1
        else
            wait "$pid" || rc=$?
        fi
    } 2>/dev/null
    [ -z "$late" ] || echo "error: pid $pid still running $secs s after SIG$sig; killed it" >&2
    # Forget it, so no later stop signals a reused pid.
    for p in "${GMB_PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
    GMB_PIDS=("${rest[@]}")
    return "$rc"
}

# Aborts every FUSE connection of a gomabarn view (fsname=gomabarn): the
# kernel then fails the requests a dead daemon left waiting. The connection
# id is the minor device number mountinfo gives (no stat of the mount,
# which would hang on it).
gmb_abort_fuse() {
    local dev
    [ -e /sys/fs/fuse/connections/abort ] || [ -n "$(ls /sys/fs/fuse/connections 2>/dev/null)" ] ||
        mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || true
    for dev in $(awk '$0 ~ / - fuse(\.gomabarn)? gomabarn / {split($3, d, ":"); print d[2]}' /proc/self/mountinfo); do
        [ -w "/sys/fs/fuse/connections/$dev/abort" ] && echo 1 >"/sys/fs/fuse/connections/$dev/abort"
    done
    return 0
}

gmb_stop_all() {
    local p
    for p in "${GMB_PIDS[@]}"; do gmb_stop "$p" || true; done
}

# A listener on a free port for as long as a test needs a port in use
# (60 s at most); the port's number goes to FILE once it is bound.
gmb_hold_port() {
    : >"$1"   # here, not in the background: an old number must not count
    python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$1" &
    GMB_PID=$!
    GMB_PIDS+=("$GMB_PID")
    gmb_wait "the listener's port number" "$1" 5 test -s "$1"
}
