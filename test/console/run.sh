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

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin console
DIR=test/console

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CONSOLE_ARTIFACTS=${CONSOLE_ARTIFACTS:-$SUITE_ROOT/$DIR/artifacts}
PRODUCE_SECONDS=${CONSOLE_PRODUCE_SECONDS:-180}

# --- Prerequisites -----------------------------------------------------------
command -v go >/dev/null || die "go is not installed"
need_node
if [ ! -x "$CHROMIUM" ]; then
	if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && [ "$CHROMIUM" = /usr/bin/chromium ]; then
		log "installing Debian's chromium (apt-get)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		die "$CHROMIUM is missing: install Debian's chromium (as root: apt-get update && apt-get install -y chromium) or set CHROMIUM"
	fi
fi
log "$("$CHROMIUM" --version 2>/dev/null | grep -i chrom | head -n1)"
npm_ci "$DIR"

suite_work
rm -f "$CONSOLE_ARTIFACTS"/*.png
mkdir -p "$CONSOLE_ARTIFACTS"

log "building ./cmd/replicator"
go build -o "$WORK/replicator" ./cmd/replicator
BIN="$WORK/replicator"

# --- replicator dev ----------------------------------------------------------
dev_start "$BIN"
export CONSOLE_ENDPOINT=$DEV_ENDPOINT CONSOLE_REGION=$DEV_REGION CONSOLE_KEY_ID=$DEV_KEY CONSOLE_SECRET=$DEV_SECRET
export CONSOLE_SOURCE=$DEV_SOURCE CONSOLE_TARGET=$DEV_TARGET CONSOLE_REPLICATOR_NAME=console-demo
log "dev is up: API $CONSOLE_ENDPOINT, source $CONSOLE_SOURCE, target $CONSOLE_TARGET, key $CONSOLE_KEY_ID"

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
stop_on_exit $! TERM 5

# --- Tests -------------------------------------------------------------------
rc=0
node_tests "$DIR"/*.test.mjs || rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$CONSOLE_ARTIFACTS/console.png" ]; then
	log "no screenshot at $CONSOLE_ARTIFACTS/console.png: failing"
	rc=1
elif [ "$rc" -eq 0 ]; then
	log "screenshot: $CONSOLE_ARTIFACTS/console.png"
fi
exit "$rc"
