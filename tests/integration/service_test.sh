#!/usr/bin/env bash
# `gomabarn serve` as its systemd unit runs it (config/systemd/gomabarn.service:
# Restart=on-failure), against the real Buildbarn with the real mount
# (usage: service_test.sh GOMABARN GOMABARN_CC): blobs stored through goma's
# StoreFile and a compile through gomabarn-cc; then, under load (StoreFile
# loops and compile loops), `kill -9` and a restart with the same config.
# Asserted: it serves again (ping) within seconds (figures printed), the
# dead mount is repaired and reads work, every blob acknowledged before the
# kill is still found by LookupFile with its bytes, the same compile is an
# action-cache hit with no missing-input round, the kill's unfinished
# files in cache.dir/tmp are removed by the next start and nothing else is
# left there, and every file in blobs/ matches its digest.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GOMABARN=$(realpath "$1")
CC_BIN=$(realpath "$2")
REPO=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/gomabarn-service-XXXXXX)
MNT="$WORK/mnt"
CACHE="$WORK/cache"
. "$REPO/tests/lib/mount.sh"
LOAD_PIDS=()
stop_load() { # the loops end at the stop file; each gets 20 s, then it is killed
    local p deadline=$((SECONDS + 20))
    touch "$WORK/stop"
    for p in "${LOAD_PIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    LOAD_PIDS=()
}
trap 'stop_load; gmb_stop_all; gmb_unmount "$MNT"; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
. "$HERE/check.sh"
unset GOMABARN_RACE GOMABARN_DEADLINE GOMABARN_FALLBACK GOMABARN_VERBOSE GOMABARN_INSTANCE
export XDG_CACHE_HOME="$WORK/xdg"

# The restarted daemon must come back on the same port, as a unit does.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gmb_conf serve.conf "http = { port = $PORT; max_body_bytes = 16777216; };" \
    "cache = { dir = \"$CACHE\"; max_bytes = 4294967296L; };" \
    "mount = { enabled = true; path = \"$MNT\"; };"
export GOMABARN_SERVER=127.0.0.1:$PORT
URL=http://127.0.0.1:$PORT/cxx-compiler-service

# goma's file service from Python's protobuf (goma's own messages, with groups).
mkdir pb
protoc -I"$REPO/tests/python" --python_out=pb goma_groups_test.proto || exit 1
cat >files.py <<'EOF'
"""store N KEYS | loop KEYS STOP | lookup KEYS...: goma's StoreFile and
LookupFile. Every key the gateway acknowledged is appended to KEYS only
after its answer came; lookup checks that each comes back with the bytes
that hash to it."""
import hashlib, http.client, os, random, sys, time
sys.path.insert(0, "pb")
import goma_groups_test_pb2 as gg

HOST, PORT = "127.0.0.1", int(os.environ["PORT"])
PREFIX = "/cxx-compiler-service"
SIZES = [1, 700, 20000, 300000, 1500000]


def post(path, body):
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": "binary/x-protocol-buffer"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def file_blob(size):
    data = os.urandom(size)
    return gg.FileBlob(blob_type=1, content=data, file_size=size).SerializeToString()


def store(blobs, keys_file):
    req = gg.StoreFileReq()
    for b in blobs:
        req.blob.add().ParseFromString(b)
    status, body = post(PREFIX + "/s", req.SerializeToString())
    if status != 200:
        raise RuntimeError("StoreFile: HTTP %d" % status)
    keys = list(gg.StoreFileResp.FromString(body).hash_key)
    want = [hashlib.sha256(b).hexdigest() for b in blobs]
    if keys != want:
        raise RuntimeError("StoreFile answered %s, expected %s" % (keys, want))
    with open(keys_file, "a") as f:
        f.write("".join(k + "\n" for k in keys))


def chunked(keys_file):
    """A 5 MiB file as goma sends it: FILE_CHUNKs first, then the FILE_META."""
    data = os.urandom(5 << 20)
    chunks = [gg.FileBlob(blob_type=3, offset=o, content=data[o:o + (2 << 20)],
                          file_size=len(data)).SerializeToString() for o in range(0, len(data), 2 << 20)]
    for c in chunks:
        store([c], keys_file)
    meta = gg.FileBlob(blob_type=2, file_size=len(data),
                       hash_key=[hashlib.sha256(c).hexdigest() for c in chunks]).SerializeToString()
    store([meta], keys_file)


def lookup(keys_files):
    keys = []
    for name in keys_files:
        keys += open(name).read().split()
    missing = 0
    for i in range(0, len(keys), 20):
        batch = keys[i:i + 20]
        status, body = post(PREFIX + "/l", gg.LookupFileReq(hash_key=batch).SerializeToString())
        if status != 200:
            raise RuntimeError("LookupFile: HTTP %d" % status)
        got = gg.LookupFileResp.FromString(body).blob
        if len(got) != len(batch):
            raise RuntimeError("LookupFile: %d blobs for %d keys" % (len(got), len(batch)))
        for k, b in zip(batch, got):
            if b.blob_type == 0 or hashlib.sha256(b.SerializeToString()).hexdigest() != k:
                print("lost or damaged:", k)
                missing += 1
    print("looked up %d keys, %d lost" % (len(keys), missing))
    return missing == 0 and len(keys) > 0


mode = sys.argv[1]
if mode == "store":  # N blobs of mixed sizes, one request each, plus one chunked file
    n, keys_file = int(sys.argv[2]), sys.argv[3]
    for i in range(n):
        store([file_blob(SIZES[i % len(SIZES)])], keys_file)
    chunked(keys_file)
    # One whole FILE whose content the mount must show: content in probe.bin.
    data = os.urandom(4096)
    open("probe.bin", "wb").write(data)
    store([gg.FileBlob(blob_type=1, content=data, file_size=len(data)).SerializeToString()], keys_file)
elif mode == "loop":  # until the stop file exists; errors (the gateway is down) are expected
    keys_file, stop = sys.argv[2], sys.argv[3]
    rnd = random.Random()
    while not os.path.exists(stop):
        try:
            store([file_blob(rnd.choice(SIZES)) for _ in range(rnd.randint(1, 3))], keys_file)
        except Exception:
            time.sleep(0.05)
elif mode == "lookup":
    sys.exit(0 if lookup(sys.argv[2:]) else 1)
EOF
export PORT

start() { gmb_start serve.log "$GOMABARN" serve --config serve.conf; pid=$GMB_PID; }
pinged() { curl -fsS -m 2 -o /dev/null "$URL/ping" 2>/dev/null; }
# Not gmb_logged: its `grep -q` under pipefail fails when grep quits
# before tail has written a log longer than a pipe buffer.
in_log() { gmb_log_since_start serve.log | grep -c -- "$1" >/dev/null; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- First life: stored blobs and a compile.
start
gmb_wait "ping" serve.log "$GMB_WAIT_SECONDS" pinged || exit 1
gmb_wait_log serve.log "mounted the CAS view" || exit 1
/usr/bin/python3 files.py store 40 before.keys
rc=$?
check "40 blobs and a 5 MiB chunked file stored (StoreFile)" test $rc -eq 0 -a "$(wc -l <before.keys)" -eq 45

# A source over goma's embedding limit goes by key first: the gateway asks
# for it (a missing-input round) and keeps it.
mkdir cc && cp "$REPO"/tests/data/sample/* cc/
{ echo "/* $WORK $(head -c 3000 /dev/urandom | base64 -w0) */"; echo '#include "greet.h"'; echo "int medium(void) { return 3; }"; } >cc/medium.c
compile() { (cd cc && GOMABARN_FALLBACK=0 GOMABARN_VERBOSE=1 "$CC_BIN" gcc -O2 -c medium.c -o medium.o 2>"../$1"); }
compile cc1.err
check "a compile through gomabarn-cc succeeds" test $? -eq 0
check "... on the gateway" grep -q "medium.c compiled on the gateway (exit 0)" cc1.err
check "... after a missing-input round" grep -q "inputs missing on the gateway; sending them" cc1.err
(cd cc && gcc -O2 -c medium.c -o medium.local.o)
check "... the object equals a local compile" cmp -s cc/medium.o cc/medium.local.o
ACTION=$(sed -n 's|.*action \([0-9a-f]\{64\}\)/\([0-9]*\) on "hardlinking".*|\1-\2|p' serve.log | tail -1)
check "... its action digest is logged" test -n "$ACTION"

# --- Load: two StoreFile loops, two compile loops (each a new source), then kill -9.
/usr/bin/python3 files.py loop load1.keys stop &
LOAD_PIDS+=($!)
/usr/bin/python3 files.py loop load2.keys stop &
LOAD_PIDS+=($!)
for j in 1 2; do
    mkdir "load$j" && cp "$REPO"/tests/data/sample/greet.h "load$j/"
    (
        cd "load$j"
        n=0
        while [ ! -e ../stop ]; do
            n=$((n + 1))
            printf '#include "greet.h"\nint f%s_%s(void) { return %s; } /* %s */\n' "$j" "$n" "$n" "$WORK" >"s$n.c"
            GOMABARN_VERBOSE=1 timeout 60 "$CC_BIN" gcc -c "s$n.c" -o "s$n.o" 2>>cc.err && echo "$n" >>done
        done
    ) &
    LOAD_PIDS+=($!)
done
loaded() { [ "$(cat load1.keys load2.keys 2>/dev/null | wc -l)" -ge 30 ] && [ -s load1/done ] && [ -s load2/done ]; }
gmb_wait "load to get going" serve.log 60 loaded || exit 1
sleep 1
OLD=$pid
T_KILL=$(date +%s%N)
gmb_stop "$pid" KILL
# What the kill left: the keys acknowledged so far (nobody answers now),
# and unfinished files.
cat before.keys load1.keys load2.keys >acked_before_kill.keys
acked_at_kill=$(wc -l <acked_before_kill.keys)
left_tmp=$(find "$CACHE/tmp" -type f | wc -l)
echo "killed pid $OLD under load: $acked_at_kill keys acknowledged, $left_tmp unfinished files in cache.dir/tmp"
check "the kill leaves a dead mount" sh -c "! ls '$MNT' >/dev/null 2>&1"

# --- Second life: same config, at once (what Restart=on-failure does, after RestartSec).
T_START=$(date +%s%N)
start
gmb_wait "ping after the restart" serve.log 10 pinged
check "restarted with the same config: ping answers" test $? -eq 0
serving_ms=$(ms_since "$T_START")
kill_to_serving_ms=$(ms_since "$T_KILL")
PROBE="$MNT/cas/hardlinking/blobs/sha256/file/$(gmb_digest probe.bin)"
gmb_wait "the mount after the restart" serve.log 10 cmp -s "$PROBE" probe.bin
check "the mount works again: a stored blob reads back through it" test $? -eq 0
mount_ms=$(ms_since "$T_START")
echo "restart-to-serving ${serving_ms} ms (kill-to-serving ${kill_to_serving_ms} ms), restart-to-mount ${mount_ms} ms"
check "... serving within 5 s of the restart" test "$serving_ms" -lt 5000
check "... the dead mount was detached" in_log "dead FUSE mount"
check "... the compile's action is browsable" cmp -s "$MNT/by-instance/hardlinking/$ACTION/output/medium.o" cc/medium.o
check "... the kill's unfinished files are gone" sh -c "! ls '$CACHE/tmp' | grep -q '^$OLD-'"
if [ "$left_tmp" -gt 0 ]; then
    check "... removed by the start-up (logged)" in_log "removed $left_tmp unfinished files"
fi

# Clients carry on against the new daemon.
n1=$(cat load1.keys load2.keys | wc -l)
more() { [ "$(cat load1.keys load2.keys | wc -l)" -ge $((n1 + 10)) ]; }
gmb_wait "StoreFile after the restart" serve.log 30 more
check "StoreFile loops store again after the restart" test $? -eq 0
stop_load
check "compiles under load went through the gateway" grep -q "compiled on the gateway" load1/cc.err load2/cc.err

# --- Nothing acknowledged is lost.
/usr/bin/python3 files.py lookup acked_before_kill.keys >lookup1.out 2>&1
rc=$?
check "every blob acknowledged before the kill is found, bytes intact ($(tail -1 lookup1.out))" test $rc -eq 0
/usr/bin/python3 files.py lookup before.keys load1.keys load2.keys >lookup2.out 2>&1
rc=$?
check "... and every one acknowledged at all ($(tail -1 lookup2.out))" test $rc -eq 0
compile cc2.err
check "the same compile after the restart succeeds" test $? -eq 0
check "... from the action cache" grep -q "medium.c compiled on the gateway, from the cache (exit 0)" cc2.err
check "... without a missing-input round (the gateway kept the source)" sh -c "! grep -q 'inputs missing' cc2.err"
check "... the object is the same" cmp -s cc/medium.o cc/medium.local.o

# --- No leftovers: a clean stop, then cache.dir holds blobs only.
gmb_stop "$pid" TERM
check "SIGTERM: exit 0" test $? -eq 0
check "SIGTERM unmounts" sh -c "! grep -qs ' $MNT ' /proc/mounts"
stray=$(find "$CACHE" -mindepth 1 ! -path "$CACHE/blobs" ! -path "$CACHE/blobs/*" ! -path "$CACHE/tmp" ! -path "$CACHE/lock" | head -5)
check "cache.dir holds nothing but blobs/, an empty tmp/ and its lock${stray:+ (found: $stray)}" test -z "$stray"
bad_blobs() {
    local f name
    find "$CACHE/blobs" -type f | while read -r f; do
        name=$(basename "$f")
        [ "$(sha256sum "$f" | cut -c1-64)-$(stat -c %s "$f")" = "$name" ] || echo "$f"
    done
}
bad=$(bad_blobs | head -3)
check "every file in blobs/ matches its digest ($(find "$CACHE/blobs" -type f | wc -l) files)${bad:+: $bad}" test -z "$bad"

echo "figures: restart_to_serving_ms=$serving_ms kill_to_serving_ms=$kill_to_serving_ms restart_to_mount_ms=$mount_ms" \
    "acked_before_kill=$acked_at_kill unfinished_at_kill=$left_tmp"
[ "$failed" -eq 0 ] || tail -30 serve.log
check_report
