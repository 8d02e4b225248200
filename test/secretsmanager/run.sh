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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

log() { printf 'secretsmanager: %s\n' "$*"; }
die() { printf 'secretsmanager: error: %s\n' "$*" >&2; exit 1; }

VENV=${VENV:-.cache/venv-moto}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=test/secretsmanager/requirements.txt

WORK=""
MOTO_PID=""
GOTEST_PID=""

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$GOTEST_PID" ] && kill -0 "$GOTEST_PID" 2>/dev/null; then
		log "stopping go test (pid $GOTEST_PID)"
		kill -TERM "$GOTEST_PID" 2>/dev/null
		wait "$GOTEST_PID" 2>/dev/null
	fi
	if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
		log "stopping moto_server (pid $MOTO_PID)"
		kill -TERM "$MOTO_PID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$MOTO_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$MOTO_PID" 2>/dev/null; then
			log "moto_server did not stop in 5 s; killing it"
			kill -KILL "$MOTO_PID" 2>/dev/null
		fi
		wait "$MOTO_PID" 2>/dev/null
	fi
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/replicator-secretsmanager.XXXXXX")

# --- Python environment -----------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
	log "creating virtualenv $VENV"
	mkdir -p "$(dirname "$VENV")"
	"$PYTHON" -m venv "$VENV"
fi
req_sum=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$VENV/.moto-requirements.sha256" 2>/dev/null)" != "$req_sum" ]; then
	log "installing $REQUIREMENTS into $VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
	echo "$req_sum" >"$VENV/.moto-requirements.sha256"
else
	log "reusing virtualenv $VENV (requirements unchanged)"
fi
PY="$VENV/bin/python"
MOTO="$VENV/bin/moto_server"
[ -x "$MOTO" ] || die "$MOTO is missing; remove $VENV and run again"
log "moto $("$PY" -c 'import moto; print(moto.__version__)')"

# --- moto_server ------------------------------------------------------------
# A free port is picked, then bound by moto; should another process take it
# in between, moto exits and another port is tried.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
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
	[ -n "$MOTO_URL" ] && break
	if kill -0 "$MOTO_PID" 2>/dev/null; then
		cat "$WORK/moto.log" >&2
		die "moto_server did not answer on 127.0.0.1:$port in 30 s"
	fi
	wait "$MOTO_PID" 2>/dev/null || true
	MOTO_PID=""
	log "moto_server exited during start (attempt $attempt):"
	sed 's/^/  moto: /' "$WORK/moto.log" >&2
done
[ -n "$MOTO_URL" ] || die "could not start moto_server"
log "moto_server ready at $MOTO_URL (pid $MOTO_PID)"

# --- Tests ------------------------------------------------------------------
# Only this configuration reaches the SDK: none of the machine's AWS setup.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL \
	AWS_DEFAULT_REGION AWS_CA_BUNDLE AWS_MAX_ATTEMPTS AWS_RETRY_MODE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
touch "$WORK/aws-config" "$WORK/aws-credentials"
export AWS_CONFIG_FILE="$WORK/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
export MOTO_URL REPLICATOR_REQUIRE_MOTO=1
export AWS_ENDPOINT_URL_SECRETS_MANAGER=$MOTO_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

log "running go test ./pkg/catalog/ -run SecretsManager"
# In the background so that a signal to this script is handled at once
# (bash runs traps only between foreground commands); cleanup stops it.
go test ./pkg/catalog/ -run SecretsManager -count=1 -v "$@" </dev/null &
GOTEST_PID=$!
set +e
wait "$GOTEST_PID"
rc=$?
set -e
GOTEST_PID=""
if [ "$rc" -ne 0 ]; then
	log "go test exited $rc; last lines of the moto log:"
	tail -n 40 "$WORK/moto.log" | sed 's/^/  moto: /'
else
	log "all Secrets Manager tests passed"
fi
exit "$rc"
