#!/usr/bin/env bash
# Checks that a shipped program was built hardened, the way checksec does,
# from its ELF headers (readelf): PIE, full RELRO, a non-executable stack,
# the stack protector, and (when FORTIFY is expected) glibc's checked
# functions (__*_chk). Usage: check_hardening.sh BINARY [fortify|no-fortify]
set -uo pipefail
bin=$1
want_fortify=${2:-fortify}
fails=0
check() {
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
headers=$(readelf -W -h -l -d "$bin" 2>/dev/null) || { echo "FAIL cannot read $bin"; echo "0 passed, 1 failed"; exit 1; }
symbols=$(readelf -W --dyn-syms "$bin")
check "$bin: position-independent executable (ELF type DYN)" grep -q 'Type:.*DYN' <<<"$headers"
check "$bin: RELRO segment" grep -q 'GNU_RELRO' <<<"$headers"
check "$bin: bound at start (BIND_NOW: full RELRO)" grep -Eq '\(BIND_NOW\)|FLAGS.*NOW' <<<"$headers"
check "$bin: stack not executable" bash -c 'grep -E "GNU_STACK" <<<"$1" | grep -vq "RWE"' _ "$headers"
check "$bin: stack protector (__stack_chk_fail)" grep -q '__stack_chk_fail' <<<"$symbols"
if [ "$want_fortify" = fortify ]; then
    check "$bin: FORTIFY_SOURCE (checked __*_chk functions)" grep -Eq '__[a-z_]+_chk(@|$| )' <<<"$symbols"
fi
total=$([ "$want_fortify" = fortify ] && echo 6 || echo 5)
echo "$((total - fails)) passed, $fails failed"
[ $fails -eq 0 ]
