#!/usr/bin/env bash
# The fault suite against real Apache Kafka, start to end (make test-faults):
#
#   bash test/faults/run.sh [go test flags]
#
# 1. fetch  the Kafka jars (test/kafka/kafka.sh fetch; skipped when cached)
# 2. up     two single-node KRaft clusters on their own ports (5909x), with
#           their own run directory, so that they never meet the
#           integration suite's or a developer's clusters
# 3. suite  go test -tags faults ./internal/faults -run TestFaults -v: serve
#           ×2, worker ×3 and a PostgreSQL of its own, a checksummed stream,
#           seeded random faults; writes its table into RELIABILITY.md
# 4. down   always
#
# Environment: FAULTS_SEED (replay a schedule), FAULTS_ROUNDS (default 2:
# every kind of fault twice), FAULTS_RATE (records/s, default 1000),
# FAULTS_LEASE_TTL (default 5s), FAULTS_REPORT (default RELIABILITY.md; - for
# none), FAULTS_LOG_DIR (default .cache/faults-logs), FAULTS_TIMEOUT (go test
# -timeout, default 30m), REPLICATOR_TEST_TIME_SCALE, CI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export KAFKA_SH="$ROOT/test/kafka/kafka.sh"
export KAFKA_RUN=${KAFKA_RUN:-$ROOT/.cache/kafka-faults-run}
export KAFKA_SOURCE_PORT=${FAULTS_SOURCE_PORT:-59092}
export KAFKA_SOURCE_CONTROLLER_PORT=${FAULTS_SOURCE_CONTROLLER_PORT:-59192}
export KAFKA_TARGET_PORT=${FAULTS_TARGET_PORT:-59093}
export KAFKA_TARGET_SASL_PORT=${FAULTS_TARGET_SASL_PORT:-59094}
export KAFKA_TARGET_CONTROLLER_PORT=${FAULTS_TARGET_CONTROLLER_PORT:-59193}
GO=${GO:-go}
start_all=$(date +%s)
suite_failed=""

stage() {
	local name=$1
	shift
	local t0 rc=0
	t0=$(date +%s)
	echo "=== faults stage: $name"
	"$@" || rc=$?
	echo "=== faults stage: $name $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $(($(date +%s) - t0))s"
	return "$rc"
}

down() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$suite_failed" ]; then
		for name in source target; do
			log="$KAFKA_RUN/$name/logs/server.log"
			[ -f "$log" ] || continue
			echo "--- last lines of the $name broker's log ($log)"
			tail -n 20 "$log"
		done
		for f in "${FAULTS_LOG_DIR:-$ROOT/.cache/faults-logs}"/*.log; do
			[ -f "$f" ] || continue
			echo "--- warnings and errors in $f (last 15)"
			grep -E 'level=(WARN|ERROR)' "$f" | tail -n 15
		done
		KAFKA_KEEP_LOGS=1 stage down bash "$KAFKA_SH" down
	else
		stage down bash "$KAFKA_SH" down
	fi
	echo "=== faults: exit $rc after $(($(date +%s) - start_all))s"
	exit "$rc"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage fetch bash "$KAFKA_SH" fetch
stage "down (leftovers)" bash "$KAFKA_SH" down
stage up bash "$KAFKA_SH" up
suite() {
	"$GO" test -tags faults ./internal/faults/ -run TestFaults -count=1 -v -timeout "${FAULTS_TIMEOUT:-30m}" "$@" || {
		suite_failed=1
		return 1
	}
}
stage suite suite "$@"
