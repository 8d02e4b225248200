package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/pkg/sigv4"
)

// rawAnswer is what a client sees of an error: status, exception type and
// the body's bytes.
type rawAnswer struct {
	status int
	typ    string
	body   []byte
}

// signedPost sends body to path signed by k and returns the answer.
func signedPost(t *testing.T, e *env, k sigv4.Key, path string, body []byte) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kafka", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawAnswer{resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b}
}

// createBody is a CreateReplicator body between clusters src and dst (each
// an "amazonMskCluster" or "apacheKafkaCluster" member), the target
// authenticated with secret ("" for none).
func createBody(name string, src, dst map[string]any, srcRef, dstRef map[string]any) []byte {
	ri := map[string]any{"targetCompressionType": "NONE",
		"topicReplication":         map[string]any{"topicsToReplicate": []string{".*"}},
		"consumerGroupReplication": map[string]any{"consumerGroupsToReplicate": []string{".*"}}}
	for k, v := range srcRef {
		ri[k] = v
	}
	for k, v := range dstRef {
		ri[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"replicatorName": name, "serviceExecutionRoleArn": "arn:aws:iam::222222222222:role/R",
		"kafkaClusters":       []any{src, dst},
		"replicationInfoList": []any{ri},
	})
	return b
}

// sameAnswer checks that two refusals are identical once the ARN each
// request named is replaced by a placeholder.
func sameAnswer(t *testing.T, what string, got rawAnswer, gotARN string, want rawAnswer, wantARN string) {
	t.Helper()
	g := bytes.ReplaceAll(got.body, []byte(gotARN), []byte("<ARN>"))
	w := bytes.ReplaceAll(want.body, []byte(wantARN), []byte("<ARN>"))
	if got.status != want.status || got.typ != want.typ || !bytes.Equal(g, w) {
		t.Errorf("%s: answered\n  %d %s %s\nbut a missing one is answered\n  %d %s %s", what, got.status, got.typ, g, want.status, want.typ, w)
	}
	if !bytes.Contains(got.body, []byte(gotARN)) {
		t.Errorf("%s: the message does not name the ARN the caller gave: %s", what, got.body)
	}
}

// Finding #4: account B can neither use nor detect account A's cataloged
// MSK cluster. The refusal is byte for byte the one for an ARN the catalog
// does not hold (same status, exception, invalidParameter and message but
// for the ARN), and nothing is stored.
func TestOtherAccountsClusterIsNotFound(t *testing.T) {
	e := newEnv(t)
	apache := map[string]any{"apacheKafkaCluster": map[string]any{"apacheKafkaClusterId": "b-target", "bootstrapBrokerString": "127.0.0.1:9"}}
	dstRef := map[string]any{"targetKafkaClusterId": "b-target"}
	try := func(name, arn string) rawAnswer {
		return signedPost(t, e, keyB, "/replication/v1/replicators", createBody(name,
			map[string]any{"amazonMskCluster": map[string]any{"mskClusterArn": arn}}, apache,
			map[string]any{"sourceKafkaClusterArn": arn}, dstRef))
	}
	missingA := "arn:aws:kafka:us-east-1:111111111111:cluster/src/361a2e04-ff39-48d4-9ee0-f810cd197399-s2"
	missingB := "arn:aws:kafka:us-east-1:222222222222:cluster/src/361a2e04-ff39-48d4-9ee0-f810cd197399-s2"
	other := try("steal-cluster", mskSrc)
	if other.status != http.StatusBadRequest {
		t.Fatalf("B's create on A's cataloged cluster: %d %s %s, want 400 BadRequestException", other.status, other.typ, other.body)
	}
	var m map[string]string
	_ = json.Unmarshal(other.body, &m)
	if m["invalidParameter"] != "kafkaClusters[0].amazonMskCluster.mskClusterArn" {
		t.Errorf("invalidParameter %q", m["invalidParameter"])
	}
	sameAnswer(t, "A's cluster, asked by B", other, mskSrc, try("steal-cluster", missingA), missingA)
	sameAnswer(t, "A's cluster, asked by B", other, mskSrc, try("steal-cluster", missingB), missingB)

	// A itself may use it.
	in := apacheCreate("own-cluster")
	in.KafkaClusters[0] = types.KafkaCluster{AmazonMskCluster: &types.AmazonMskCluster{MskClusterArn: aws.String(mskSrc)}}
	in.ReplicationInfoList[0].SourceKafkaClusterId, in.ReplicationInfoList[0].SourceKafkaClusterArn = nil, aws.String(mskSrc)
	if _, err := e.a.CreateReplicator(context.Background(), in); err != nil {
		t.Fatalf("A on its own cluster: %v", err)
	}
	if l, err := e.b.ListReplicators(context.Background(), &kafka.ListReplicatorsInput{}); err != nil || len(l.Replicators) != 0 {
		t.Fatalf("B's refused creates stored something: %v %d", err, len(l.Replicators))
	}
}

// Finding #4: B cannot use A's secret ARN, and the answer does not tell
// whether the ARN exists: it is the one for a missing secret.
func TestOtherAccountsSecretIsNotFound(t *testing.T) {
	e := newEnv(t)
	src := map[string]any{"apacheKafkaCluster": map[string]any{"apacheKafkaClusterId": "s", "bootstrapBrokerString": "127.0.0.1:9"}}
	try := func(arn string) rawAnswer {
		dst := map[string]any{"apacheKafkaCluster": map[string]any{"apacheKafkaClusterId": "d", "bootstrapBrokerString": "127.0.0.1:8"},
			"clientAuthentication": map[string]any{"saslScram": map[string]any{"mechanism": "SHA512", "secretArn": arn}}}
		return signedPost(t, e, keyB, "/replication/v1/replicators", createBody("steal-secret", src, dst,
			map[string]any{"sourceKafkaClusterId": "s"}, map[string]any{"targetKafkaClusterId": "d"}))
	}
	missingA := "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_src-zzz999"
	missingB := "arn:aws:secretsmanager:us-east-1:222222222222:secret:AmazonMSK_none-zzz999"
	other := try(scramARN)
	if other.status != http.StatusBadRequest {
		t.Fatalf("B's create with A's secret: %d %s %s, want 400 BadRequestException", other.status, other.typ, other.body)
	}
	var m map[string]string
	_ = json.Unmarshal(other.body, &m)
	if m["invalidParameter"] != "kafkaClusters[1].clientAuthentication.saslScram.secretArn" {
		t.Errorf("invalidParameter %q", m["invalidParameter"])
	}
	sameAnswer(t, "A's secret, asked by B", other, scramARN, try(missingA), missingA)
	sameAnswer(t, "A's secret, asked by B", other, scramARN, try(missingB), missingB)
	if a := try(scramARNB); a.status != http.StatusOK {
		t.Fatalf("B with its own secret: %d %s", a.status, a.body)
	}
}
