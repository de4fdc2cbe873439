# Sourced by tests and benchmarks that compile a real Debian source package.
#
#   gmb_debian_src PKG CACHE_ROOT   fetch PKG with `apt-get source` (once) and
#                                   print its unpacked directory (Debian's
#                                   patches applied)
#   gmb_debian_orig PKG             the upstream tree of PKG (its .orig tarball
#                                   unpacked, Debian's patches left out), under
#                                   ${GOMABARN_CACHE:-/var/cache/gomabarn}; prints
#                                   its path; concurrent callers take turns
#
# A private apt configuration adds deb-src lines for the machine's own apt
# sources (nothing on the machine is changed). Cached under
# CACHE_ROOT/debian-src/PKG; gmb_debian_src's caller holds a lock if runs may
# overlap. Progress and apt's errors go to stderr and to logs beside the cache.

# deb822 .sources stanzas and one-line .list entries of type deb -> deb-src.
gmb_debian_src_list() {
    python3 - "$1" <<'EOF'
import glob, re, sys
out = []
for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        f = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                f[m.group(1).lower()] = m.group(2).split()
        if "deb" not in f.get("types", []) or f.get("enabled", ["yes"])[0] == "no":
            continue
        opt = "[signed-by=%s] " % f["signed-by"][0] if f.get("signed-by") else ""
        for uri in f.get("uris", []):
            for suite in f.get("suites", []):
                out.append("deb-src %s%s %s %s" % (opt, uri, suite, " ".join(f.get("components", []))))
for path in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):
    try:
        for line in open(path):
            if line.split()[:1] == ["deb"]:
                out.append("deb-src" + line.strip()[3:])
    except OSError:
        pass
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF
}

gmb_debian_src() {
    local pkg=$1 dir=$2/debian-src/$1
    if [ -f "$dir/.complete" ] && [ -d "$(cat "$dir/.complete")" ]; then
        cat "$dir/.complete"
        return 0
    fi
    rm -rf "$dir" && mkdir -p "$dir/lists/partial" "$dir/cache" "$dir/dl"
    command -v dpkg-source >/dev/null ||
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends dpkg-dev >&2
    gmb_debian_src_list "$dir/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
                -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
    # A third-party source without deb-src fails its part of the update;
    # `apt-get source` below says whether Debian's part is there.
    timeout 300 apt-get -q "${opts[@]}" update >"$dir/update.log" 2>&1 || true
    # The newest version first; an archive that lists a version it cannot
    # serve (a security mirror without sources) makes apt try the next.
    local v fetched=0
    for v in "" $(apt-cache "${opts[@]}" showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -Vru); do
        (cd "$dir/dl" && timeout 300 apt-get -q "${opts[@]}" source "$pkg${v:+=$v}") >>"$dir/source.log" 2>&1 &&
            fetched=1 && break
        rm -rf "${dir:?}"/dl/*
    done
    if [ "$fetched" != 1 ]; then
        echo "apt-get source $pkg failed; see $dir/source.log and $dir/update.log" >&2
        return 1
    fi
    local src
    src=$(find "$dir/dl" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -n 1)
    if [ -z "$src" ]; then
        echo "apt-get source $pkg unpacked no $pkg-* directory in $dir/dl" >&2
        return 1
    fi
    echo "$src" >"$dir/.complete"
    echo "$src"
}

# gmb_zlib_configure DIR LOG [EXTRA_CFLAGS]: configures zlib's source in DIR
# as debian/rules does (CFLAGS: dpkg-buildflags' CFLAGS and CPPFLAGS, then
# -Wall -D_REENTRANT -O3 -DUNALIGNED_OK), with EXTRA_CFLAGS appended.
gmb_zlib_configure() {
    local dir=$1 log=$2 cflags
    if command -v dpkg-buildflags >/dev/null; then
        cflags="$(cd "$dir" && dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
    else
        cflags="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -Wdate-time -D_FORTIFY_SOURCE=2"
    fi
    cflags="$cflags -Wall -D_REENTRANT -O3 -DUNALIGNED_OK${3:+ $3}"
    (cd "$dir" && CC=gcc CFLAGS="$cflags" uname=GNU timeout 120 ./configure --shared --prefix=/usr) >"$log" 2>&1
}

# Upstream trees: Debian's patched build system may differ (lua5.4's goes
# through libtool), the upstream one is what a user builds.
gmb_debian_orig() {
    local pkg=$1 root=${GOMABARN_CACHE:-/var/cache/gomabarn}
    local dir=$root/debian-src/$pkg-orig
    mkdir -p "$dir" || return 1
    (
        flock -w 600 8 || { echo "error: $dir.lock held for 10 minutes" >&2; exit 1; }
        [ -f "$dir/.complete" ] && [ -d "$(cat "$dir/.complete")" ] && exit 0
        local src orig
        src=$(gmb_debian_src "$pkg" "$root") || exit 1
        orig=$(find "$(dirname "$src")" -maxdepth 1 -name "${pkg}_*.orig.tar.*" | head -n 1)
        rm -rf "$dir/src" && mkdir -p "$dir/src" || exit 1
        [ -n "$orig" ] && tar -xf "$orig" -C "$dir/src" || { echo "error: no upstream tarball of $pkg beside $src" >&2; exit 1; }
        find "$dir/src" -mindepth 1 -maxdepth 1 -type d | head -n 1 >"$dir/.complete"
    ) 8>"$dir.lock" || return 1
    local tree
    tree=$(cat "$dir/.complete")
    [ -d "$tree" ] || { echo "error: $dir/.complete names $tree, which is gone; remove $dir" >&2; return 1; }
    echo "$tree"
}
