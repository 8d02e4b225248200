#!/usr/bin/env bash
# The AWS SDK for JavaScript v3 suite of the client compatibility tests.
# test/clients/run.sh calls it after pytest, with the server it started
# described in the CLIENTS_* environment variables (see replicator.test.mjs).
#
#   bash test/clients/js/run-js.sh
#
# Installs test/clients/js/package-lock.json (npm ci) when node_modules is
# missing or the lock file changed since the last install, then runs
# `node --test test/clients/js/`. The exit code is node's, except that a run
# in which no test ran is a failure (1). Needs Node 20 or newer.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
DIR=test/clients/js

log() { printf 'clients-js: %s\n' "$*"; }
die() { printf 'clients-js: error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node 20 or newer is needed, found $(node --version)"

# --- Dependencies ------------------------------------------------------------
STAMP="$DIR/node_modules/.clients-package-lock.sha256"
lock_sum=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$DIR/node_modules" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$lock_sum" ]; then
	log "installing $DIR/package-lock.json (npm ci)"
	(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	echo "$lock_sum" >"$STAMP"
else
	log "reusing $DIR/node_modules (package-lock.json unchanged)"
fi
log "node $(node --version), @aws-sdk/client-kafka $(node -p "require('./$DIR/node_modules/@aws-sdk/client-kafka/package.json').version")"

# --- Tests -------------------------------------------------------------------
# The spec report goes to the terminal, a TAP copy to a file whose summary
# tells how many tests ran.
TAP=$(mktemp "${TMPDIR:-/tmp}/replicator-clients-js.XXXXXX")
NODE_PID=""
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
		kill -TERM "$NODE_PID" 2>/dev/null
		wait "$NODE_PID" 2>/dev/null
	fi
	rm -f "$TAP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "running node --test $DIR/"
# In the background so that a signal to this script is handled at once;
# cleanup stops node.
node --test \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$TAP" \
	"$DIR/" </dev/null &
NODE_PID=$!
set +e
wait "$NODE_PID"
rc=$?
set -e
NODE_PID=""

ran=$(sed -n 's/^# tests \([0-9][0-9]*\)$/\1/p' "$TAP" | tail -n1)
if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
	log "no test ran: failing"
	[ "$rc" -ne 0 ] || rc=1
elif [ "$rc" -ne 0 ]; then
	log "node --test exited $rc"
else
	log "all $ran JavaScript tests passed"
fi
exit "$rc"
