#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a fixed budget each.
# Usage: scripts/fuzz.sh [FUZZTIME]   (a duration like 15s, or a count like 200000x)
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-15s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target ($budget)"
    go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$budget"
  done
done
