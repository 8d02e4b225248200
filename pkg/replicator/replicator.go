package replicator

import "time"

// State is a replicator's lifecycle state, as MSK names it.
type State string

const (
	StateCreating State = "CREATING"
	StateRunning  State = "RUNNING"
	StateUpdating State = "UPDATING"
	StateDeleting State = "DELETING"
	StateFailed   State = "FAILED"
)

// Enumerations of the spec. Values are the AWS wire values.
const (
	CompressionNone   = "NONE"
	CompressionGzip   = "GZIP"
	CompressionSnappy = "SNAPPY"
	CompressionLZ4    = "LZ4"
	CompressionZstd   = "ZSTD"

	StartLatest   = "LATEST"
	StartEarliest = "EARLIEST"

	NamePrefixed  = "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"
	NameIdentical = "IDENTICAL"

	OffsetSyncLegacy   = "LEGACY"
	OffsetSyncEnhanced = "ENHANCED"

	ScramSHA256 = "SHA256"
	ScramSHA512 = "SHA512"
)

// Replicator is one replication flow between two clusters with its
// metadata and state.
type Replicator struct {
	ARN                     ARN
	AccountID               string
	Name                    string
	Description             string
	ServiceExecutionRoleARN string
	Spec                    Spec
	Tags                    map[string]string
	State                   State
	StateCode               string
	StateMessage            string
	// CurrentVersion is the opaque optimistic-concurrency token; it changes
	// whenever the spec changes.
	CurrentVersion string
	// SpecVersion counts spec changes; workers report the one they run.
	SpecVersion int64
	CreatedAt   time.Time
}

// Spec is everything that decides what a replicator copies. It is stored as
// one document.
type Spec struct {
	Clusters        []Cluster
	ReplicationInfo []ReplicationInfo
	LogDelivery     *LogDelivery
}

// Cluster is one Kafka cluster a replicator talks to: an MSK cluster known
// to the operator's cluster catalog, or any Apache Kafka cluster.
type Cluster struct {
	Alias      string
	MSK        *MSKCluster
	Apache     *ApacheKafkaCluster
	VPC        *VPCConfig
	Auth       *ClientAuthentication
	Encryption *EncryptionInTransit
}

// MSKCluster names a cluster by ARN.
type MSKCluster struct{ ClusterARN string }

// ApacheKafkaCluster names a self-managed cluster.
type ApacheKafkaCluster struct {
	ClusterID        string
	BootstrapBrokers string
}

// VPCConfig is accepted and stored for compatibility; it has no effect here.
type VPCConfig struct {
	SubnetIDs        []string
	SecurityGroupIDs []string
}

// ClientAuthentication says how to authenticate to a cluster. Only secret
// ARNs are kept; secrets are resolved by whoever connects.
type ClientAuthentication struct {
	SASLScram *SASLScram
	MTLS      *MTLS
}

type SASLScram struct {
	Mechanism string
	SecretARN string
}

type MTLS struct{ SecretARN string }

// EncryptionInTransit turns on TLS, optionally with a private root CA.
type EncryptionInTransit struct {
	EncryptionType    string
	RootCACertificate string
}

// ReplicationInfo is the one flow of a replicator.
type ReplicationInfo struct {
	SourceAlias       string
	TargetAlias       string
	TargetCompression string
	Topics            TopicReplication
	Groups            ConsumerGroupReplication
}

type TopicReplication struct {
	TopicsToReplicate               []string
	TopicsToExclude                 []string
	CopyTopicConfigurations         bool
	CopyAccessControlListsForTopics bool
	DetectAndCopyNewTopics          bool
	StartingPosition                string
	TopicNameConfiguration          string
}

type ConsumerGroupReplication struct {
	ConsumerGroupsToReplicate       []string
	ConsumerGroupsToExclude         []string
	DetectAndCopyNewConsumerGroups  bool
	SynchroniseConsumerGroupOffsets bool
	OffsetSyncMode                  string
}

// LogDelivery is accepted and stored for compatibility with MSK; logs go to
// the workers' own output.
type LogDelivery struct {
	CloudWatchLogs *LogDestination
	Firehose       *LogDestination
	S3             *LogDestination
}

// LogDestination is one log sink: Name is the log group, delivery stream or
// bucket, Prefix is used by S3 only.
type LogDestination struct {
	Enabled bool
	Name    string
	Prefix  string
}

// ClusterByAlias returns the spec's cluster with alias a.
func (s *Spec) ClusterByAlias(a string) *Cluster {
	for i := range s.Clusters {
		if s.Clusters[i].Alias == a {
			return &s.Clusters[i]
		}
	}
	return nil
}
