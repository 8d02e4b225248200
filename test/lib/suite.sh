# shellcheck shell=bash
# What the suite runners under test/ share (source it; bash, set -euo pipefail):
#
#   suite_begin NAME      start the clock, cd to the repository root, and make
#                         suite_end run on every exit (also on Ctrl-C)
#   stage NAME CMD...     run CMD as a named stage, print its duration and result
#   kafka_ports BASE      the clusters' ports from BASE (source BASE, target BASE+1,
#                         SASL BASE+2, controllers BASE+100 and BASE+101), each
#                         unless its KAFKA_*_PORT is set; pick BASE below 32768
#                         (the kernel's ephemeral ports start there: a restarted
#                         broker could find its port taken by an outgoing connection)
#   kafka_stages          fetch the jars, stop leftovers of an earlier run, start
#                         the clusters (test/kafka/kafka.sh, as configured by
#                         the KAFKA_* variables the runner exported)
#   go_suite CMD...       run the suite itself as the stage "suite"; its failure
#                         makes suite_end print the brokers' and processes' logs
#   suite_on_exit CMD...  one more command for suite_end (e.g. stop a server)
#
# suite_end stops the clusters (keeping their logs in $KAFKA_CACHE/last-logs
# when the suite failed, with the tails printed), runs the suite_on_exit
# commands and exits with the first failure's code. SUITE_LOG_DIRS (space
# separated) are directories of *.log files whose warnings and errors are
# printed on failure.

SUITE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE_ROOT=$(cd "$SUITE_LIB_DIR/../.." && pwd)
KAFKA_SH="$SUITE_ROOT/test/kafka/kafka.sh"
GO=${GO:-go}
SUITE_NAME=suite
SUITE_START=$(date +%s)
SUITE_FAILED=""
SUITE_LOG_DIRS=${SUITE_LOG_DIRS:-}
SUITE_ON_EXIT=()

suite_begin() {
	SUITE_NAME=$1
	SUITE_START=$(date +%s)
	cd "$SUITE_ROOT"
	trap suite_end EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

stage() {
	local name=$1
	shift
	local t0 rc=0
	t0=$(date +%s)
	echo "=== $SUITE_NAME stage: $name"
	"$@" || rc=$?
	echo "=== $SUITE_NAME stage: $name $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $(($(date +%s) - t0))s"
	return "$rc"
}

kafka_ports() {
	local base=$1
	export KAFKA_SOURCE_PORT=${KAFKA_SOURCE_PORT:-$base}
	export KAFKA_TARGET_PORT=${KAFKA_TARGET_PORT:-$((base + 1))}
	export KAFKA_TARGET_SASL_PORT=${KAFKA_TARGET_SASL_PORT:-$((base + 2))}
	export KAFKA_SOURCE_CONTROLLER_PORT=${KAFKA_SOURCE_CONTROLLER_PORT:-$((base + 100))}
	export KAFKA_TARGET_CONTROLLER_PORT=${KAFKA_TARGET_CONTROLLER_PORT:-$((base + 101))}
}

kafka_stages() {
	stage fetch bash "$KAFKA_SH" fetch
	stage "down (leftovers)" bash "$KAFKA_SH" down
	stage up bash "$KAFKA_SH" up
}

_go_suite() {
	"$@" || {
		SUITE_FAILED=1
		return 1
	}
}

go_suite() { stage suite _go_suite "$@"; }

suite_on_exit() { SUITE_ON_EXIT+=("$*"); }

# suite_run_dir: where kafka.sh keeps its nodes.
suite_run_dir() {
	local cache=${KAFKA_CACHE:-.cache/kafka}
	case "$cache" in /*) ;; *) cache="$SUITE_ROOT/$cache" ;; esac
	echo "${KAFKA_RUN:-$cache/run}"
}

suite_end() {
	local rc=$? run log f c
	set +e
	trap - EXIT INT TERM
	run=$(suite_run_dir)
	if [ -n "$SUITE_FAILED" ]; then
		for log in "$run"/*/logs/server.log; do
			[ -f "$log" ] || continue
			echo "--- last lines of the broker log $log"
			tail -n 20 "$log"
		done
		for d in $SUITE_LOG_DIRS; do
			for f in "$d"/*.log; do
				[ -f "$f" ] || continue
				echo "--- warnings and errors in $f (last 15)"
				grep -E 'level=(WARN|ERROR)' "$f" | tail -n 15
			done
		done
		KAFKA_KEEP_LOGS=1 stage down bash "$KAFKA_SH" down
	else
		stage down bash "$KAFKA_SH" down
	fi
	for c in "${SUITE_ON_EXIT[@]}"; do eval "$c"; done
	echo "=== $SUITE_NAME: exit $rc after $(($(date +%s) - SUITE_START))s"
	exit "$rc"
}
