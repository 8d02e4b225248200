# shellcheck shell=bash
# What the suite runners under test/ share (source it; bash, set -euo pipefail).
#
#   suite_begin NAME      start the clock, cd to the repository root, and make
#                         suite_end run on every exit (also on Ctrl-C)
#   log MSG / die MSG     print "NAME: MSG" (die: "NAME: error: MSG" on stderr, exit 1)
#   suite_work            make $WORK, a temporary directory suite_end removes
#   suite_on_exit CMD...  one more command for suite_end (e.g. drop a database)
#
# Processes:
#   stop_pid PID SIG SECS     send SIG, wait up to SECS, then SIGKILL
#   stop_on_exit PID SIG SECS have suite_end stop PID so (last registered first)
#   run_bg CMD...             run CMD in the background and wait for it, so that a
#                             signal to the runner is handled at once (bash runs
#                             traps only between foreground commands); returns its
#                             exit code; suite_end stops it if it still runs
#   free_port                 a free TCP port of 127.0.0.1
#   dev_start BIN             start `BIN dev` (its own throwaway PostgreSQL, API, two
#                             in-process Kafka clusters, two workers) on a free port in
#                             $WORK, wait until it runs and /readyz answers, and set
#                             DEV_ENDPOINT DEV_REGION DEV_KEY DEV_SECRET DEV_SOURCE
#                             DEV_TARGET from what it prints; suite_end stops it
#                             (SIGINT, as Ctrl-C) and shows its log if the runner failed
#
# Clients:
#   python_venv VENV REQS     create VENV (with $PYTHON, default python3) and install
#                             REQS into it when they changed since the last install
#   need_node                 Node 20 or newer, with npm
#   npm_ci DIR                npm ci in DIR when package-lock.json changed since the last install
#   node_tests TARGET...      node --test TARGET... (spec report on stdout); returns
#                             node's exit code, 1 if no test ran (or all were skipped)
#   aws_isolate               keep the machine's AWS configuration (profiles,
#                             credentials, endpoints) away from the clients
#   suite_result RC LOG NAME  say how the tests ended (with the last lines of the
#                             log of NAME when they failed) and exit with RC
#
# Kafka (test/kafka, test/faults, test/soak):
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
#
# suite_end stops what the runner started (its background command, the
# processes given to stop_on_exit, replicator dev, the clusters: their logs
# kept in $KAFKA_CACHE/last-logs, with the tails printed, when the suite
# failed), runs the suite_on_exit commands, removes $WORK and exits with the
# first failure's code. SUITE_LOG_DIRS (space separated) are directories of
# *.log files whose warnings and errors are printed when the suite failed.

SUITE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE_ROOT=$(cd "$SUITE_LIB_DIR/../.." && pwd)
KAFKA_SH="$SUITE_ROOT/test/kafka/kafka.sh"
GO=${GO:-go}
SUITE_NAME=suite
SUITE_START=$(date +%s)
SUITE_FAILED=""
SUITE_KAFKA=""
SUITE_LOG_DIRS=${SUITE_LOG_DIRS:-}
SUITE_ON_EXIT=()
SUITE_STOP=()
SUITE_BG_PID=""
WORK=""
DEV_PID=""

suite_begin() {
	SUITE_NAME=$1
	SUITE_START=$(date +%s)
	cd "$SUITE_ROOT"
	trap suite_end EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

log() { printf '%s: %s\n' "$SUITE_NAME" "$*"; }
die() {
	printf '%s: error: %s\n' "$SUITE_NAME" "$*" >&2
	exit 1
}

suite_work() { WORK=$(mktemp -d "${TMPDIR:-/tmp}/replicator-$SUITE_NAME.XXXXXX"); }

suite_on_exit() { SUITE_ON_EXIT+=("$*"); }

stop_pid() {
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

stop_on_exit() { SUITE_STOP+=("$1 $2 $3"); }

run_bg() {
	local rc=0
	"$@" </dev/null &
	SUITE_BG_PID=$!
	wait "$SUITE_BG_PID" || rc=$?
	SUITE_BG_PID=""
	return "$rc"
}

free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
	else
		node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
	fi
}

# dev_field NAME: a value of replicator dev's banner ("  endpoint        http://...").
dev_field() { sed -n "s/^  $1  *\([^ ]*\).*/\1/p" "$WORK/dev.out" | head -n1; }

dev_start() {
	local bin port
	bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	port=$(free_port)
	log "starting replicator dev on 127.0.0.1:$port"
	# Its own throwaway PostgreSQL, whatever the environment points at.
	(cd "$WORK" && exec env -u DATABASE_URL "$bin" dev --listen-addr "127.0.0.1:$port" --source-port 0 --target-port 0 \
		--log-level warn </dev/null >"$WORK/dev.out" 2>"$WORK/dev.err") &
	DEV_PID=$!
	for _ in $(seq 1 600); do
		kill -0 "$DEV_PID" 2>/dev/null || {
			cat "$WORK/dev.out" "$WORK/dev.err" >&2
			DEV_PID=""
			die "replicator dev exited during start"
		}
		grep -q '^replicator dev is running' "$WORK/dev.out" && [ -n "$(dev_field 'target cluster')" ] && break
		sleep 0.1
	done
	DEV_ENDPOINT=$(dev_field endpoint)
	[ -n "$DEV_ENDPOINT" ] || { cat "$WORK/dev.out" "$WORK/dev.err" >&2; die "replicator dev did not report it was running in 60 s"; }
	DEV_REGION=$(dev_field region)
	DEV_KEY=$(dev_field 'access key')
	DEV_SECRET=$(dev_field 'secret key')
	DEV_SOURCE=$(dev_field 'source cluster')
	DEV_TARGET=$(dev_field 'target cluster')
	local v
	for v in DEV_REGION DEV_KEY DEV_SECRET DEV_SOURCE DEV_TARGET; do
		[ -n "${!v}" ] || { cat "$WORK/dev.out" >&2; die "could not read $v from replicator dev's output"; }
	done
	[ "$DEV_ENDPOINT" = "http://127.0.0.1:$port" ] || die "replicator dev serves $DEV_ENDPOINT, not 127.0.0.1:$port"
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$DEV_ENDPOINT/readyz")" = 200 ] && return 0
		sleep 0.1
	done
	die "$DEV_ENDPOINT/readyz did not answer 200 in 10 s"
}

python_venv() {
	local venv=$1 reqs=$2 sum stamp
	stamp="$venv/.$SUITE_NAME-requirements.sha256"
	sum=$(sha256sum "$reqs" | cut -d' ' -f1)
	if [ ! -x "$venv/bin/python" ]; then
		log "creating virtualenv $venv"
		mkdir -p "$(dirname "$venv")"
		"${PYTHON:-python3}" -m venv "$venv"
	fi
	if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
		log "installing $reqs into $venv"
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
		echo "$sum" >"$stamp"
	else
		log "reusing virtualenv $venv ($reqs unchanged)"
	fi
}

need_node() {
	command -v node >/dev/null || die "node is not installed"
	command -v npm >/dev/null || die "npm is not installed"
	[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "Node 20 or newer is needed, found $(node --version)"
}

npm_ci() {
	local dir=$1 sum stamp
	stamp="$dir/node_modules/.$SUITE_NAME-package-lock.sha256"
	sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [ ! -d "$dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
		log "installing $dir/package-lock.json (npm ci)"
		(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		echo "$sum" >"$stamp"
	else
		log "reusing $dir/node_modules (package-lock.json unchanged)"
	fi
}

node_tests() {
	local tap rc=0 ran skipped
	tap=$(mktemp "${TMPDIR:-/tmp}/replicator-$SUITE_NAME-tap.XXXXXX")
	log "running node --test $*"
	# The spec report goes to the terminal, a TAP copy to a file whose
	# summary tells how many tests ran.
	run_bg node --test --test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" "$@" || rc=$?
	ran=$(sed -n 's/^# tests \([0-9][0-9]*\)$/\1/p' "$tap" | tail -n1)
	skipped=$(sed -n 's/^# skipped \([0-9][0-9]*\)$/\1/p' "$tap" | tail -n1)
	rm -f "$tap"
	if [ -z "$ran" ] || [ "$ran" -eq 0 ] || [ "$ran" -eq "${skipped:-0}" ]; then
		log "no test ran: failing"
		[ "$rc" -ne 0 ] || rc=1
	elif [ "$rc" -ne 0 ]; then
		log "node --test exited $rc"
	else
		log "all $ran tests passed"
	fi
	return "$rc"
}

aws_isolate() {
	unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KAFKA \
		AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION AWS_CA_BUNDLE AWS_MAX_ATTEMPTS \
		AWS_RETRY_MODE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
	touch "$WORK/aws-config" "$WORK/aws-credentials"
	export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
	export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
}

suite_result() {
	local rc=$1 file=$2 name=$3
	if [ "$rc" -ne 0 ]; then
		log "tests exited $rc; last lines of the $name log:"
		tail -n 40 "$file" | sed "s/^/  $name: /"
	else
		log "all tests passed"
	fi
	exit "$rc"
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
	SUITE_KAFKA=1
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

# suite_run_dir: where kafka.sh keeps its nodes.
suite_run_dir() {
	local cache=${KAFKA_CACHE:-.cache/kafka}
	case "$cache" in /*) ;; *) cache="$SUITE_ROOT/$cache" ;; esac
	echo "${KAFKA_RUN:-$cache/run}"
}

suite_end() {
	local rc=$? run lf f c d i
	set +e
	trap - EXIT INT TERM
	stop_pid "$SUITE_BG_PID" TERM 5
	for ((i = ${#SUITE_STOP[@]} - 1; i >= 0; i--)); do
		# shellcheck disable=SC2086 # "PID SIG SECS"
		stop_pid ${SUITE_STOP[i]}
	done
	if [ -n "$DEV_PID" ] && kill -0 "$DEV_PID" 2>/dev/null; then
		log "stopping replicator dev (SIGINT)"
		stop_pid "$DEV_PID" INT 20
	fi
	if [ "$rc" -ne 0 ] && [ -n "$WORK" ] && [ -s "$WORK/dev.err" ]; then
		log "last lines of replicator dev's log:"
		tail -n 30 "$WORK/dev.err" | sed 's/^/  dev: /'
	fi
	if [ -n "$SUITE_KAFKA" ]; then
		run=$(suite_run_dir)
		if [ -n "$SUITE_FAILED" ]; then
			for lf in "$run"/*/logs/server.log; do
				[ -f "$lf" ] || continue
				echo "--- last lines of the broker log $lf"
				tail -n 20 "$lf"
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
	fi
	for c in "${SUITE_ON_EXIT[@]}"; do eval "$c"; done
	[ -z "$WORK" ] || rm -rf "$WORK"
	echo "=== $SUITE_NAME: exit $rc after $(($(date +%s) - SUITE_START))s"
	exit "$rc"
}
