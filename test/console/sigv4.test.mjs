// The console's SigV4 signer (api/console/static/sigv4.js) and API client
// (api.js), run in Node: against AWS's published test vector, with and
// without WebCrypto, and against the real server that run.sh started (its
// verifier accepts exactly what the AWS SDKs send).
//
//   bash test/console/run.sh

import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { Api, ApiError } from "../../api/console/static/api.js";
import { hmacSHA256, sha256Hex, sign, uriEncode } from "../../api/console/static/sigv4.js";

const env = process.env;

describe("sigv4.js", () => {
  // get-vanilla of the AWS Signature Version 4 test suite.
  for (const useWebCrypto of [true, false]) {
    test(`signs AWS's get-vanilla example (${useWebCrypto ? "WebCrypto" : "built-in SHA-256"})`, async () => {
      const out = await sign({
        method: "GET", host: "example.amazonaws.com", path: "/",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
        region: "us-east-1", service: "service", date: new Date("2015-08-30T12:36:00Z"), useWebCrypto,
      });
      assert.equal(out.headers["X-Amz-Date"], "20150830T123600Z");
      assert.equal(out.headers.Authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    });
  }

  test("the built-in SHA-256 and HMAC agree with node:crypto", async () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4097]) {
      const data = randomBytes(n);
      const key = randomBytes(n % 130);
      assert.equal(await sha256Hex(data, { useWebCrypto: false }), createHash("sha256").update(data).digest("hex"), `sha256 of ${n} bytes`);
      const mac = Buffer.from(await hmacSHA256(key, data, { useWebCrypto: false })).toString("hex");
      assert.equal(mac, createHmac("sha256", key).update(data).digest("hex"), `hmac of ${n} bytes, key ${key.length}`);
    }
  });

  test("the canonical URI escapes the escaped ARN label again; the query is sorted", async () => {
    const arn = "arn:aws:kafka:us-east-1:000000000000:replicator/demo/0e9a4c1e-5f0e-4bb5-9d51-3b5f2bbd6c1a";
    const path = `/replication/v1/replicators/${uriEncode(arn)}/status`;
    assert.equal(path, "/replication/v1/replicators/arn%3Aaws%3Akafka%3Aus-east-1%3A000000000000%3Areplicator%2Fdemo%2F0e9a4c1e-5f0e-4bb5-9d51-3b5f2bbd6c1a/status");
    const out = await sign({
      method: "GET", host: "127.0.0.1:8080", path, query: [["z", "1"], ["a b", "x/y+"]],
      credentials: { accessKeyId: "AKID", secretAccessKey: "secret" }, region: "us-east-1", service: "kafka",
      date: new Date("2026-01-02T03:04:05Z"),
    });
    assert.equal(out.url, `${path}?z=1&a%20b=x%2Fy%2B`);
    assert.equal(out.canonicalRequest.split("\n").slice(0, 3).join("\n"),
      "GET\n/replication/v1/replicators/arn%253Aaws%253Akafka%253Aus-east-1%253A000000000000%253Areplicator%252Fdemo%252F0e9a4c1e-5f0e-4bb5-9d51-3b5f2bbd6c1a/status\na%20b=x%2Fy%2B&z=1");
  });
});

describe("api.js against the server", { skip: !env.CONSOLE_ENDPOINT && "CONSOLE_ENDPOINT is not set (run test/console/run.sh)" }, () => {
  const client = (secret = env.CONSOLE_SECRET) => {
    const api = new Api({ accessKeyId: env.CONSOLE_KEY_ID, secretAccessKey: secret, region: env.CONSOLE_REGION }, new URL(env.CONSOLE_ENDPOINT).host);
    api.origin = env.CONSOLE_ENDPOINT;
    return api;
  };

  test("ListReplicators, DescribeReplicator and the status extension accept the signatures", async () => {
    const api = client();
    const reps = await api.listReplicators();
    const rep = reps.find((r) => r.replicatorArn === env.CONSOLE_ARN);
    assert.ok(rep, `ListReplicators does not list ${env.CONSOLE_ARN}`);
    const d = await api.describeReplicator(env.CONSOLE_ARN);
    assert.equal(d.replicatorName, env.CONSOLE_REPLICATOR_NAME);
    const st = await api.replicatorStatus(env.CONSOLE_ARN);
    assert.equal(st.replicatorArn, env.CONSOLE_ARN);
    assert.ok(Array.isArray(st.jobs) && typeof st.summary.messageLag === "number");
  });

  test("query values that need escaping are signed as the server canonicalises them", async () => {
    const api = client();
    for (const filter of [env.CONSOLE_REPLICATOR_NAME.slice(0, 4), "a b", "x/y+z=~", "ünï"]) {
      const res = await api.call("GET", "/replication/v1/replicators", [["replicatorNameFilter", filter], ["maxResults", "5"]]);
      assert.ok(Array.isArray(res.replicators), `filter ${JSON.stringify(filter)}`);
    }
  });

  test("a wrong secret is refused with 401 UnauthorizedException", async () => {
    await assert.rejects(client("not-the-secret").listReplicators(), (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 401);
      assert.equal(e.type, "UnauthorizedException");
      assert.match(e.message, /signature does not match/);
      return true;
    });
  });

  test("a skewed clock is corrected from the server's Date header", async () => {
    const api = client();
    const realNow = Date.now;
    Date.now = () => realNow() + 20 * 60 * 1000; // 20 minutes fast
    try {
      const reps = await api.listReplicators();
      assert.ok(Array.isArray(reps));
      assert.ok(api.skewMs < -15 * 60 * 1000, `skewMs = ${api.skewMs}`);
    } finally {
      Date.now = realNow;
    }
  });
});
