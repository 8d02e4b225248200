#!/usr/bin/env bash
# Secrets Manager integration test: runs the Go tests of pkg/catalog that need
# a Secrets-Manager-compatible server (TestSecretsManager*) against moto's
# standalone server, started here on a free port of 127.0.0.1.
#
#   bash test/secretsmanager/run.sh [extra go test args...]
#
# Environment:
#   VENV    virtualenv to create or reuse (default .cache/venv-moto, relative
#           to the repository root)
#   PYTHON  interpreter that creates the venv (default python3)
#
# The exit code is go test's. moto is stopped on exit, whatever happens.
set -euo pipefail

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin secretsmanager
suite_work

VENV=${VENV:-.cache/venv-moto}
python_venv "$VENV" test/secretsmanager/requirements.txt
PY="$VENV/bin/python"
MOTO="$VENV/bin/moto_server"
[ -x "$MOTO" ] || die "$MOTO is missing; remove $VENV and run again"
log "moto $("$PY" -c 'import moto; print(moto.__version__)')"

# --- moto_server ------------------------------------------------------------
# A free port is picked, then bound by moto; should another process take it
# in between, moto exits and another port is tried.
# up URL: true once something answers HTTP at URL.
up() {
	"$PY" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
except urllib.error.HTTPError:
    pass
EOF
}

MOTO_URL=""
for attempt in 1 2 3; do
	port=$(free_port)
	log "starting moto_server on 127.0.0.1:$port"
	"$MOTO" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 </dev/null &
	MOTO_PID=$!
	for _ in $(seq 1 300); do
		kill -0 "$MOTO_PID" 2>/dev/null || break
		if up "http://127.0.0.1:$port"; then
			MOTO_URL="http://127.0.0.1:$port"
			break
		fi
		sleep 0.1
	done
	if [ -n "$MOTO_URL" ]; then
		stop_on_exit "$MOTO_PID" TERM 5
		break
	fi
	if kill -0 "$MOTO_PID" 2>/dev/null; then
		stop_pid "$MOTO_PID" TERM 5
		cat "$WORK/moto.log" >&2
		die "moto_server did not answer on 127.0.0.1:$port in 30 s"
	fi
	wait "$MOTO_PID" 2>/dev/null || true
	log "moto_server exited during start (attempt $attempt):"
	sed 's/^/  moto: /' "$WORK/moto.log" >&2
done
[ -n "$MOTO_URL" ] || die "could not start moto_server"
log "moto_server ready at $MOTO_URL (pid $MOTO_PID)"

# --- Tests ------------------------------------------------------------------
# Only this configuration reaches the SDK: none of the machine's AWS setup.
aws_isolate
export MOTO_URL REPLICATOR_REQUIRE_MOTO=1
export AWS_ENDPOINT_URL_SECRETS_MANAGER=$MOTO_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

log "running go test ./pkg/catalog/ -run SecretsManager"
rc=0
run_bg go test ./pkg/catalog/ -run SecretsManager -count=1 -v "$@" || rc=$?
suite_result "$rc" "$WORK/moto.log" moto
