// The AWS SDK for JavaScript v3 (@aws-sdk/client-kafka) against the
// replicator: a black-box suite run by test/clients/js/run-js.sh, which
// test/clients/run.sh calls with the server it started described in CLIENTS_*
// environment variables.
//
//   node --test test/clients/js/

import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";

import {
  BadRequestException,
  ConflictException,
  CreateReplicatorCommand,
  DeleteReplicatorCommand,
  DescribeReplicatorCommand,
  KafkaClient,
  ListReplicatorsCommand,
  ListTagsForResourceCommand,
  NotFoundException,
  TagResourceCommand,
  UnauthorizedException,
  UntagResourceCommand,
  UpdateReplicationInfoCommand,
  paginateListReplicators,
} from "@aws-sdk/client-kafka";

const ENV_NAMES = [
  "CLIENTS_ENDPOINT", "CLIENTS_REGION", "CLIENTS_SECRET_ARN",
  "CLIENTS_ACCOUNT_A", "CLIENTS_KEY_A_ID", "CLIENTS_KEY_A_SECRET",
  "CLIENTS_ACCOUNT_B", "CLIENTS_KEY_B_ID", "CLIENTS_KEY_B_SECRET",
];
const missing = ENV_NAMES.filter((n) => !process.env[n]);
if (missing.length > 0) {
  throw new Error(`missing ${missing.join(", ")}: run these tests with test/clients/run.sh`);
}
const env = process.env;
const REGION = env.CLIENTS_REGION;
const SECRET_ARN = env.CLIENTS_SECRET_ARN;
const ACCOUNT_A = env.CLIENTS_ACCOUNT_A;
const ACCOUNT_B = env.CLIENTS_ACCOUNT_B;
const ROLE_ARN = "arn:aws:iam::111111111111:role/MskReplicatorRole";

// One attempt per call: a compatibility test must see the server's first answer.
function client(accessKeyId, secretAccessKey) {
  return new KafkaClient({
    region: REGION,
    endpoint: env.CLIENTS_ENDPOINT,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}

const kafkaA = client(env.CLIENTS_KEY_A_ID, env.CLIENTS_KEY_A_SECRET);
const kafkaB = client(env.CLIENTS_KEY_B_ID, env.CLIENTS_KEY_B_SECRET);

/** A replicator name no other test (or run) uses. */
function uniqueName(prefix) {
  return `${prefix}-${randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

/** The alias the service gives an Apache Kafka cluster:
 * <id>-<first 12 hex digits of SHA-256(id)>. */
function alias(clusterId) {
  return `${clusterId}-${createHash("sha256").update(clusterId).digest("hex").slice(0, 12)}`;
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function arnPattern(account, name) {
  return new RegExp(
    `^arn:aws:kafka:${escapeRegExp(REGION)}:${account}:replicator/${escapeRegExp(name)}/[0-9a-f-]{36}$`,
  );
}

/** A valid CreateReplicator request: two self-managed (Apache Kafka)
 * clusters, the target with SASL/SCRAM through the run's secrets file. */
function createInput(name, tags) {
  const input = {
    ReplicatorName: name,
    Description: "orders to DR",
    ServiceExecutionRoleArn: ROLE_ARN,
    KafkaClusters: [
      {
        ApacheKafkaCluster: {
          ApacheKafkaClusterId: "primary",
          BootstrapBrokerString: "127.0.0.1:9092,127.0.0.1:9093",
        },
      },
      {
        ApacheKafkaCluster: { ApacheKafkaClusterId: "dr", BootstrapBrokerString: "localhost:19092" },
        ClientAuthentication: { SaslScram: { Mechanism: "SHA512", SecretArn: SECRET_ARN } },
      },
    ],
    ReplicationInfoList: [
      {
        SourceKafkaClusterId: "primary",
        TargetKafkaClusterId: "dr",
        TargetCompressionType: "LZ4",
        TopicReplication: {
          TopicsToReplicate: ["orders.*", "payments"],
          TopicsToExclude: [".*\\.tmp"],
          CopyTopicConfigurations: true,
          CopyAccessControlListsForTopics: false,
          DetectAndCopyNewTopics: true,
          StartingPosition: { Type: "EARLIEST" },
        },
        ConsumerGroupReplication: {
          ConsumerGroupsToReplicate: [".*"],
          DetectAndCopyNewConsumerGroups: true,
          SynchroniseConsumerGroupOffsets: true,
        },
      },
    ],
  };
  if (tags !== undefined) input.Tags = tags;
  return input;
}

/** A complete TopicReplicationUpdate (all five members are required). */
function topicUpdate(topics) {
  return {
    TopicsToReplicate: topics,
    TopicsToExclude: ["internal.*"],
    CopyTopicConfigurations: false,
    CopyAccessControlListsForTopics: true,
    DetectAndCopyNewTopics: false,
  };
}

function create(c, name, tags) {
  return c.send(new CreateReplicatorCommand(createInput(name, tags)));
}

function describeReplicator(c, arn) {
  return c.send(new DescribeReplicatorCommand({ ReplicatorArn: arn }));
}

/** Asserts that promise rejects with the modeled exception cls, its name,
 * HTTP status and (if given) InvalidParameter; returns the error. */
async function rejectsWith(promise, cls, status, invalidParameter) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name}, but the call succeeded`);
  assert.equal(err.name, cls.name, `${err.name}: ${err.message}`);
  assert.ok(err instanceof cls, `${err.name} is not an instance of ${cls.name}`);
  assert.equal(err.$metadata.httpStatusCode, status);
  assert.equal(err.$metadata.attempts, 1);
  if (invalidParameter !== undefined) {
    assert.equal(err.InvalidParameter, invalidParameter);
  }
  return err;
}

describe("@aws-sdk/client-kafka", () => {
  test("CreateReplicator and DescribeReplicator", async () => {
    const name = uniqueName("js-create");
    const out = await create(kafkaA, name, { env: "dev" });
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.ok(out.$metadata.requestId, "no request id");
    assert.equal(out.ReplicatorName, name);
    assert.equal(out.ReplicatorState, "CREATING");
    const arn = out.ReplicatorArn;
    assert.match(arn, arnPattern(ACCOUNT_A, name));

    const d = await describeReplicator(kafkaA, arn);
    assert.equal(d.ReplicatorArn, arn);
    assert.equal(d.ReplicatorResourceArn, arn);
    assert.equal(d.ReplicatorName, name);
    assert.equal(d.ReplicatorState, "CREATING");
    assert.equal(d.ReplicatorDescription, "orders to DR");
    assert.equal(d.ServiceExecutionRoleArn, ROLE_ARN);
    assert.deepEqual(d.Tags, { env: "dev" });
    assert.equal(typeof d.CurrentVersion, "string");
    assert.ok(d.CurrentVersion);
    assert.ok(d.CreationTime instanceof Date, `CreationTime is ${typeof d.CreationTime}`);
    assert.ok(!Number.isNaN(d.CreationTime.getTime()));
    assert.ok(Math.abs(Date.now() - d.CreationTime.getTime()) < 5 * 60 * 1000, String(d.CreationTime));
    assert.equal(d.IsReplicatorReference, false);

    const clusters = d.KafkaClusters;
    assert.deepEqual(clusters.map((c) => c.KafkaClusterAlias), [alias("primary"), alias("dr")]);
    assert.equal(clusters[0].ApacheKafkaCluster.BootstrapBrokerString, "127.0.0.1:9092,127.0.0.1:9093");
    assert.deepEqual(clusters[1].ClientAuthentication.SaslScram, { Mechanism: "SHA512", SecretArn: SECRET_ARN });

    assert.equal(d.ReplicationInfoList.length, 1);
    const [ri] = d.ReplicationInfoList;
    assert.equal(ri.SourceKafkaClusterAlias, alias("primary"));
    assert.equal(ri.TargetKafkaClusterAlias, alias("dr"));
    assert.equal(ri.TargetCompressionType, "LZ4");
    const tr = ri.TopicReplication;
    assert.deepEqual(tr.TopicsToReplicate, ["orders.*", "payments"]);
    assert.deepEqual(tr.TopicsToExclude, [".*\\.tmp"]);
    assert.strictEqual(tr.CopyTopicConfigurations, true);
    assert.strictEqual(tr.CopyAccessControlListsForTopics, false);
    assert.strictEqual(tr.DetectAndCopyNewTopics, true);
    assert.deepEqual(tr.StartingPosition, { Type: "EARLIEST" });
    assert.deepEqual(tr.TopicNameConfiguration, { Type: "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS" });
    const cg = ri.ConsumerGroupReplication;
    assert.deepEqual(cg.ConsumerGroupsToReplicate, [".*"]);
    assert.deepEqual(cg.ConsumerGroupsToExclude, []);
    assert.strictEqual(cg.DetectAndCopyNewConsumerGroups, true);
    assert.strictEqual(cg.SynchroniseConsumerGroupOffsets, true);
    assert.equal(cg.ConsumerGroupOffsetSyncMode, "LEGACY");
  });

  describe("ListReplicators", () => {
    const prefix = uniqueName("js-page");
    const names = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);

    before(async () => {
      for (const n of names) await create(kafkaA, n);
    });

    test("paginateListReplicators with pageSize 2", async () => {
      const pages = [];
      for await (const page of paginateListReplicators(
        { client: kafkaA, pageSize: 2 },
        { ReplicatorNameFilter: prefix },
      )) {
        pages.push(page);
      }
      assert.deepEqual(pages.map((p) => p.Replicators.length), [2, 2, 2, 1]);
      const seen = pages.flatMap((p) => p.Replicators.map((r) => r.ReplicatorName));
      assert.deepEqual([...seen].sort(), [...names].sort());
      assert.equal(new Set(seen).size, seen.length, `a name came twice: ${seen}`);
      for (const p of pages.slice(0, -1)) assert.ok(p.NextToken, "a page before the last has no NextToken");
      assert.equal(pages.at(-1).NextToken, undefined);
      for (const r of pages.flatMap((p) => p.Replicators)) {
        assert.match(r.ReplicatorArn, arnPattern(ACCOUNT_A, r.ReplicatorName));
        assert.ok(r.CreationTime instanceof Date);
        assert.equal(r.IsReplicatorReference, false);
        assert.equal(r.ReplicatorState, "CREATING");
        assert.deepEqual(r.ReplicationInfoSummaryList, [
          { SourceKafkaClusterAlias: alias("primary"), TargetKafkaClusterAlias: alias("dr") },
        ]);
      }
    });

    test("MaxResults and NextToken by hand", async () => {
      const first = await kafkaA.send(new ListReplicatorsCommand({ ReplicatorNameFilter: prefix, MaxResults: 5 }));
      assert.equal(first.Replicators.length, 5);
      assert.ok(first.NextToken);
      const rest = await kafkaA.send(
        new ListReplicatorsCommand({ ReplicatorNameFilter: prefix, MaxResults: 5, NextToken: first.NextToken }),
      );
      assert.equal(rest.Replicators.length, 2);
      assert.equal(rest.NextToken, undefined);
      const seen = [...first.Replicators, ...rest.Replicators].map((r) => r.ReplicatorName);
      assert.deepEqual(seen.sort(), [...names].sort());

      await rejectsWith(
        kafkaA.send(new ListReplicatorsCommand({ ReplicatorNameFilter: prefix, NextToken: "not-a-token" })),
        BadRequestException, 400, "nextToken",
      );
    });
  });

  test("UpdateReplicationInfo", async () => {
    const { ReplicatorArn: arn } = await create(kafkaA, uniqueName("js-update"));
    const version = (await describeReplicator(kafkaA, arn)).CurrentVersion;

    const out = await kafkaA.send(new UpdateReplicationInfoCommand({
      ReplicatorArn: arn,
      CurrentVersion: version,
      SourceKafkaClusterId: "primary",
      TargetKafkaClusterId: "dr",
      TopicReplication: topicUpdate(["orders.*"]),
      ConsumerGroupReplication: {
        ConsumerGroupsToReplicate: ["billing-.*"],
        ConsumerGroupsToExclude: ["billing-test"],
        DetectAndCopyNewConsumerGroups: false,
        SynchroniseConsumerGroupOffsets: false,
      },
    }));
    assert.equal(out.ReplicatorArn, arn);
    assert.equal(out.ReplicatorState, "UPDATING");

    const d = await describeReplicator(kafkaA, arn);
    assert.equal(d.ReplicatorState, "UPDATING");
    assert.notEqual(d.CurrentVersion, version);
    const ri = d.ReplicationInfoList[0];
    assert.deepEqual(ri.TopicReplication.TopicsToReplicate, ["orders.*"]);
    assert.deepEqual(ri.TopicReplication.TopicsToExclude, ["internal.*"]);
    assert.strictEqual(ri.TopicReplication.CopyTopicConfigurations, false);
    assert.strictEqual(ri.TopicReplication.CopyAccessControlListsForTopics, true);
    assert.strictEqual(ri.TopicReplication.DetectAndCopyNewTopics, false);
    assert.deepEqual(ri.ConsumerGroupReplication.ConsumerGroupsToReplicate, ["billing-.*"]);
    assert.deepEqual(ri.ConsumerGroupReplication.ConsumerGroupsToExclude, ["billing-test"]);
    assert.strictEqual(ri.ConsumerGroupReplication.SynchroniseConsumerGroupOffsets, false);

    // The version from before the update is stale now.
    const err = await rejectsWith(
      kafkaA.send(new UpdateReplicationInfoCommand({
        ReplicatorArn: arn,
        CurrentVersion: version,
        SourceKafkaClusterId: "primary",
        TargetKafkaClusterId: "dr",
        TopicReplication: topicUpdate(["stale"]),
      })),
      BadRequestException, 400, "currentVersion",
    );
    assert.ok(err.message, "no error message");
    assert.equal((await describeReplicator(kafkaA, arn)).CurrentVersion, d.CurrentVersion);
  });

  test("DeleteReplicator", async () => {
    const name = uniqueName("js-delete");
    const { ReplicatorArn: arn } = await create(kafkaA, name);
    const version = (await describeReplicator(kafkaA, arn)).CurrentVersion;

    const out = await kafkaA.send(new DeleteReplicatorCommand({ ReplicatorArn: arn, CurrentVersion: version }));
    assert.equal(out.ReplicatorArn, arn);
    assert.equal(out.ReplicatorState, "DELETING");

    // DELETING until it is gone, then NotFoundException.
    const deadline = Date.now() + 15_000;
    for (;;) {
      let d;
      try {
        d = await describeReplicator(kafkaA, arn);
      } catch (e) {
        assert.equal(e.name, "NotFoundException", `${e.name}: ${e.message}`);
        assert.equal(e.$metadata.httpStatusCode, 404);
        break;
      }
      assert.equal(d.ReplicatorState, "DELETING");
      assert.ok(Date.now() < deadline, `DescribeReplicator still finds ${arn} 15 s after the delete`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const list = await kafkaA.send(new ListReplicatorsCommand({ ReplicatorNameFilter: name }));
    assert.deepEqual(list.Replicators, []);
  });

  test("TagResource, ListTagsForResource, UntagResource", async () => {
    const { ReplicatorArn: arn } = await create(kafkaA, uniqueName("js-tags"), { env: "dev" });
    const listTags = async () =>
      (await kafkaA.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags;

    const tagged = await kafkaA.send(new TagResourceCommand({ ResourceArn: arn, Tags: { team: "platform", tier: "gold" } }));
    assert.equal(tagged.$metadata.httpStatusCode, 204);
    assert.deepEqual(await listTags(), { env: "dev", team: "platform", tier: "gold" });

    const untagged = await kafkaA.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ["env", "tier"] }));
    assert.equal(untagged.$metadata.httpStatusCode, 204);
    assert.deepEqual(await listTags(), { team: "platform" });

    // Keys and values that need escaping in the query string (untag) and in
    // SigV4's canonical request.
    const odd = { "cost center": "a=b/c+d", "zürich team@x": "", "k.e_y-1": "ümlaut value" };
    await kafkaA.send(new TagResourceCommand({ ResourceArn: arn, Tags: odd }));
    assert.deepEqual(await listTags(), { ...odd, team: "platform" });
    await kafkaA.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ["cost center", "zürich team@x"] }));
    assert.deepEqual(await listTags(), { team: "platform", "k.e_y-1": "ümlaut value" });
  });

  describe("errors", () => {
    test("invalid name: BadRequestException, InvalidParameter replicatorName", async () => {
      const err = await rejectsWith(create(kafkaA, "bad_name"), BadRequestException, 400, "replicatorName");
      assert.ok(err.message, "no error message");
      assert.equal(err.$fault, "client");
    });

    test("duplicate name: ConflictException", async () => {
      const name = uniqueName("js-dup");
      await create(kafkaA, name);
      await rejectsWith(create(kafkaA, name), ConflictException, 409);
    });

    test("another account's replicator: NotFoundException", async () => {
      const name = uniqueName("js-acct");
      const { ReplicatorArn: arnA } = await create(kafkaA, name);
      await rejectsWith(describeReplicator(kafkaB, arnA), NotFoundException, 404);
      await rejectsWith(
        kafkaB.send(new ListTagsForResourceCommand({ ResourceArn: arnA })), NotFoundException, 404,
      );
      const listB = await kafkaB.send(new ListReplicatorsCommand({ ReplicatorNameFilter: name }));
      assert.deepEqual(listB.Replicators, []);

      // Names are unique per account: B may use the same one.
      const outB = await create(kafkaB, name);
      assert.match(outB.ReplicatorArn, arnPattern(ACCOUNT_B, name));
      assert.equal((await describeReplicator(kafkaA, arnA)).ReplicatorState, "CREATING");
    });

    test("wrong secret: UnauthorizedException", async () => {
      const bad = client(env.CLIENTS_KEY_A_ID, "not-the-secret");
      await rejectsWith(bad.send(new ListReplicatorsCommand({})), UnauthorizedException, 401);
    });
  });
});
