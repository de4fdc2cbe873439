#!/usr/bin/env bash
# Rewrites the key table of docs/configuration.md from `gomabarn config-keys`
# (unit.docs_config_in_sync fails until this is run after a schema change).
#   bash scripts/regen-config-doc.sh [path/to/gomabarn]
set -euo pipefail
cd "$(dirname "$0")/.."
GOMABARN=${1:-build-normal/bin/gomabarn}
table=$("$GOMABARN" config-keys)
TABLE="$table" /usr/bin/python3 - docs/configuration.md <<'PY'
import os, sys
path = sys.argv[1]
lines = open(path).read().split("\n")
start = lines.index("| key | type | default | meaning |")
end = start
while end < len(lines) and lines[end].strip():
    end += 1
lines[start:end] = os.environ["TABLE"].split("\n")
open(path, "w").write("\n".join(lines))
PY
