#!/usr/bin/env bash
# The integration suite against real Apache Kafka, start to end:
#
#   bash test/kafka/integration.sh [go test flags, e.g. -run TestSASL]
#
# 1. fetch  the Kafka jars from Maven Central (test/kafka/kafka.sh fetch; skipped when cached)
# 2. up     two single-node KRaft clusters on loopback (kafka.sh up)
# 3. suite  go test -tags integration ./internal/integration/ -count=1 -v
# 4. down   stop the clusters and remove their data, always (also on failure or Ctrl-C)
#
# Each stage prints its duration. The exit code is the suite's (or that of
# the stage that failed). When the suite fails, the brokers' logs are kept in
# $KAFKA_CACHE/last-logs and their tails printed; the replicator processes'
# logs are in .cache/integration-logs. Clusters left running by an earlier
# run of the same KAFKA_CACHE are stopped first.
#
# Environment: everything kafka.sh reads (KAFKA_CACHE, ports, KAFKA_HEAP),
# TEST_DATABASE_URL, REPLICATOR_TEST_TIME_SCALE, INTEGRATION_TIMEOUT (go test
# -timeout, default 20m), CI (=true: missing infrastructure fails the run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
KAFKA_SH="$ROOT/test/kafka/kafka.sh"
GO=${GO:-go}
start_all=$(date +%s)
suite_failed=""

stage() {
	local name=$1
	shift
	local t0 rc=0
	t0=$(date +%s)
	echo "=== integration stage: $name"
	"$@" || rc=$?
	echo "=== integration stage: $name $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $(($(date +%s) - t0))s"
	return "$rc"
}

down() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$suite_failed" ]; then
		for name in source target; do
			log=$(ls "${KAFKA_CACHE:-$ROOT/.cache/kafka}"/run/$name/logs/server.log 2>/dev/null)
			[ -n "$log" ] || continue
			echo "--- last lines of the $name broker's log ($log)"
			tail -n 25 "$log"
		done
		KAFKA_KEEP_LOGS=1 stage down bash "$KAFKA_SH" down
	else
		stage down bash "$KAFKA_SH" down
	fi
	echo "=== integration: exit $rc after $(($(date +%s) - start_all))s"
	exit "$rc"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage fetch bash "$KAFKA_SH" fetch
stage "down (leftovers)" bash "$KAFKA_SH" down
stage up bash "$KAFKA_SH" up
suite() {
	"$GO" test -tags integration ./internal/integration/ -count=1 -v -timeout "${INTEGRATION_TIMEOUT:-20m}" "$@" || {
		suite_failed=1
		return 1
	}
}
stage suite suite "$@"
