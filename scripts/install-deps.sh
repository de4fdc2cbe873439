#!/usr/bin/env bash
# Installs every Debian package gomabarn's build and tests need.
# Idempotent; run as root. Safe to run again: apt skips what is present.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (apt-get needs it)" >&2
    exit 1
fi

PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libfuse3-dev fuse3
    libgrpc-dev
    protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
    libxxhash-dev libssl-dev libconfig-dev libmicrohttpd-dev zlib1g-dev
    python3 python3-protobuf python3-pytest python3-grpcio

    procps psmisc curl openssl binutils
    # clang: the sanitizer build (its UBSan catches more than gcc's) and the fuzz targets
    clang llvm libclang-rt-14-dev clang-format
    # chromium: integration.status_page renders the status pages in a real (headless) browser
    chromium
)

# deb-src for Debian's own archive, so tests and examples can compile real
# Debian source packages (apt-get source lua5.4) through gomabarn.
enable_deb_src() {
    local src=/etc/apt/sources.list.d/debian.sources out=/etc/apt/sources.list.d/gomabarn-deb-src.sources
    grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    [ -f "$src" ] || { echo "install-deps: no $src; add deb-src lines yourself for apt-get source" >&2; return 0; }
    sed 's/^Types: deb$/Types: deb-src/' "$src" >"$out"
    echo "install-deps: deb-src enabled ($out)"
    apt-get update -qq
}
enable_deb_src

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
