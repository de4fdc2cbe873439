# Sourced by start.sh and restart.sh: which cluster (data root and port
# offset), its processes and how one is started.
#
# Data root: $GOMABARN_BB_DIR (default /tmp/gomabarn-bb); logs in its logs/,
# pids in its pids/. A second, separate cluster (one a test may kill parts
# of) takes its own data root and GOMABARN_BB_PORT_OFFSET (default 0):
# every port moves by that much, e.g. 100 puts bb_storage on 127.0.0.1:9080.
BB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BB=${GOMABARN_BB_DIR:-/tmp/gomabarn-bb}
export GOMABARN_BB_PORT_OFFSET=${GOMABARN_BB_PORT_OFFSET:-0}
case $GOMABARN_BB_PORT_OFFSET in
'' | *[!0-9]*)
    echo "buildbarn: GOMABARN_BB_PORT_OFFSET=$GOMABARN_BB_PORT_OFFSET is not a number" >&2
    exit 1
    ;;
esac
ADMIN_URL=http://127.0.0.1:$((7982 + GOMABARN_BB_PORT_OFFSET))/
STORAGE=127.0.0.1:$((8980 + GOMABARN_BB_PORT_OFFSET))

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

# Buildbarn's configs see every environment variable as a Jsonnet extVar:
# bb_storage's guarded listeners read the credentials from there.
bb_export_credentials() {
    GOMABARN_BB_CA_PEM=$(cat "$BB/auth/ca.pem")
    GOMABARN_BB_JWKS=$(cat "$BB/auth/jwks.json")
    export GOMABARN_BB_CA_PEM GOMABARN_BB_JWKS
}

# bb_start BIN NAME: one process of the cluster, by its pid file's name
# (storage, scheduler, runner-POOL, worker-POOL), logging to logs/NAME.log.
bb_start() {
    local bin=$1 name=$2 program
    case $name in
    storage) program=bb_storage ;;
    scheduler) program=bb_scheduler ;;
    runner-*) program=bb_runner ;;
    worker-*) program=bb_worker ;;
    *)
        echo "buildbarn: no process is called $name" >&2
        return 1
        ;;
    esac
    # setsid: a process group of its own, so stop.sh can end it whole;
    # 9>&-: the daemon must not keep start.sh's lock. Appended: a
    # restarted process keeps one log across its lives.
    setsid "$bin/$program" "$BB_HERE/config/$name.jsonnet" >>"$BB/logs/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$BB/pids/$name.pid"
}
