# Sourced by the shell tests: `check NAME COMMAND...` runs COMMAND and
# counts it as passed or failed; `check_report` prints the closing
# "N passed, N failed" line and returns non-zero on any failure.
passed=0
failed=0
check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}
check_report() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
