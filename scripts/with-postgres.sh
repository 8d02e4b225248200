#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a throwaway PostgreSQL
# (started from the installed binaries), unless TEST_DATABASE_URL is set.
# The server is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi
dir="${PGTMP_DIR:-$(mktemp -d /tmp/replicator-pg.XXXXXX)}"
chmod 755 "$dir"
go build -o .cache/pgtmp ./internal/tools/pgtmp
.cache/pgtmp stop --dir "$dir" >/dev/null 2>&1 || true
cleanup() { .cache/pgtmp stop --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
TEST_DATABASE_URL="$(.cache/pgtmp start --dir "$dir")"
export TEST_DATABASE_URL
echo "with-postgres: PostgreSQL for this run at ${TEST_DATABASE_URL}" >&2
"$@"
