"""Schemathesis hooks for the replicator API (loaded by run.sh through
SCHEMATHESIS_HOOKS=hooks with this directory on PYTHONPATH).

* Path labels are percent-encoded as the AWS SDKs do (every byte but
  A-Za-z0-9-._~, so ':' -> %3A, '/' -> %2F, ' ' -> %20), instead of
  schemathesis' quote_plus (' ' -> '+').
* Every request is SigV4-signed (botocore's SigV4Auth, service "kafka",
  region $AWS_DEFAULT_REGION or us-east-1) as a requests auth object, i.e.
  over the exact prepared request that goes on the wire: method, URL with
  its query, headers and body bytes.
* Two extra checks:
  - aws_error_shape: every non-2xx answer is an AWS error: the status and
    the X-Amzn-ErrorType header agree, the JSON body carries a message, and
    X-Amzn-RequestId is set.
  - refused_not_stored: a CreateReplicator that was refused must not have
    stored anything (ListReplicators with the name as prefix must not
    return that exact name, unless an earlier create with that name
    succeeded).
* Every response (operation, status, error type) and every CreateReplicator
  outcome is appended to $ST_LEDGER (JSON lines) for run.sh's final sweep.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, unquote_plus, urlsplit

import requests
import schemathesis

from sigv4 import SIGNER as _SIGNER

LEDGER = os.environ.get("ST_LEDGER")

# AWS error type by HTTP status (restJson1 errors of the MSK API).
ERROR_TYPES = {
    400: {"BadRequestException"},
    401: {"UnauthorizedException"},
    403: {"ForbiddenException"},
    404: {"NotFoundException"},
    409: {"ConflictException"},
    429: {"TooManyRequestsException"},
    500: {"InternalServerErrorException"},
    503: {"ServiceUnavailableException"},
}

_accepted_names: set[str] = set()




def sdk_label(value: str) -> str:
    """Re-encode a label that schemathesis quoted with quote_plus."""
    if value in ("%2E", "%2E%2E"):  # schemathesis' guard against dot segments; keep it
        return value
    return quote(unquote_plus(value), safe="-_.~")


@schemathesis.hook
def before_call(context, case):
    if case.path_parameters:
        case.path_parameters = {
            k: sdk_label(v) if isinstance(v, str) else v for k, v in case.path_parameters.items()
        }


@schemathesis.hook
def process_call_kwargs(context, case, kwargs):
    kwargs["auth"] = _SIGNER


@schemathesis.hook
def after_call(context, case, response):
    # Every outcome goes to the ledger: run.sh prints the statuses per
    # operation and fails on any 401 (a request our signer signed but the
    # server refused would make every other check pass vacuously).
    entry = {"op": case.operation.verbose_name, "status": response.status_code,
             "type": response.headers.get("X-Amzn-ErrorType", "")}
    if response.status_code == 401:
        entry["url"] = response.request.url
        entry["body"] = response.text[:300]
    _record(entry)


def _json(response):
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


@schemathesis.check
def aws_error_shape(response, case):
    status = response.status_code
    if 200 <= status < 300:
        return None
    assert response.headers.get("X-Amzn-RequestId"), f"{status} without X-Amzn-RequestId"
    etype = response.headers.get("X-Amzn-ErrorType", "")
    assert etype, f"{status} without X-Amzn-ErrorType"
    etype = etype.split(":", 1)[0]
    allowed = ERROR_TYPES.get(status)
    assert allowed is not None, f"unexpected error status {status} ({etype})"
    assert etype in allowed, f"status {status} with X-Amzn-ErrorType {etype}, want one of {sorted(allowed)}"
    body = _json(response)
    assert isinstance(body, dict), f"{status} {etype}: body is not a JSON object"
    msg = body.get("message", body.get("Message"))
    assert isinstance(msg, str) and msg, f"{status} {etype}: body has no message: {body!r}"
    return None


def _name_of(case):
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return None
    name = body.get("replicatorName")
    return name if isinstance(name, str) and name else None


def _record(entry):
    if LEDGER:
        with open(LEDGER, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


@schemathesis.check
def refused_not_stored(response, case):
    if case.operation.verbose_name != "POST /replication/v1/replicators":
        return None
    name = _name_of(case)
    ok = 200 <= response.status_code < 300
    _record({"create": name, "status": response.status_code})
    if name is None:
        return None
    if ok:
        _accepted_names.add(name)
        return None
    if name in _accepted_names:
        return None  # e.g. the ConflictException of a second create
    base = urlsplit(response.request.url)
    url = f"{base.scheme}://{base.netloc}/replication/v1/replicators"
    r = requests.get(url, params={"replicatorNameFilter": name[:128]}, auth=_SIGNER, timeout=10)
    if r.status_code != 200:
        return None  # the name is not a valid filter: it cannot have been stored under it
    names = [s.get("replicatorName") for s in (_json(r) or {}).get("replicators", [])]
    assert name not in names, f"refused CreateReplicator ({response.status_code}) stored replicator {name!r}"
    return None
