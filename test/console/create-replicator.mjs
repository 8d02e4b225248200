// Creates the demo replicator of `replicator dev` (source → target, topic
// "orders") with the AWS SDK for JavaScript v3 and prints its ARN. Used by
// run.sh; the console test then finds it in the page.
//
//   node create-replicator.mjs   (CONSOLE_ENDPOINT, CONSOLE_REGION, CONSOLE_KEY_ID,
//                                 CONSOLE_SECRET, CONSOLE_SOURCE, CONSOLE_TARGET,
//                                 CONSOLE_REPLICATOR_NAME)

import { CreateReplicatorCommand, KafkaClient } from "@aws-sdk/client-kafka";

const env = process.env;
for (const n of ["CONSOLE_ENDPOINT", "CONSOLE_REGION", "CONSOLE_KEY_ID", "CONSOLE_SECRET", "CONSOLE_SOURCE", "CONSOLE_TARGET", "CONSOLE_REPLICATOR_NAME"]) {
  if (!env[n]) throw new Error(`${n} is not set: run test/console/run.sh`);
}
const kafka = new KafkaClient({
  region: env.CONSOLE_REGION,
  endpoint: env.CONSOLE_ENDPOINT,
  credentials: { accessKeyId: env.CONSOLE_KEY_ID, secretAccessKey: env.CONSOLE_SECRET },
  maxAttempts: 1,
});
const out = await kafka.send(new CreateReplicatorCommand({
  ReplicatorName: env.CONSOLE_REPLICATOR_NAME,
  Description: "created by test/console/run.sh",
  ServiceExecutionRoleArn: "arn:aws:iam::000000000000:role/demo",
  KafkaClusters: [
    { ApacheKafkaCluster: { ApacheKafkaClusterId: "source", BootstrapBrokerString: env.CONSOLE_SOURCE } },
    { ApacheKafkaCluster: { ApacheKafkaClusterId: "target", BootstrapBrokerString: env.CONSOLE_TARGET } },
  ],
  ReplicationInfoList: [{
    SourceKafkaClusterId: "source",
    TargetKafkaClusterId: "target",
    TargetCompressionType: "NONE",
    TopicReplication: {
      TopicsToReplicate: ["orders"],
      StartingPosition: { Type: "EARLIEST" },
      DetectAndCopyNewTopics: true,
      CopyTopicConfigurations: true,
    },
    ConsumerGroupReplication: { ConsumerGroupsToReplicate: [".*"] },
  }],
}));
console.log(out.ReplicatorArn);
