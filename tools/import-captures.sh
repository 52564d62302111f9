#!/usr/bin/env bash
# Copy captures made by tools/capture-bootlogs.sh into tests/fixtures/bootlogs,
# skipping boots in which the kernel printed nothing (no 'Linux version').
set -euo pipefail
src=$1; dst=${2:-tests/fixtures/bootlogs}
for raw in "$src"/*.raw; do
  base=${raw%.raw}; name=${base##*/}
  if grep -q 'Linux version' "$raw"; then
    cp "$raw" "$dst/$name.log"; cp "$base.cmd" "$dst/$name.cmd"
  else
    echo "skipped $name: the kernel printed nothing on the serial console" >&2
  fi
done
