# Sourced by tests that build a real Debian source package through the
# gateway. Needs deb-src lines for Debian's archive (scripts/install-deps.sh
# adds them).
#
#   gmb_debian_orig PACKAGE   the upstream tree of PACKAGE (its .orig tarball
#                             unpacked, Debian's patches left out), fetched
#                             once with `apt-get source`; prints its path
#
# Cached under ${GOMABARN_CACHE:-/var/cache/gomabarn}/debian-src/PACKAGE-orig,
# like the other downloads the tests need; concurrent callers take turns.
gmb_debian_orig() {
    local pkg=$1
    local dir=${GOMABARN_CACHE:-/var/cache/gomabarn}/debian-src/$pkg-orig
    mkdir -p "$dir" || return 1
    (
        flock -w 600 8 || { echo "error: $dir.lock held for 10 minutes" >&2; exit 1; }
        [ -f "$dir/.complete" ] && exit 0
        rm -rf "$dir/dl" "$dir/src" && mkdir -p "$dir/dl" "$dir/src" || exit 1
        if ! (cd "$dir/dl" && timeout 300 apt-get -q source --download-only "$pkg") >"$dir/source.log" 2>&1; then
            echo "error: apt-get source $pkg failed (deb-src enabled? scripts/install-deps.sh does it); see $dir/source.log" >&2
            exit 1
        fi
        local orig
        orig=$(find "$dir/dl" -maxdepth 1 -name "${pkg}_*.orig.tar.*" | head -n 1)
        [ -n "$orig" ] && tar -xf "$orig" -C "$dir/src" || { echo "error: no upstream tarball of $pkg in $dir/dl" >&2; exit 1; }
        find "$dir/src" -mindepth 1 -maxdepth 1 -type d | head -n 1 >"$dir/.complete"
    ) 8>"$dir.lock" || return 1
    local tree
    tree=$(cat "$dir/.complete")
    [ -d "$tree" ] || { echo "error: $dir/.complete names $tree, which is gone; remove $dir" >&2; return 1; }
    echo "$tree"
}
