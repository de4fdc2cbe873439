#!/usr/bin/env bash
# docs/configuration.md must hold exactly the table `gomabarn config-keys`
# prints, so the reference cannot drift from the schema.
set -euo pipefail
GOMABARN=$1
DOC=$2
expected=$("$GOMABARN" config-keys)
actual=$(sed -n '/^| key | type | default | meaning |$/,/^$/p' "$DOC" | sed '/^$/d')
if [ "$expected" != "$actual" ]; then
    echo "docs/configuration.md is out of date; regenerate its table with 'gomabarn config-keys':"
    diff <(echo "$expected") <(echo "$actual") || true
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
