#!/usr/bin/env bash
# Property-based API fuzzing: schemathesis generates requests from openapi.yaml
# (valid and invalid ones) and sends them, SigV4-signed, to a freshly started
# `replicator dev` (throwaway PostgreSQL, API, two in-process Kafka clusters,
# two workers).
#
#   bash test/schemathesis/run.sh [extra schemathesis args...]
#
# Environment:
#   VENV          virtualenv to create or reuse (default .cache/venv-schemathesis)
#   PYTHON        interpreter that creates the venv (default python3)
#   MAX_EXAMPLES  hypothesis examples per operation (default 50)
#   ST_SEED       hypothesis seed (default: random; the seed is printed)
#   REPLICATOR_BIN  a prebuilt replicator binary to run (default: build one)
#
# Checks (every operation, every response):
#   not_a_server_error           no 5xx, ever
#   status_code_conformance      the status is one the spec documents
#   content_type_conformance     the Content-Type is one the spec documents
#   response_headers_conformance documented response headers are present
#   response_schema_conformance  the body matches the documented schema
#   aws_error_shape (hooks.py)   every non-2xx is an AWS error: X-Amzn-ErrorType
#                                matching the status, X-Amzn-RequestId, a message
#   refused_not_stored (hooks.py) a refused CreateReplicator stored nothing
# and at the end a sweep: every replicator in ListReplicators was created by
# a CreateReplicator that got 200 (nothing stored from a refused request).
#
# Not tested here (documented reason): the worker API (/internal/v1/*) and
# GET /v1/workers need the worker token, which `replicator dev` generates and
# never prints; /console* is static content; /healthz, /readyz and /metrics
# are unauthenticated read-only probes (they stay in: they cost nothing).
#
# (One regex: in schemathesis 3 a repeated --exclude-path-regex keeps only
# the last one.)
#
# Exit code: that of schemathesis (non-zero on any failure), 1 if it ran no
# test, 1 if the final sweep finds a stored replicator that was refused or any
# signed request that got 401 (UnauthorizedException: the signing is broken).
# `replicator dev` is always stopped on exit (SIGINT, then SIGKILL after 20 s).
set -euo pipefail

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin schemathesis
suite_work
ROOT=$SUITE_ROOT
HERE=test/schemathesis
VENV=${VENV:-.cache/venv-schemathesis}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}

python_venv "$VENV" "$HERE/requirements.txt"
"$VENV/bin/st" --version

# --- build and start replicator dev -----------------------------------------
BIN=${REPLICATOR_BIN:-}
if [ -z "$BIN" ]; then
	log "building replicator"
	CGO_ENABLED=0 go build -trimpath -o "$WORK/replicator" ./cmd/replicator
	BIN=$WORK/replicator
fi
dev_start "$BIN"
ENDPOINT=$DEV_ENDPOINT
export AWS_ACCESS_KEY_ID=$DEV_KEY AWS_SECRET_ACCESS_KEY=$DEV_SECRET AWS_DEFAULT_REGION=$DEV_REGION
log "endpoint $ENDPOINT, access key $AWS_ACCESS_KEY_ID"

# --- schemathesis -------------------------------------------------------------
export PYTHONPATH="$ROOT/$HERE${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMATHESIS_HOOKS=hooks
export ST_LEDGER="$WORK/responses.jsonl"
seed_args=()
[ -n "${ST_SEED:-}" ] && seed_args=(--hypothesis-seed "$ST_SEED")

set +e
"$VENV/bin/st" run openapi.yaml \
	--base-url "$ENDPOINT" \
	--checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,aws_error_shape,refused_not_stored \
	--data-generation-method all \
	--exclude-path-regex '^/(internal/|console|v1/workers$)' \
	--hypothesis-max-examples "$MAX_EXAMPLES" \
	--hypothesis-deadline 5000 \
	--hypothesis-suppress-health-check all \
	--generation-allow-x00 false \
	--request-timeout 10000 \
	--workers 2 \
	--junit-xml "$WORK/junit.xml" \
	--no-color \
	"${seed_args[@]}" \
	"$@" 2>&1 | tee "$WORK/st.out"
rc=${PIPESTATUS[0]}
set -e

tests=$("$VENV/bin/python" - "$WORK/junit.xml" <<'EOF' || echo 0
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) for s in suites))
EOF
)
log "schemathesis exit code $rc, $tests operations tested"
[ "$tests" -gt 0 ] 2>/dev/null || { log "schemathesis ran nothing"; exit 1; }

# --- final sweep: nothing stored from a refused request -------------------------
"$VENV/bin/python" - "$ENDPOINT" "$ST_LEDGER" <<'EOF' || rc=1
import collections, json, os, sys
import requests
fail = False
sys.path.insert(0, os.environ["PYTHONPATH"].split(":")[0])
from sigv4 import SIGNER as _SIGNER
endpoint, ledger = sys.argv[1], sys.argv[2]
accepted, refused = set(), 0
by_op = collections.defaultdict(collections.Counter)
if os.path.exists(ledger):
    for line in open(ledger, encoding="utf-8"):
        e = json.loads(line)
        if "create" in e:
            if 200 <= e["status"] < 300:
                accepted.add(e["create"])
            else:
                refused += 1
        else:
            by_op[e["op"]][f'{e["status"]} {e["type"]}'.strip()] += 1
            if e["status"] == 401:
                print(f'schemathesis: 401 for {e["op"]}: {e.get("url")}: {e.get("body")}')
print("schemathesis: responses per operation:")
for op in sorted(by_op):
    print(f"  {op}: " + ", ".join(f"{k} x{n}" for k, n in sorted(by_op[op].items())))
unauth = sum(c[k] for c in by_op.values() for k in c if k.startswith("401"))
if unauth:
    print(f"schemathesis: FAIL: {unauth} signed requests got 401 (signing broken?)")
    fail = True
names, token = [], None
while True:
    params = {"nextToken": token} if token else {}
    r = requests.get(endpoint + "/replication/v1/replicators", params=params, auth=_SIGNER, timeout=10)
    r.raise_for_status()
    body = r.json()
    names += [s["replicatorName"] for s in body.get("replicators", [])]
    token = body.get("nextToken")
    if not token:
        break
stray = sorted(set(names) - accepted)
print(f"schemathesis: CreateReplicator: {len(accepted)} accepted, {refused} refused; {len(names)} replicators stored")
if stray:
    print(f"schemathesis: FAIL: stored replicators that no accepted CreateReplicator created: {stray[:10]}")
    fail = True
sys.exit(1 if fail else 0)
EOF

exit "$rc"
