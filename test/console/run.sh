#!/usr/bin/env bash
# Browser test of the web console (api/console): builds the binary, starts
# `replicator dev` (throwaway PostgreSQL, API, two in-process Kafka clusters,
# two workers) on free ports, creates a replicator with the AWS SDK for
# JavaScript, produces records to the source topic while the tests run, and
# runs `node --test test/console/*.test.mjs`: the console's signer against the server,
# then the console in headless Chromium (playwright-core).
#
#   bash test/console/run.sh
#
# Needs Go, Node 20+ with npm, PostgreSQL's binaries (for `replicator dev`)
# and Debian's chromium (apt-get install chromium; run as root with CI=true,
# this script installs it when it is missing). Playwright never downloads a
# browser here: the test launches $CHROMIUM (default /usr/bin/chromium).
#
# Environment:
#   CHROMIUM                  browser executable (default /usr/bin/chromium)
#   CONSOLE_ARTIFACTS         screenshots (default test/console/artifacts)
#   CONSOLE_PRODUCE_SECONDS   longest time records are produced (default 180)
#
# The exit code is node's, except that a run in which no test ran is a
# failure (1). `replicator dev` is always stopped (SIGINT, as Ctrl-C) and
# everything else started here is stopped on exit, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DIR=test/console

log() { printf 'console: %s\n' "$*"; }
die() { printf 'console: error: %s\n' "$*" >&2; exit 1; }

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CONSOLE_ARTIFACTS=${CONSOLE_ARTIFACTS:-$ROOT/$DIR/artifacts}
PRODUCE_SECONDS=${CONSOLE_PRODUCE_SECONDS:-180}

WORK=""
DEV_PID=""
PRODUCER_PID=""
NODE_PID=""

stop_pid() { # pid signal seconds: signal, wait up to seconds, then SIGKILL
	local pid=$1 sig=$2 secs=$3
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid did not stop in ${secs} s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_pid "$NODE_PID" TERM 5
	stop_pid "$PRODUCER_PID" TERM 5
	if [ -n "$DEV_PID" ] && kill -0 "$DEV_PID" 2>/dev/null; then
		log "stopping replicator dev (SIGINT)"
		stop_pid "$DEV_PID" INT 20
	fi
	if [ "$rc" -ne 0 ] && [ -n "$WORK" ] && [ -s "$WORK/dev.err" ]; then
		log "last lines of replicator dev's log:"
		tail -n 30 "$WORK/dev.err" | sed 's/^/  dev: /'
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Prerequisites -----------------------------------------------------------
command -v go >/dev/null || die "go is not installed"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node 20 or newer is needed, found $(node --version)"
if [ ! -x "$CHROMIUM" ]; then
	if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && [ "$CHROMIUM" = /usr/bin/chromium ]; then
		log "installing Debian's chromium (apt-get)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		die "$CHROMIUM is missing: install Debian's chromium (as root: apt-get update && apt-get install -y chromium) or set CHROMIUM"
	fi
fi
log "$("$CHROMIUM" --version 2>/dev/null | grep -i chrom | head -n1)"

STAMP="$DIR/node_modules/.console-package-lock.sha256"
lock_sum=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$DIR/node_modules" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$lock_sum" ]; then
	log "installing $DIR/package-lock.json (npm ci)"
	(cd "$DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	echo "$lock_sum" >"$STAMP"
else
	log "reusing $DIR/node_modules (package-lock.json unchanged)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/replicator-console.XXXXXX")
rm -f "$CONSOLE_ARTIFACTS"/*.png
mkdir -p "$CONSOLE_ARTIFACTS"

log "building ./cmd/replicator"
go build -o "$WORK/replicator" ./cmd/replicator
BIN="$WORK/replicator"

# --- replicator dev ----------------------------------------------------------
PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
log "starting replicator dev on 127.0.0.1:$PORT"
# Its own throwaway PostgreSQL, whatever the environment points at. In the
# background so that a signal to this script is handled at once.
(cd "$WORK" && exec env -u DATABASE_URL "$BIN" dev --listen-addr "127.0.0.1:$PORT" --source-port 0 --target-port 0 --log-level warn \
	</dev/null >"$WORK/dev.out" 2>"$WORK/dev.err") &
DEV_PID=$!

field() { sed -n "s/^  $1  *\([^ ]*\).*/\1/p" "$WORK/dev.out" | head -n1; }
for _ in $(seq 1 600); do
	kill -0 "$DEV_PID" 2>/dev/null || { cat "$WORK/dev.out" "$WORK/dev.err" >&2; DEV_PID=""; die "replicator dev exited during start"; }
	grep -q '^replicator dev is running' "$WORK/dev.out" && [ -n "$(field 'target cluster')" ] && break
	sleep 0.1
done
ENDPOINT=$(field endpoint)
[ -n "$ENDPOINT" ] || { cat "$WORK/dev.out" "$WORK/dev.err" >&2; die "replicator dev did not report it was running in 60 s"; }
export CONSOLE_ENDPOINT=$ENDPOINT
export CONSOLE_REGION=$(field region)
export CONSOLE_KEY_ID=$(field 'access key')
export CONSOLE_SECRET=$(field 'secret key')
export CONSOLE_SOURCE=$(field 'source cluster')
export CONSOLE_TARGET=$(field 'target cluster')
export CONSOLE_REPLICATOR_NAME=console-demo
for v in CONSOLE_REGION CONSOLE_KEY_ID CONSOLE_SECRET CONSOLE_SOURCE CONSOLE_TARGET; do
	[ -n "${!v}" ] || { cat "$WORK/dev.out" >&2; die "could not read $v from replicator dev's output"; }
done
[ "$ENDPOINT" = "http://127.0.0.1:$PORT" ] || die "replicator dev serves $ENDPOINT, not 127.0.0.1:$PORT"
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ENDPOINT/readyz")" = 200 ] && break
	sleep 0.1
done
log "dev is up: API $ENDPOINT, source $CONSOLE_SOURCE, target $CONSOLE_TARGET, key $CONSOLE_KEY_ID"

# --- A replicator with traffic -----------------------------------------------
CONSOLE_ARN=$(cd "$DIR" && node --no-warnings create-replicator.mjs)
export CONSOLE_ARN
log "created $CONSOLE_ARN"

log "producing 200 records at a time to $CONSOLE_SOURCE/orders (for at most ${PRODUCE_SECONDS} s)"
(
	p=""
	trap '[ -z "$p" ] || kill "$p" 2>/dev/null; exit 0' TERM
	end=$(($(date +%s) + PRODUCE_SECONDS))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$BIN" produce --bootstrap "$CONSOLE_SOURCE" --topic orders --count 200 --value-size 200 --log-level warn >/dev/null &
		p=$!
		wait "$p" || echo "console: produce failed" >&2
		p=""
		sleep 0.3
	done
) </dev/null &
PRODUCER_PID=$!

# --- Tests -------------------------------------------------------------------
# The spec report goes to the terminal, a TAP copy to a file whose summary
# tells how many tests ran. In the background so that a signal to this
# script is handled at once; cleanup stops node.
TAP="$WORK/tap"
log "running node --test $DIR/*.test.mjs"
node --test \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$TAP" \
	"$DIR"/*.test.mjs </dev/null &
NODE_PID=$!
set +e
wait "$NODE_PID"
rc=$?
set -e
NODE_PID=""

ran=$(sed -n 's/^# tests \([0-9][0-9]*\)$/\1/p' "$TAP" | tail -n1)
skipped=$(sed -n 's/^# skipped \([0-9][0-9]*\)$/\1/p' "$TAP" | tail -n1)
if [ -z "$ran" ] || [ "$ran" -eq 0 ] || [ "$ran" -eq "${skipped:-0}" ]; then
	log "no test ran: failing"
	[ "$rc" -ne 0 ] || rc=1
elif [ "$rc" -ne 0 ]; then
	log "node --test exited $rc"
elif [ ! -s "$CONSOLE_ARTIFACTS/console.png" ]; then
	log "no screenshot at $CONSOLE_ARTIFACTS/console.png: failing"
	rc=1
else
	log "all $ran tests passed; screenshot: $CONSOLE_ARTIFACTS/console.png"
fi
exit "$rc"
