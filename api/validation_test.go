package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
)

// TestCreateValidation sends invalid CreateReplicator requests through the
// SDK and checks each gets BadRequestException naming the member, and that
// nothing is stored.
func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ri := func(in *kafka.CreateReplicatorInput) *types.ReplicationInfo { return &in.ReplicationInfoList[0] }
	cases := []struct {
		name  string
		mut   func(in *kafka.CreateReplicatorInput)
		param string
	}{
		{"empty name", func(in *kafka.CreateReplicatorInput) { in.ReplicatorName = aws.String("") }, "replicatorName"},
		{"name pattern", func(in *kafka.CreateReplicatorInput) { in.ReplicatorName = aws.String("-bad") }, "replicatorName"},
		{"name chars", func(in *kafka.CreateReplicatorInput) { in.ReplicatorName = aws.String("a_b") }, "replicatorName"},
		{"name length", func(in *kafka.CreateReplicatorInput) { in.ReplicatorName = aws.String(strings.Repeat("a", 129)) }, "replicatorName"},
		{"description length", func(in *kafka.CreateReplicatorInput) { in.Description = aws.String(strings.Repeat("d", 1025)) }, "description"},
		{"role", func(in *kafka.CreateReplicatorInput) { in.ServiceExecutionRoleArn = aws.String("role") }, "serviceExecutionRoleArn"},
		{"one cluster", func(in *kafka.CreateReplicatorInput) { in.KafkaClusters = in.KafkaClusters[:1] }, "kafkaClusters"},
		{"three clusters", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters = append(in.KafkaClusters, in.KafkaClusters[0])
		}, "kafkaClusters"},
		{"same cluster twice", func(in *kafka.CreateReplicatorInput) { in.KafkaClusters[1] = in.KafkaClusters[0] }, "kafkaClusters"},
		{"cluster without kind", func(in *kafka.CreateReplicatorInput) { in.KafkaClusters[0].ApacheKafkaCluster = nil }, "kafkaClusters[0]"},
		{"both kinds", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].AmazonMskCluster = &types.AmazonMskCluster{MskClusterArn: aws.String(mskSrc)}
		}, "kafkaClusters[0]"},
		{"bad bootstrap", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].ApacheKafkaCluster.BootstrapBrokerString = aws.String("no-port")
		}, "kafkaClusters[0].apacheKafkaCluster.bootstrapBrokerString"},
		{"bad port", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].ApacheKafkaCluster.BootstrapBrokerString = aws.String("h:99999")
		}, "kafkaClusters[0].apacheKafkaCluster.bootstrapBrokerString"},
		{"empty cluster id", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].ApacheKafkaCluster.ApacheKafkaClusterId = aws.String("")
		}, "kafkaClusters[0].apacheKafkaCluster.apacheKafkaClusterId"},
		{"bad msk arn", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0] = types.KafkaCluster{AmazonMskCluster: &types.AmazonMskCluster{MskClusterArn: aws.String("arn:aws:kafka:x")}}
		}, "kafkaClusters[0].amazonMskCluster.mskClusterArn"},
		{"scram mechanism", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[1].ClientAuthentication.SaslScram.Mechanism = "MD5"
		}, "kafkaClusters[1].clientAuthentication.saslScram.mechanism"},
		{"secret not resolvable", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[1].ClientAuthentication.SaslScram.SecretArn = aws.String("arn:aws:secretsmanager:us-east-1:111111111111:secret:missing")
		}, "kafkaClusters[1].clientAuthentication.saslScram.secretArn"},
		{"oauth unsupported", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[1].ClientAuthentication = &types.KafkaClusterClientAuthentication{SaslOAuthBearer: &types.KafkaClusterSaslOAuthBearerAuthentication{
				TokenEndpointUrl: aws.String("https://idp"), TokenEndpointAuthenticationMethod: types.TokenEndpointAuthenticationMethodPost}}
		}, "kafkaClusters[1].clientAuthentication.saslOAuthBearer"},
		{"encryption type", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].EncryptionInTransit = &types.KafkaClusterEncryptionInTransit{EncryptionType: "PLAINTEXT"}
		}, "kafkaClusters[0].encryptionInTransit.encryptionType"},
		{"bad CA", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].EncryptionInTransit = &types.KafkaClusterEncryptionInTransit{EncryptionType: "TLS", RootCaCertificate: aws.String("not a cert")}
		}, "kafkaClusters[0].encryptionInTransit.rootCaCertificate"},
		{"no replication info", func(in *kafka.CreateReplicatorInput) { in.ReplicationInfoList = []types.ReplicationInfo{} }, "replicationInfoList"},
		{"two replication infos", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList = append(in.ReplicationInfoList, in.ReplicationInfoList[0])
		}, "replicationInfoList"},
		{"unknown source", func(in *kafka.CreateReplicatorInput) { ri(in).SourceKafkaClusterId = aws.String("nope") }, "sourceKafkaClusterId"},
		{"source by arn of apache", func(in *kafka.CreateReplicatorInput) {
			ri(in).SourceKafkaClusterId = nil
			ri(in).SourceKafkaClusterArn = aws.String(mskSrc)
		}, "sourceKafkaClusterArn"},
		{"no target", func(in *kafka.CreateReplicatorInput) { ri(in).TargetKafkaClusterId = nil }, "targetKafkaClusterArn"},
		{"source is target", func(in *kafka.CreateReplicatorInput) { ri(in).TargetKafkaClusterId = aws.String("primary") }, "targetKafkaClusterArn"},
		{"compression", func(in *kafka.CreateReplicatorInput) { ri(in).TargetCompressionType = "BROTLI" }, "targetCompressionType"},
		{"no topics", func(in *kafka.CreateReplicatorInput) { ri(in).TopicReplication.TopicsToReplicate = []string{} }, "topicReplication.topicsToReplicate"},
		{"lookahead", func(in *kafka.CreateReplicatorInput) { ri(in).TopicReplication.TopicsToReplicate = []string{"(?=x)"} }, "topicReplication.topicsToReplicate"},
		{"backreference", func(in *kafka.CreateReplicatorInput) { ri(in).TopicReplication.TopicsToExclude = []string{`(a)\1`} }, "topicReplication.topicsToExclude"},
		{"pattern too long", func(in *kafka.CreateReplicatorInput) {
			ri(in).TopicReplication.TopicsToReplicate = []string{strings.Repeat("a", 250)}
		}, "topicReplication.topicsToReplicate"},
		{"huge repetition", func(in *kafka.CreateReplicatorInput) {
			ri(in).TopicReplication.TopicsToReplicate = []string{"((a{1000}){1000}){1000}"}
		}, "topicReplication.topicsToReplicate"},
		{"starting position", func(in *kafka.CreateReplicatorInput) {
			ri(in).TopicReplication.StartingPosition = &types.ReplicationStartingPosition{Type: "MIDDLE"}
		}, "topicReplication.startingPosition.type"},
		{"name configuration", func(in *kafka.CreateReplicatorInput) {
			ri(in).TopicReplication.TopicNameConfiguration = &types.ReplicationTopicNameConfiguration{Type: "SUFFIXED"}
		}, "topicReplication.topicNameConfiguration.type"},
		{"group pattern", func(in *kafka.CreateReplicatorInput) {
			ri(in).ConsumerGroupReplication.ConsumerGroupsToReplicate = []string{"[unclosed"}
		}, "consumerGroupReplication.consumerGroupsToReplicate"},
		{"group pattern too long", func(in *kafka.CreateReplicatorInput) {
			ri(in).ConsumerGroupReplication.ConsumerGroupsToExclude = []string{strings.Repeat("g", 257)}
		}, "consumerGroupReplication.consumerGroupsToExclude"},
		{"sync mode", func(in *kafka.CreateReplicatorInput) {
			ri(in).ConsumerGroupReplication.ConsumerGroupOffsetSyncMode = "FAST"
		}, "consumerGroupReplication.consumerGroupOffsetSyncMode"},
		{"enhanced needs identical", func(in *kafka.CreateReplicatorInput) {
			ri(in).ConsumerGroupReplication.ConsumerGroupOffsetSyncMode = types.ConsumerGroupOffsetSyncModeEnhanced
		}, "consumerGroupReplication.consumerGroupOffsetSyncMode"},
		{"aws tag", func(in *kafka.CreateReplicatorInput) { in.Tags = map[string]string{"aws:x": "y"} }, "tags"},
		{"log delivery bucket", func(in *kafka.CreateReplicatorInput) {
			in.LogDelivery = &types.LogDelivery{ReplicatorLogDelivery: &types.ReplicatorLogDelivery{S3: &types.ReplicatorS3{Enabled: aws.Bool(true), Bucket: aws.String("")}}}
		}, "logDelivery.replicatorLogDelivery.s3.bucket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := apacheCreate("valid-name")
			tc.mut(in)
			_, err := e.a.CreateReplicator(ctx, in)
			wantBadRequest(t, err, tc.param)
		})
	}
	l, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if err != nil || len(l.Replicators) != 0 {
		t.Fatalf("invalid creates stored %d replicators (%v)", len(l.Replicators), err)
	}
	// The base input is valid: each case failed for its own reason.
	if _, err := e.a.CreateReplicator(ctx, apacheCreate("valid-name")); err != nil {
		t.Fatal(err)
	}
}
