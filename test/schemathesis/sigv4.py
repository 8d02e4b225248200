"""SigV4 signing of requests' prepared requests with botocore (service
"kafka", region $AWS_DEFAULT_REGION or us-east-1, credentials from
$AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY). botocore URI-encodes the
already-escaped path once more, as the SDKs do for every service but S3, so
a label sent as %3A is signed as %253A, which is what the server expects.
"""

from __future__ import annotations

import os

from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
CREDS = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def _enc(s: str) -> str:
    return quote(unquote_plus(s), safe="-_.~")


def sdk_query(url: str) -> str:
    """Re-encode the query as the SDKs send it: requests/urlencode write a
    space as '+', the SDKs as %20 (and botocore signs the query as it finds
    it in the URL, so a '+' would be signed literally while the server reads
    it as a space). Order and repeated keys are kept."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    out = []
    for pair in parts.query.split("&"):
        k, sep, v = pair.partition("=")
        out.append(_enc(k) + sep + _enc(v))
    return urlunsplit(parts._replace(query="&".join(out)))


class SigV4(requests.auth.AuthBase):
    """Signs the prepared request exactly as it will be sent."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.url = sdk_query(r.url)
        body = r.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        headers = {k: v for k, v in r.headers.items() if k.lower() not in ("authorization", "x-amz-date")}
        req = AWSRequest(method=r.method, url=r.url, headers=headers, data=body)
        SigV4Auth(CREDS, "kafka", REGION).add_auth(req)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in req.headers:
                r.headers[name] = req.headers[name]
        return r


SIGNER = SigV4()
