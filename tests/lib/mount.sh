# Sourced by the scripts that look through a gomabarn FUSE view
# (`gomabarn mount`, or `serve` with mount.enabled): start it, wait for it,
# take it down, name blobs in it. Builds on gateway.sh.
#
#   gmb_mount LOG CMD...         start `gomabarn mount`, wait for "mounted the CAS view"
#   gmb_wait_mounted MNT LOG     until MNT is in /proc/mounts (logs quieter than info)
#   gmb_unmount MNT              take MNT down, whatever state its daemon left it in
#   gmb_digest FILE              FILE's digest as the view names it: <sha256>-<size>
. "$(dirname "${BASH_SOURCE[0]}")/gateway.sh"

# Not /proc/mounts or a stat: a dead mount still looks present (the kernel
# caches its root). The daemon's own line says this start is up.
gmb_mount() {
    local log=$1
    shift
    gmb_start "$log" "$@"
    gmb_wait_log "$log" "mounted the CAS view"
}

# For a log level that hides the "mounted" line. Only for a mount point no
# earlier daemon used, where the /proc/mounts entry can only be this one's.
gmb_wait_mounted() {
    gmb_wait "$1 in /proc/mounts" "$2" "$GMB_WAIT_SECONDS" grep -qs " $1 " /proc/mounts
}

# fusermount3 for a mount its daemon left behind; the lazy umount for one
# still busy.
gmb_unmount() {
    fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}

gmb_digest() { echo "$(sha256sum "$1" | cut -d' ' -f1)-$(stat -c %s "$1")"; }
