package fleet

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// fullSpec sets every member of the spec.
func fullSpec() replicator.Spec {
	return replicator.Spec{
		Clusters: []replicator.Cluster{
			{Alias: "src-1234", Apache: &replicator.ApacheKafkaCluster{ClusterID: "src", BootstrapBrokers: "a:9092,b:9092"},
				Auth:       &replicator.ClientAuthentication{SASLScram: &replicator.SASLScram{Mechanism: "SHA512", SecretARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:s"}},
				Encryption: &replicator.EncryptionInTransit{EncryptionType: "TLS", RootCACertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"}},
			{Alias: "msk-abcdef", MSK: &replicator.MSKCluster{ClusterARN: "arn:aws:kafka:us-east-1:111122223333:cluster/c/uuid-1"},
				VPC:  &replicator.VPCConfig{SubnetIDs: []string{"s1"}, SecurityGroupIDs: []string{"g1"}},
				Auth: &replicator.ClientAuthentication{MTLS: &replicator.MTLS{SecretARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:m"}}},
		},
		ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "src-1234", TargetAlias: "msk-abcdef", TargetCompression: "LZ4",
			Topics: replicator.TopicReplication{TopicsToReplicate: []string{"a.*"}, TopicsToExclude: []string{"b"}, CopyTopicConfigurations: true,
				CopyAccessControlListsForTopics: true, DetectAndCopyNewTopics: true, StartingPosition: "EARLIEST", TopicNameConfiguration: "IDENTICAL"},
			Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}, ConsumerGroupsToExclude: []string{"x"},
				DetectAndCopyNewConsumerGroups: true, SynchroniseConsumerGroupOffsets: true, OffsetSyncMode: "ENHANCED"}}},
		LogDelivery: &replicator.LogDelivery{S3: &replicator.LogDestination{Enabled: true, Name: "bucket", Prefix: "p/"}},
	}
}

// TestStoredSpecOfTheFirstFormatDecodes: testdata/spec-v0.json is a spec as
// the first versions stored it (json.Marshal of the domain type, no "v").
// It must decode to the same spec for as long as such rows can exist.
func TestStoredSpecOfTheFirstFormatDecodes(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := fullSpec(); !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

// TestSpecEncodingIsTheStoredFormat: the current encoding is the first
// stored form with its version number, so rows written now are read by the
// binaries that wrote the first ones (an added "v" is ignored by them).
func TestSpecEncodingIsTheStoredFormat(t *testing.T) {
	got, err := EncodeSpec(fullSpec())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile("testdata/spec-v0.json")
	want := append([]byte(`{"v":1,`), bytes.TrimSpace(old)[1:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
	back, err := DecodeSpec(got)
	if err != nil || !reflect.DeepEqual(back, fullSpec()) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
	empty, _ := DecodeSpec([]byte(`{}`))
	if !reflect.DeepEqual(empty, replicator.Spec{}) {
		t.Fatalf("an empty document decodes to %+v", empty)
	}
}

func TestNewerSpecFormatIsRefused(t *testing.T) {
	_, err := DecodeSpec([]byte(`{"v":2,"Clusters":[]}`))
	if err == nil || !strings.Contains(err.Error(), "format 2 is newer") {
		t.Fatalf("err = %v", err)
	}
}

// TestWorkerProtocolCarriesTheSerializedSpec: the spec in the worker
// protocol is the same serialized form, not the domain type's encoding.
func TestWorkerProtocolCarriesTheSerializedSpec(t *testing.T) {
	in := ReplicatorSpec{ID: "id", ARN: "arn", Name: "n", AccountID: "1", SpecVersion: 3, State: replicator.StateRunning, Spec: fullSpec()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"spec":{"v":1,"Clusters":`)) || !bytes.Contains(b, []byte(`"specVersion":3`)) {
		t.Fatalf("wire form %s", b)
	}
	var out ReplicatorSpec
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %v\n%+v", err, out)
	}
}
