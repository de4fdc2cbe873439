#!/usr/bin/env bash
# Builds bb_storage, bb_scheduler, bb_worker and bb_runner with plain Go
# from their Go modules at the versions pinned in go.mod, into a cache
# folder outside the repository keyed by those versions. A second run
# finds the binaries and returns at once. The last line of stdout is the
# folder holding the binaries.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_ROOT=${GOMABARN_CACHE:-/var/cache/gomabarn}

version_of() { awk -v m="$1" '$1 == m { print $2 }' "$HERE/go.mod"; }
BB_STORAGE=$(version_of github.com/buildbarn/bb-storage)
BB_REMOTE_EXECUTION=$(version_of github.com/buildbarn/bb-remote-execution)
if [ -z "$BB_STORAGE" ] || [ -z "$BB_REMOTE_EXECUTION" ]; then
    echo "buildbarn/build.sh: go.mod does not pin both Buildbarn modules" >&2
    exit 1
fi
# Key: the two commit hashes at the end of the pseudo-versions.
KEY="bre-${BB_REMOTE_EXECUTION##*-}_bbs-${BB_STORAGE##*-}"
OUT="$CACHE_ROOT/buildbarn/$KEY"
BIN="$OUT/bin"
PROGRAMS=(bb_storage bb_scheduler bb_worker bb_runner)

have_all() { for p in "${PROGRAMS[@]}"; do [ -x "$BIN/$p" ] || return 1; done; }
# Two clusters (start.sh with different port offsets) may start at once:
# one builds, the other then finds the binaries.
mkdir -p "$CACHE_ROOT/buildbarn"
exec 8>"$CACHE_ROOT/buildbarn/build.lock"
flock -w 1200 8 || { echo "buildbarn/build.sh: another build holds the lock for 20 min" >&2; exit 1; }
if have_all; then
    echo "buildbarn/build.sh: reusing binaries for $KEY" >&2
    echo "$BIN"
    exit 0
fi

# Go 1.26.6 or newer: the pinned bb-remote-execution requires it.
if ! command -v go >/dev/null; then
    echo "buildbarn/build.sh: Go is not installed (need 1.26.6 or newer)" >&2
    exit 1
fi
GOV=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n1.26.6\n' "$GOV" | sort -V | head -n1)" != "1.26.6" ]; then
    echo "buildbarn/build.sh: Go $GOV is too old; the pinned Buildbarn needs 1.26.6 or newer" >&2
    exit 1
fi

export GOMODCACHE="$CACHE_ROOT/go/mod" GOCACHE="$CACHE_ROOT/go/build"
export GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "buildbarn/build.sh: building $KEY with Go $GOV (cold: a few minutes on 2 cores)" >&2
START=$SECONDS

# Build in a scratch copy of our module so the bytestream fix below never
# touches the repository's go.mod.
WORK="$OUT/src"
rm -rf "$WORK"
mkdir -p "$WORK" "$BIN"
cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$WORK/"
cd "$WORK"
# No blanket `go mod download`: the module proxy reachable here refuses the
# .info endpoint of some pinned pseudo-versions (403) while serving their
# .mod and .zip, which is all `go build` asks for.

# Trap 1: bb_storage passes a grpc.ServiceRegistrar to
# bytestream.RegisterByteStreamServer, which this genproto module declares
# with *grpc.Server. Upstream's Bazel build patches that one parameter
# type; we do the same on a private copy and point a replace line at it.
BS_MOD=google.golang.org/genproto/googleapis/bytestream
BS_VER=$(awk -v m="$BS_MOD" '$1 == m { print $2 }' go.mod)
BS_SRC=$(go mod download -json "$BS_MOD@$BS_VER" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$BS_VER" ] || [ ! -d "$BS_SRC" ]; then
    echo "buildbarn/build.sh: cannot find $BS_MOD in go.mod or the module cache" >&2
    exit 1
fi
mkdir -p "$WORK/patched"
cp -r "$BS_SRC" "$WORK/patched/bytestream"
chmod -R u+w "$WORK/patched/bytestream"
sed -i 's/func RegisterByteStreamServer(s \*grpc\.Server,/func RegisterByteStreamServer(s grpc.ServiceRegistrar,/' \
    "$WORK"/patched/bytestream/*.go
grep -q 'func RegisterByteStreamServer(s grpc.ServiceRegistrar,' "$WORK"/patched/bytestream/*.go || {
    echo "buildbarn/build.sh: could not apply the bytestream fix to $BS_MOD@$BS_VER" >&2
    exit 1
}
go mod edit -replace "$BS_MOD@$BS_VER=./patched/bytestream"

go build -trimpath -o "$BIN/bb_storage" github.com/buildbarn/bb-storage/cmd/bb_storage
for p in bb_scheduler bb_worker bb_runner; do
    go build -trimpath -o "$BIN/$p" "github.com/buildbarn/bb-remote-execution/cmd/$p"
done
rm -rf "$WORK"
echo "buildbarn/build.sh: built in $((SECONDS - START)) s" >&2
echo "$BIN"
