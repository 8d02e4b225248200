package api

import "encoding/json"

// Wire types: the JSON members exactly as the MSK API names them (see
// openapi.yaml). Optional members are pointers or nil slices so that
// "absent" and "empty" can be told apart.

type createReplicatorRequest struct {
	Description             *string              `json:"description"`
	KafkaClusters           []wireKafkaCluster   `json:"kafkaClusters"`
	LogDelivery             *wireLogDelivery     `json:"logDelivery"`
	ReplicationInfoList     []wireReplicationInf `json:"replicationInfoList"`
	ReplicatorName          *string              `json:"replicatorName"`
	ServiceExecutionRoleArn *string              `json:"serviceExecutionRoleArn"`
	Tags                    map[string]string    `json:"tags"`
}

type createReplicatorResponse struct {
	ReplicatorArn   string `json:"replicatorArn"`
	ReplicatorName  string `json:"replicatorName"`
	ReplicatorState string `json:"replicatorState"`
}

type wireKafkaCluster struct {
	AmazonMskCluster     *wireAmazonMskCluster   `json:"amazonMskCluster,omitempty"`
	ApacheKafkaCluster   *wireApacheKafkaCluster `json:"apacheKafkaCluster,omitempty"`
	VpcConfig            *wireVpcConfig          `json:"vpcConfig,omitempty"`
	ClientAuthentication *wireClientAuth         `json:"clientAuthentication,omitempty"`
	EncryptionInTransit  *wireEncryption         `json:"encryptionInTransit,omitempty"`
	// KafkaClusterAlias is output only (Describe).
	KafkaClusterAlias string `json:"kafkaClusterAlias,omitempty"`
}

type wireAmazonMskCluster struct {
	MskClusterArn *string `json:"mskClusterArn"`
}

type wireApacheKafkaCluster struct {
	ApacheKafkaClusterID  *string `json:"apacheKafkaClusterId"`
	BootstrapBrokerString *string `json:"bootstrapBrokerString"`
}

type wireVpcConfig struct {
	SecurityGroupIds []string `json:"securityGroupIds,omitempty"`
	SubnetIds        []string `json:"subnetIds"`
}

type wireClientAuth struct {
	SaslScram       *wireSaslScram  `json:"saslScram,omitempty"`
	MTLS            *wireMTLS       `json:"mTLS,omitempty"`
	SaslOAuthBearer json.RawMessage `json:"saslOAuthBearer,omitempty"`
}

type wireSaslScram struct {
	Mechanism *string `json:"mechanism"`
	SecretArn *string `json:"secretArn"`
}

type wireMTLS struct {
	SecretArn *string `json:"secretArn"`
}

type wireEncryption struct {
	EncryptionType    *string `json:"encryptionType"`
	RootCaCertificate *string `json:"rootCaCertificate,omitempty"`
}

type wireReplicationInf struct {
	SourceKafkaClusterArn    *string                       `json:"sourceKafkaClusterArn,omitempty"`
	SourceKafkaClusterID     *string                       `json:"sourceKafkaClusterId,omitempty"`
	TargetKafkaClusterArn    *string                       `json:"targetKafkaClusterArn,omitempty"`
	TargetKafkaClusterID     *string                       `json:"targetKafkaClusterId,omitempty"`
	SourceKafkaClusterAlias  string                        `json:"sourceKafkaClusterAlias,omitempty"`
	TargetKafkaClusterAlias  string                        `json:"targetKafkaClusterAlias,omitempty"`
	TargetCompressionType    *string                       `json:"targetCompressionType"`
	TopicReplication         *wireTopicReplication         `json:"topicReplication"`
	ConsumerGroupReplication *wireConsumerGroupReplication `json:"consumerGroupReplication"`
}

type wireTopicReplication struct {
	CopyAccessControlListsForTopics *bool         `json:"copyAccessControlListsForTopics"`
	CopyTopicConfigurations         *bool         `json:"copyTopicConfigurations"`
	DetectAndCopyNewTopics          *bool         `json:"detectAndCopyNewTopics"`
	StartingPosition                *wireTypeOnly `json:"startingPosition,omitempty"`
	TopicNameConfiguration          *wireTypeOnly `json:"topicNameConfiguration,omitempty"`
	TopicsToExclude                 []string      `json:"topicsToExclude"`
	TopicsToReplicate               []string      `json:"topicsToReplicate"`
}

type wireTypeOnly struct {
	Type *string `json:"type"`
}

type wireConsumerGroupReplication struct {
	ConsumerGroupOffsetSyncMode     *string  `json:"consumerGroupOffsetSyncMode,omitempty"`
	ConsumerGroupsToExclude         []string `json:"consumerGroupsToExclude"`
	ConsumerGroupsToReplicate       []string `json:"consumerGroupsToReplicate"`
	DetectAndCopyNewConsumerGroups  *bool    `json:"detectAndCopyNewConsumerGroups"`
	SynchroniseConsumerGroupOffsets *bool    `json:"synchroniseConsumerGroupOffsets"`
}

type wireLogDelivery struct {
	ReplicatorLogDelivery *wireReplicatorLogDelivery `json:"replicatorLogDelivery,omitempty"`
}

type wireReplicatorLogDelivery struct {
	CloudWatchLogs *wireCloudWatchLogs `json:"cloudWatchLogs,omitempty"`
	Firehose       *wireFirehose       `json:"firehose,omitempty"`
	S3             *wireS3             `json:"s3,omitempty"`
}

type wireCloudWatchLogs struct {
	Enabled  *bool   `json:"enabled"`
	LogGroup *string `json:"logGroup,omitempty"`
}

type wireFirehose struct {
	Enabled        *bool   `json:"enabled"`
	DeliveryStream *string `json:"deliveryStream,omitempty"`
}

type wireS3 struct {
	Enabled *bool   `json:"enabled"`
	Bucket  *string `json:"bucket,omitempty"`
	Prefix  *string `json:"prefix,omitempty"`
}

type stateInfo struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type describeReplicatorResponse struct {
	CreationTime            string               `json:"creationTime"`
	CurrentVersion          string               `json:"currentVersion"`
	IsReplicatorReference   bool                 `json:"isReplicatorReference"`
	KafkaClusters           []wireKafkaCluster   `json:"kafkaClusters"`
	LogDelivery             *wireLogDelivery     `json:"logDelivery,omitempty"`
	ReplicationInfoList     []wireReplicationInf `json:"replicationInfoList"`
	ReplicatorArn           string               `json:"replicatorArn"`
	ReplicatorDescription   string               `json:"replicatorDescription,omitempty"`
	ReplicatorName          string               `json:"replicatorName"`
	ReplicatorResourceArn   string               `json:"replicatorResourceArn"`
	ReplicatorState         string               `json:"replicatorState"`
	ServiceExecutionRoleArn string               `json:"serviceExecutionRoleArn"`
	StateInfo               *stateInfo           `json:"stateInfo,omitempty"`
	Tags                    map[string]string    `json:"tags"`
}

type listReplicatorsResponse struct {
	NextToken   string              `json:"nextToken,omitempty"`
	Replicators []replicatorSummary `json:"replicators"`
}

type replicatorSummary struct {
	CreationTime               string                   `json:"creationTime"`
	CurrentVersion             string                   `json:"currentVersion"`
	IsReplicatorReference      bool                     `json:"isReplicatorReference"`
	KafkaClustersSummary       []kafkaClusterSummary    `json:"kafkaClustersSummary"`
	ReplicationInfoSummaryList []replicationInfoSummary `json:"replicationInfoSummaryList"`
	ReplicatorArn              string                   `json:"replicatorArn"`
	ReplicatorName             string                   `json:"replicatorName"`
	ReplicatorResourceArn      string                   `json:"replicatorResourceArn"`
	ReplicatorState            string                   `json:"replicatorState"`
}

type kafkaClusterSummary struct {
	AmazonMskCluster   *wireAmazonMskCluster   `json:"amazonMskCluster,omitempty"`
	ApacheKafkaCluster *wireApacheKafkaCluster `json:"apacheKafkaCluster,omitempty"`
	KafkaClusterAlias  string                  `json:"kafkaClusterAlias"`
}

type replicationInfoSummary struct {
	SourceKafkaClusterAlias string `json:"sourceKafkaClusterAlias"`
	TargetKafkaClusterAlias string `json:"targetKafkaClusterAlias"`
}

type updateReplicationInfoRequest struct {
	CurrentVersion           *string                       `json:"currentVersion"`
	SourceKafkaClusterArn    *string                       `json:"sourceKafkaClusterArn"`
	SourceKafkaClusterID     *string                       `json:"sourceKafkaClusterId"`
	TargetKafkaClusterArn    *string                       `json:"targetKafkaClusterArn"`
	TargetKafkaClusterID     *string                       `json:"targetKafkaClusterId"`
	TopicReplication         *wireTopicReplication         `json:"topicReplication"`
	ConsumerGroupReplication *wireConsumerGroupReplication `json:"consumerGroupReplication"`
	LogDelivery              *wireLogDelivery              `json:"logDelivery"`
}

type arnStateResponse struct {
	ReplicatorArn   string `json:"replicatorArn"`
	ReplicatorState string `json:"replicatorState"`
}

type tagResourceRequest struct {
	Tags map[string]*string `json:"tags"`
}

type listTagsResponse struct {
	Tags map[string]string `json:"tags"`
}

type errorBody struct {
	Message          string `json:"message"`
	InvalidParameter string `json:"invalidParameter,omitempty"`
}
