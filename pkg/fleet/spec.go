package fleet

import (
	"encoding/json"
	"fmt"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// SpecFormat is the version of the serialized replication spec: the spec
// column of the replicators table and the spec in the worker protocol
// (ReplicatorSpec). Its members are the documents below, spelled as the
// first stored rows spelled them (the domain type's Go field names, before
// the form was explicit); those rows carry no "v" and decode as format 1.
// A member may be added (older readers ignore it); renaming or removing one
// needs a new format number and a decoder for the old one, so that stored
// rows and a fleet of mixed versions keep working.
const SpecFormat = 1

// EncodeSpec serializes a spec in the current format.
func EncodeSpec(s replicator.Spec) ([]byte, error) {
	d := specDoc{V: SpecFormat, Clusters: make([]clusterDoc, len(s.Clusters)),
		ReplicationInfo: make([]replicationInfoDoc, len(s.ReplicationInfo))}
	for i, c := range s.Clusters {
		d.Clusters[i] = clusterDoc{Alias: c.Alias}
		if c.MSK != nil {
			d.Clusters[i].MSK = &mskDoc{ClusterARN: c.MSK.ClusterARN}
		}
		if c.Apache != nil {
			d.Clusters[i].Apache = &apacheDoc{ClusterID: c.Apache.ClusterID, BootstrapBrokers: c.Apache.BootstrapBrokers}
		}
		if c.VPC != nil {
			d.Clusters[i].VPC = &vpcDoc{SubnetIDs: c.VPC.SubnetIDs, SecurityGroupIDs: c.VPC.SecurityGroupIDs}
		}
		if c.Auth != nil {
			a := &authDoc{}
			if c.Auth.SASLScram != nil {
				a.SASLScram = &scramDoc{Mechanism: c.Auth.SASLScram.Mechanism, SecretARN: c.Auth.SASLScram.SecretARN}
			}
			if c.Auth.MTLS != nil {
				a.MTLS = &mtlsDoc{SecretARN: c.Auth.MTLS.SecretARN}
			}
			d.Clusters[i].Auth = a
		}
		if c.Encryption != nil {
			d.Clusters[i].Encryption = &encryptionDoc{EncryptionType: c.Encryption.EncryptionType, RootCACertificate: c.Encryption.RootCACertificate}
		}
	}
	for i, ri := range s.ReplicationInfo {
		d.ReplicationInfo[i] = replicationInfoDoc{SourceAlias: ri.SourceAlias, TargetAlias: ri.TargetAlias, TargetCompression: ri.TargetCompression,
			Topics: topicsDoc(ri.Topics), Groups: groupsDoc(ri.Groups)}
	}
	if l := s.LogDelivery; l != nil {
		d.LogDelivery = &logDeliveryDoc{CloudWatchLogs: logDest(l.CloudWatchLogs), Firehose: logDest(l.Firehose), S3: logDest(l.S3)}
	}
	return json.Marshal(d)
}

// DecodeSpec reads a serialized spec of any format this binary knows.
func DecodeSpec(b []byte) (replicator.Spec, error) {
	var d specDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return replicator.Spec{}, fmt.Errorf("decoding a replication spec: %w", err)
	}
	if d.V > SpecFormat {
		return replicator.Spec{}, fmt.Errorf("a replication spec of format %d is newer than this binary reads (%d): upgrade it", d.V, SpecFormat)
	}
	var s replicator.Spec
	if d.Clusters != nil {
		s.Clusters = make([]replicator.Cluster, len(d.Clusters))
	}
	for i, c := range d.Clusters {
		s.Clusters[i] = replicator.Cluster{Alias: c.Alias}
		if c.MSK != nil {
			s.Clusters[i].MSK = &replicator.MSKCluster{ClusterARN: c.MSK.ClusterARN}
		}
		if c.Apache != nil {
			s.Clusters[i].Apache = &replicator.ApacheKafkaCluster{ClusterID: c.Apache.ClusterID, BootstrapBrokers: c.Apache.BootstrapBrokers}
		}
		if c.VPC != nil {
			s.Clusters[i].VPC = &replicator.VPCConfig{SubnetIDs: c.VPC.SubnetIDs, SecurityGroupIDs: c.VPC.SecurityGroupIDs}
		}
		if c.Auth != nil {
			a := &replicator.ClientAuthentication{}
			if c.Auth.SASLScram != nil {
				a.SASLScram = &replicator.SASLScram{Mechanism: c.Auth.SASLScram.Mechanism, SecretARN: c.Auth.SASLScram.SecretARN}
			}
			if c.Auth.MTLS != nil {
				a.MTLS = &replicator.MTLS{SecretARN: c.Auth.MTLS.SecretARN}
			}
			s.Clusters[i].Auth = a
		}
		if c.Encryption != nil {
			s.Clusters[i].Encryption = &replicator.EncryptionInTransit{EncryptionType: c.Encryption.EncryptionType, RootCACertificate: c.Encryption.RootCACertificate}
		}
	}
	if d.ReplicationInfo != nil {
		s.ReplicationInfo = make([]replicator.ReplicationInfo, len(d.ReplicationInfo))
	}
	for i, ri := range d.ReplicationInfo {
		s.ReplicationInfo[i] = replicator.ReplicationInfo{SourceAlias: ri.SourceAlias, TargetAlias: ri.TargetAlias, TargetCompression: ri.TargetCompression,
			Topics: replicator.TopicReplication(ri.Topics), Groups: replicator.ConsumerGroupReplication(ri.Groups)}
	}
	if l := d.LogDelivery; l != nil {
		s.LogDelivery = &replicator.LogDelivery{CloudWatchLogs: domainDest(l.CloudWatchLogs), Firehose: domainDest(l.Firehose), S3: domainDest(l.S3)}
	}
	return s, nil
}

// The serialized form, format 1. Member names are fixed here, whatever the
// domain types' fields are called.
type specDoc struct {
	V               int                  `json:"v,omitempty"`
	Clusters        []clusterDoc         `json:"Clusters"`
	ReplicationInfo []replicationInfoDoc `json:"ReplicationInfo"`
	LogDelivery     *logDeliveryDoc      `json:"LogDelivery"`
}

type clusterDoc struct {
	Alias      string         `json:"Alias"`
	MSK        *mskDoc        `json:"MSK"`
	Apache     *apacheDoc     `json:"Apache"`
	VPC        *vpcDoc        `json:"VPC"`
	Auth       *authDoc       `json:"Auth"`
	Encryption *encryptionDoc `json:"Encryption"`
}

type mskDoc struct {
	ClusterARN string `json:"ClusterARN"`
}

type apacheDoc struct {
	ClusterID        string `json:"ClusterID"`
	BootstrapBrokers string `json:"BootstrapBrokers"`
}

type vpcDoc struct {
	SubnetIDs        []string `json:"SubnetIDs"`
	SecurityGroupIDs []string `json:"SecurityGroupIDs"`
}

type authDoc struct {
	SASLScram *scramDoc `json:"SASLScram"`
	MTLS      *mtlsDoc  `json:"MTLS"`
}

type scramDoc struct {
	Mechanism string `json:"Mechanism"`
	SecretARN string `json:"SecretARN"`
}

type mtlsDoc struct {
	SecretARN string `json:"SecretARN"`
}

type encryptionDoc struct {
	EncryptionType    string `json:"EncryptionType"`
	RootCACertificate string `json:"RootCACertificate"`
}

type replicationInfoDoc struct {
	SourceAlias       string    `json:"SourceAlias"`
	TargetAlias       string    `json:"TargetAlias"`
	TargetCompression string    `json:"TargetCompression"`
	Topics            topicsDoc `json:"Topics"`
	Groups            groupsDoc `json:"Groups"`
}

type topicsDoc struct {
	TopicsToReplicate               []string `json:"TopicsToReplicate"`
	TopicsToExclude                 []string `json:"TopicsToExclude"`
	CopyTopicConfigurations         bool     `json:"CopyTopicConfigurations"`
	CopyAccessControlListsForTopics bool     `json:"CopyAccessControlListsForTopics"`
	DetectAndCopyNewTopics          bool     `json:"DetectAndCopyNewTopics"`
	StartingPosition                string   `json:"StartingPosition"`
	TopicNameConfiguration          string   `json:"TopicNameConfiguration"`
}

type groupsDoc struct {
	ConsumerGroupsToReplicate       []string `json:"ConsumerGroupsToReplicate"`
	ConsumerGroupsToExclude         []string `json:"ConsumerGroupsToExclude"`
	DetectAndCopyNewConsumerGroups  bool     `json:"DetectAndCopyNewConsumerGroups"`
	SynchroniseConsumerGroupOffsets bool     `json:"SynchroniseConsumerGroupOffsets"`
	OffsetSyncMode                  string   `json:"OffsetSyncMode"`
}

type logDeliveryDoc struct {
	CloudWatchLogs *logDestDoc `json:"CloudWatchLogs"`
	Firehose       *logDestDoc `json:"Firehose"`
	S3             *logDestDoc `json:"S3"`
}

type logDestDoc struct {
	Enabled bool   `json:"Enabled"`
	Name    string `json:"Name"`
	Prefix  string `json:"Prefix"`
}

func logDest(d *replicator.LogDestination) *logDestDoc {
	if d == nil {
		return nil
	}
	return &logDestDoc{Enabled: d.Enabled, Name: d.Name, Prefix: d.Prefix}
}

func domainDest(d *logDestDoc) *replicator.LogDestination {
	if d == nil {
		return nil
	}
	return &replicator.LogDestination{Enabled: d.Enabled, Name: d.Name, Prefix: d.Prefix}
}

// MarshalJSON writes the spec in its serialized form (EncodeSpec).
func (r ReplicatorSpec) MarshalJSON() ([]byte, error) {
	spec, err := EncodeSpec(r.Spec)
	if err != nil {
		return nil, err
	}
	type plain ReplicatorSpec
	return json.Marshal(struct {
		plain
		Spec json.RawMessage `json:"spec"`
	}{plain(r), spec})
}

// UnmarshalJSON reads the spec from its serialized form (DecodeSpec).
func (r *ReplicatorSpec) UnmarshalJSON(b []byte) error {
	type plain ReplicatorSpec
	var v struct {
		plain
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = ReplicatorSpec(v.plain)
	if len(v.Spec) == 0 || string(v.Spec) == "null" {
		r.Spec = replicator.Spec{}
		return nil
	}
	spec, err := DecodeSpec(v.Spec)
	r.Spec = spec
	return err
}
