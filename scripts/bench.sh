#!/usr/bin/env bash
# Benchmarks (figures and ratios from one run; the machines are noisy):
# per-action times on both worker pools and the cache-hit path, 1,000
# Executes in flight, the FUSE view (reads, stat/readdir rates), the goma
# front end, reading Exec outputs back through the mount, and a real
# project (zlib) built locally, through gomabarn-cc and through Google's
# goma client, cold and warm.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-normal -G Ninja >/dev/null
cmake --build build-normal >/dev/null
tests/buildbarn/start.sh
build-normal/tests/bench/bench_rev2_exec "${1:-20}" hardlinking fuse
build-normal/tests/bench/bench_rev2_inflight 1000 hardlinking
build-normal/tests/bench/bench_rev2_inflight 1000 fuse
tests/bench/bench_mount.sh build-normal hardlinking
tests/bench/bench_goma.sh build-normal
tests/bench/bench_readback.sh build-normal
tests/bench/bench_toolchain_hits.sh build-normal
tests/bench/bench_exec_kinds.sh build-normal
tests/bench/bench_goma_client.sh build-normal
