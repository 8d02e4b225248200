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
#                      in it for this run and dropped afterwards. Unset: the
#                      run goes through scripts/with-postgres.sh, which starts
#                      a throwaway server for it.
#
# The exit code is that of the client suites (pytest, then the JavaScript SDK suite), except that "no tests collected" (5) is a
# failure (1). Everything started here is stopped on exit, whatever happens.
set -euo pipefail

if [ -z "${TEST_DATABASE_URL:-}" ]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	exec "$here/../../scripts/with-postgres.sh" bash "$here/run.sh" "$@"
fi
# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin clients
suite_work

VENV=${VENV:-.cache/venv}
python_venv "$VENV" test/clients/requirements.txt
PY="$VENV/bin/python"
AWS_CLI="$(cd "$VENV/bin" && pwd)/aws"
[ -x "$AWS_CLI" ] || die "$AWS_CLI is missing; remove $VENV and run again"
log "$("$AWS_CLI" --version 2>&1)"

log "building ./cmd/replicator"
go build -o "$WORK/replicator" ./cmd/replicator
BIN="$WORK/replicator"

# --- Database ---------------------------------------------------------------
command -v psql >/dev/null || die "psql is not installed"
case "$TEST_DATABASE_URL" in
postgres://* | postgresql://*) ;;
*) die "TEST_DATABASE_URL must be a postgres:// URL" ;;
esac
DB_NAME="replicator_clients_$(date +%s)_$$"
log "creating database $DB_NAME in TEST_DATABASE_URL's server"
psql "$TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
suite_on_exit 'log "dropping database $DB_NAME"; psql "$TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null || log "warning: could not drop database $DB_NAME"'
DATABASE_URL=$("$PY" - "$TEST_DATABASE_URL" "$DB_NAME" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, u.fragment)))
EOF
)
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
stop_on_exit "$SERVER_PID" TERM 10

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
aws_isolate
export CLIENTS_BIN=$BIN CLIENTS_ENDPOINT=$ENDPOINT CLIENTS_REGION=$REGION CLIENTS_AWS_CLI=$AWS_CLI CLIENTS_SECRET_ARN=$SECRET_ARN
export CLIENTS_ACCOUNT_A=$ACCOUNT_A CLIENTS_KEY_A_ID=$KEY_A_ID CLIENTS_KEY_A_SECRET=$KEY_A_SECRET
export CLIENTS_ACCOUNT_B=$ACCOUNT_B CLIENTS_KEY_B_ID=$KEY_B_ID CLIENTS_KEY_B_SECRET=$KEY_B_SECRET

log "running pytest test/clients"
rc=0
run_bg "$PY" -m pytest -v test/clients "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
	log "pytest collected no tests: failing"
	rc=1
fi
if [ "$rc" -eq 0 ]; then
	# Then the AWS SDK for JavaScript v3 suite, against the same server and
	# environment.
	log "running test/clients/js/run-js.sh"
	run_bg bash test/clients/js/run-js.sh || rc=$?
fi
suite_result "$rc" "$WORK/server.log" server
