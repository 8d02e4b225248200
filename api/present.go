package api

import (
	"time"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// timeLayout is how creationTime goes on the wire: ISO-8601 UTC with
// milliseconds, which every SDK parses.
const timeLayout = "2006-01-02T15:04:05.000Z"

func ptr[T any](v T) *T { return &v }

func clusterToWire(c *replicator.Cluster) wireKafkaCluster {
	w := wireKafkaCluster{KafkaClusterAlias: c.Alias}
	if c.MSK != nil {
		w.AmazonMskCluster = &wireAmazonMskCluster{MskClusterArn: ptr(c.MSK.ClusterARN)}
	}
	if c.Apache != nil {
		w.ApacheKafkaCluster = &wireApacheKafkaCluster{ApacheKafkaClusterID: ptr(c.Apache.ClusterID), BootstrapBrokerString: ptr(c.Apache.BootstrapBrokers)}
	}
	if c.VPC != nil {
		w.VpcConfig = &wireVpcConfig{SubnetIds: nonNilSlice(c.VPC.SubnetIDs), SecurityGroupIds: c.VPC.SecurityGroupIDs}
	}
	if a := c.Auth; a != nil {
		w.ClientAuthentication = &wireClientAuth{}
		if a.SASLScram != nil {
			w.ClientAuthentication.SaslScram = &wireSaslScram{Mechanism: ptr(a.SASLScram.Mechanism), SecretArn: ptr(a.SASLScram.SecretARN)}
		}
		if a.MTLS != nil {
			w.ClientAuthentication.MTLS = &wireMTLS{SecretArn: ptr(a.MTLS.SecretARN)}
		}
	}
	if c.Encryption != nil {
		// The root CA is not echoed: certificates appear in no response.
		w.EncryptionInTransit = &wireEncryption{EncryptionType: ptr(c.Encryption.EncryptionType)}
	}
	return w
}

func replicationInfoToWire(ri *replicator.ReplicationInfo) wireReplicationInf {
	t, g := ri.Topics, ri.Groups
	return wireReplicationInf{
		SourceKafkaClusterAlias: ri.SourceAlias,
		TargetKafkaClusterAlias: ri.TargetAlias,
		TargetCompressionType:   ptr(ri.TargetCompression),
		TopicReplication: &wireTopicReplication{
			CopyAccessControlListsForTopics: ptr(t.CopyAccessControlListsForTopics),
			CopyTopicConfigurations:         ptr(t.CopyTopicConfigurations),
			DetectAndCopyNewTopics:          ptr(t.DetectAndCopyNewTopics),
			StartingPosition:                &wireTypeOnly{Type: ptr(t.StartingPosition)},
			TopicNameConfiguration:          &wireTypeOnly{Type: ptr(t.TopicNameConfiguration)},
			TopicsToExclude:                 nonNilSlice(t.TopicsToExclude),
			TopicsToReplicate:               nonNilSlice(t.TopicsToReplicate),
		},
		ConsumerGroupReplication: &wireConsumerGroupReplication{
			ConsumerGroupOffsetSyncMode:     ptr(g.OffsetSyncMode),
			ConsumerGroupsToExclude:         nonNilSlice(g.ConsumerGroupsToExclude),
			ConsumerGroupsToReplicate:       nonNilSlice(g.ConsumerGroupsToReplicate),
			DetectAndCopyNewConsumerGroups:  ptr(g.DetectAndCopyNewConsumerGroups),
			SynchroniseConsumerGroupOffsets: ptr(g.SynchroniseConsumerGroupOffsets),
		},
	}
}

func logDeliveryToWire(ld *replicator.LogDelivery) *wireLogDelivery {
	if ld == nil {
		return nil
	}
	rl := &wireReplicatorLogDelivery{}
	if c := ld.CloudWatchLogs; c != nil {
		rl.CloudWatchLogs = &wireCloudWatchLogs{Enabled: ptr(c.Enabled), LogGroup: optional(c.Name)}
	}
	if f := ld.Firehose; f != nil {
		rl.Firehose = &wireFirehose{Enabled: ptr(f.Enabled), DeliveryStream: optional(f.Name)}
	}
	if s := ld.S3; s != nil {
		rl.S3 = &wireS3{Enabled: ptr(s.Enabled), Bucket: optional(s.Name), Prefix: optional(s.Prefix)}
	}
	return &wireLogDelivery{ReplicatorLogDelivery: rl}
}

func describeToWire(r *replicator.Replicator) describeReplicatorResponse {
	out := describeReplicatorResponse{
		CreationTime:            formatTime(r.CreatedAt),
		CurrentVersion:          r.CurrentVersion,
		KafkaClusters:           []wireKafkaCluster{},
		LogDelivery:             logDeliveryToWire(r.Spec.LogDelivery),
		ReplicationInfoList:     []wireReplicationInf{},
		ReplicatorArn:           r.ARN.String(),
		ReplicatorDescription:   r.Description,
		ReplicatorName:          r.Name,
		ReplicatorResourceArn:   r.ARN.String(),
		ReplicatorState:         string(r.State),
		ServiceExecutionRoleArn: r.ServiceExecutionRoleARN,
		Tags:                    r.Tags,
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	for i := range r.Spec.Clusters {
		out.KafkaClusters = append(out.KafkaClusters, clusterToWire(&r.Spec.Clusters[i]))
	}
	for i := range r.Spec.ReplicationInfo {
		out.ReplicationInfoList = append(out.ReplicationInfoList, replicationInfoToWire(&r.Spec.ReplicationInfo[i]))
	}
	if r.StateCode != "" || r.StateMessage != "" {
		out.StateInfo = &stateInfo{Code: r.StateCode, Message: r.StateMessage}
	}
	return out
}

func summaryToWire(r *replicator.Replicator) replicatorSummary {
	s := replicatorSummary{
		CreationTime:               formatTime(r.CreatedAt),
		CurrentVersion:             r.CurrentVersion,
		KafkaClustersSummary:       []kafkaClusterSummary{},
		ReplicationInfoSummaryList: []replicationInfoSummary{},
		ReplicatorArn:              r.ARN.String(),
		ReplicatorName:             r.Name,
		ReplicatorResourceArn:      r.ARN.String(),
		ReplicatorState:            string(r.State),
	}
	for i := range r.Spec.Clusters {
		w := clusterToWire(&r.Spec.Clusters[i])
		s.KafkaClustersSummary = append(s.KafkaClustersSummary, kafkaClusterSummary{
			AmazonMskCluster: w.AmazonMskCluster, ApacheKafkaCluster: w.ApacheKafkaCluster, KafkaClusterAlias: w.KafkaClusterAlias})
	}
	for _, ri := range r.Spec.ReplicationInfo {
		s.ReplicationInfoSummaryList = append(s.ReplicationInfoSummaryList, replicationInfoSummary{
			SourceKafkaClusterAlias: ri.SourceAlias, TargetKafkaClusterAlias: ri.TargetAlias})
	}
	return s
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
