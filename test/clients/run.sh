#!/usr/bin/env bash
# Client compatibility tests: drives the real AWS CLI (v1) and boto3 against a
# freshly built replicator control plane over a throwaway database.
#
#   bash test/clients/run.sh [pytest args...]
#
# Environment:
#   VENV               virtualenv to create or reuse (default .cache/venv,
#                      relative to the repository root)
#   PYTHON             interpreter that creates the venv (default python3)
#   TEST_DATABASE_URL  PostgreSQL server to use: a fresh database is created
#                      in it for this run and dropped afterwards. Unset: a
#                      throwaway server is started with internal/tools/pgtmp.
#   CLIENTS_PG_DIR     pgtmp directory (default .cache/clients-pgtmp)
#
# The exit code is that of the client suites (pytest, then the JavaScript SDK suite), except that "no tests collected" (5) is a
# failure (1). Everything started here is stopped on exit, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

log() { printf 'clients: %s\n' "$*"; }
die() { printf 'clients: error: %s\n' "$*" >&2; exit 1; }

VENV=${VENV:-.cache/venv}
PYTHON=${PYTHON:-python3}
PG_DIR=${CLIENTS_PG_DIR:-.cache/clients-pgtmp}
REQUIREMENTS=test/clients/requirements.txt

WORK=""
PYTEST_PID=""
SERVER_PID=""
PGTMP_STARTED=""
DB_ADMIN_URL=""
DB_NAME=""

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$PYTEST_PID" ] && kill -0 "$PYTEST_PID" 2>/dev/null; then
		log "stopping pytest (pid $PYTEST_PID)"
		kill -TERM "$PYTEST_PID" 2>/dev/null
		wait "$PYTEST_PID" 2>/dev/null
	fi
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		log "stopping the server (pid $SERVER_PID)"
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			log "server did not stop in 10 s; killing it"
			kill -KILL "$SERVER_PID" 2>/dev/null
		fi
		wait "$SERVER_PID" 2>/dev/null
	fi
	if [ -n "$DB_NAME" ]; then
		log "dropping database $DB_NAME"
		psql "$DB_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null ||
			log "warning: could not drop database $DB_NAME"
	fi
	if [ -n "$PGTMP_STARTED" ]; then
		log "stopping the throwaway PostgreSQL ($PG_DIR)"
		"$WORK/pgtmp" stop --dir "$PG_DIR" || log "warning: pgtmp stop failed"
	fi
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/replicator-clients.XXXXXX")

# --- Python environment -----------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
	log "creating virtualenv $VENV"
	"$PYTHON" -m venv "$VENV"
fi
req_sum=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$VENV/.clients-requirements.sha256" 2>/dev/null)" != "$req_sum" ]; then
	log "installing $REQUIREMENTS into $VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
	echo "$req_sum" >"$VENV/.clients-requirements.sha256"
else
	log "reusing virtualenv $VENV (requirements unchanged)"
fi
PY="$VENV/bin/python"
AWS_CLI="$(cd "$VENV/bin" && pwd)/aws"
[ -x "$AWS_CLI" ] || die "$AWS_CLI is missing; remove $VENV and run again"
log "$("$AWS_CLI" --version 2>&1)"

# --- Binaries ---------------------------------------------------------------
log "building ./cmd/replicator"
go build -o "$WORK/replicator" ./cmd/replicator
BIN="$WORK/replicator"

# --- Database ---------------------------------------------------------------
if [ -n "${TEST_DATABASE_URL:-}" ]; then
	command -v psql >/dev/null || die "TEST_DATABASE_URL is set but psql is not installed"
	case "$TEST_DATABASE_URL" in
	postgres://* | postgresql://*) ;;
	*) die "TEST_DATABASE_URL must be a postgres:// URL" ;;
	esac
	DB_ADMIN_URL=$TEST_DATABASE_URL
	name="replicator_clients_$(date +%s)_$$"
	log "creating database $name in TEST_DATABASE_URL's server"
	psql "$DB_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null
	DB_NAME=$name
	DATABASE_URL=$("$PY" - "$DB_ADMIN_URL" "$DB_NAME" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, u.fragment)))
EOF
)
else
	log "building internal/tools/pgtmp"
	go build -o "$WORK/pgtmp" ./internal/tools/pgtmp
	mkdir -p "$(dirname "$PG_DIR")"
	"$WORK/pgtmp" stop --dir "$PG_DIR" # clears a server a killed run left behind
	log "starting a throwaway PostgreSQL in $PG_DIR"
	PGTMP_STARTED=1
	DATABASE_URL=$("$WORK/pgtmp" start --dir "$PG_DIR")
fi
export DATABASE_URL

log "applying the schema (replicator migrate)"
"$BIN" migrate

# --- Server -----------------------------------------------------------------
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
ACCOUNT_A=111111111111
ACCOUNT_B=222222222222
KEY_A_ID="AKIDCLIENTSA$(rand 4 | tr 'a-f' 'A-F')"
KEY_A_SECRET="clientsA/$(rand 16)"
KEY_B_ID="AKIDCLIENTSB$(rand 4 | tr 'a-f' 'A-F')"
KEY_B_SECRET="clientsB/$(rand 16)"
SECRET_ARN="arn:aws:secretsmanager:us-east-1:$ACCOUNT_A:secret:clients-scram-AbCdEf"
REGION=us-east-1

# Account A's secret, shared with account B (the suites create with it from both).
cat >"$WORK/secrets.json" <<EOF
{"$SECRET_ARN": {"username": "replicator", "password": "clients-test-password", "accounts": ["$ACCOUNT_B"]}}
EOF
cat >"$WORK/clusters.json" <<EOF
{"arn:aws:kafka:us-east-1:$ACCOUNT_A:cluster/clients-src/361a2e04-ff39-48d4-9ee0-f810cd197370-s2": {"bootstrapBrokerString": "127.0.0.1:9092"}}
EOF

log "starting replicator serve"
REPLICATOR_ACCESS_KEYS="$KEY_A_ID:$KEY_A_SECRET:$ACCOUNT_A,$KEY_B_ID:$KEY_B_SECRET:$ACCOUNT_B" \
	REPLICATOR_LISTEN_ADDR=127.0.0.1:0 \
	REPLICATOR_REGION=$REGION \
	REPLICATOR_SECRETS_FILE="$WORK/secrets.json" \
	REPLICATOR_CLUSTERS_FILE="$WORK/clusters.json" \
	"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# The server binds a free port (127.0.0.1:0) and logs the address it got.
ADDR=""
for _ in $(seq 1 300); do
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited during start"; }
	ADDR=$(sed -n 's/.*msg="serve: listening".* addr=\([0-9.]*:[0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)
	[ -n "$ADDR" ] && break
	sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/server.log" >&2; die "the server did not report its address in 30 s"; }
ENDPOINT="http://$ADDR"

log "waiting for $ENDPOINT/readyz"
ready=""
for _ in $(seq 1 300); do
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited during start"; }
	if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ENDPOINT/readyz")" = 200 ]; then
		ready=1
		break
	fi
	sleep 0.1
done
[ -n "$ready" ] || { cat "$WORK/server.log" >&2; die "$ENDPOINT/readyz did not answer 200 in 30 s"; }
log "server ready at $ENDPOINT (pid $SERVER_PID)"

# --- Tests ------------------------------------------------------------------
# No AWS configuration of the machine may leak into the clients.
touch "$WORK/aws-config" "$WORK/aws-credentials"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KAFKA \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION AWS_CA_BUNDLE AWS_MAX_ATTEMPTS AWS_RETRY_MODE
export AWS_CONFIG_FILE="$WORK/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""

export CLIENTS_BIN=$BIN CLIENTS_ENDPOINT=$ENDPOINT CLIENTS_REGION=$REGION CLIENTS_AWS_CLI=$AWS_CLI CLIENTS_SECRET_ARN=$SECRET_ARN
export CLIENTS_ACCOUNT_A=$ACCOUNT_A CLIENTS_KEY_A_ID=$KEY_A_ID CLIENTS_KEY_A_SECRET=$KEY_A_SECRET
export CLIENTS_ACCOUNT_B=$ACCOUNT_B CLIENTS_KEY_B_ID=$KEY_B_ID CLIENTS_KEY_B_SECRET=$KEY_B_SECRET

log "running pytest test/clients"
# In the background so that a signal to this script is handled at once
# (bash runs traps only between foreground commands); cleanup stops it.
"$PY" -m pytest -v test/clients "$@" </dev/null &
PYTEST_PID=$!
set +e
wait "$PYTEST_PID"
rc=$?
set -e
PYTEST_PID=""

if [ "$rc" -eq 5 ]; then
	log "pytest collected no tests: failing"
	rc=1
fi
if [ "$rc" -eq 0 ]; then
	# Then the AWS SDK for JavaScript v3 suite, against the same server and
	# environment (PYTEST_PID so that cleanup stops it too).
	log "running test/clients/js/run-js.sh"
	bash test/clients/js/run-js.sh </dev/null &
	PYTEST_PID=$!
	set +e
	wait "$PYTEST_PID"
	rc=$?
	set -e
	PYTEST_PID=""
fi
if [ "$rc" -ne 0 ]; then
	log "client tests exited $rc; last lines of the server log:"
	tail -n 40 "$WORK/server.log" | sed 's/^/  server: /'
else
	log "all client tests passed"
fi
exit "$rc"
