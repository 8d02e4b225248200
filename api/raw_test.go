package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kafka"

	"github.com/openreplicator/replicator/pkg/sigv4"
)

// rawCall sends a SigV4-signed request built by hand, for inputs the SDK
// would refuse to send.
func rawCall(t *testing.T, e *env, k sigv4.Key, method, path string, body []byte, header map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for h, v := range header {
		req.Header.Set(h, v)
	}
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
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

func wantRawError(t *testing.T, status int, h http.Header, body map[string]any, wantStatus int, wantType, wantParam string) {
	t.Helper()
	if status != wantStatus || h.Get("X-Amzn-ErrorType") != wantType || h.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("got %d %q (request id %q) %v, want %d %s", status, h.Get("X-Amzn-ErrorType"), h.Get("X-Amzn-RequestId"), body, wantStatus, wantType)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Fatalf("no message in %v", body)
	}
	if got, _ := body["invalidParameter"].(string); got != wantParam {
		t.Fatalf("invalidParameter %q, want %q (%v)", got, wantParam, body["message"])
	}
}

func TestRawBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.a.CreateReplicator(ctx, apacheCreate("raw"))
	if err != nil {
		t.Fatal(err)
	}
	arnPath := "/replication/v1/replicators/" + url.PathEscape(aws.ToString(created.ReplicatorArn))
	d, _ := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: created.ReplicatorArn})
	version := aws.ToString(d.CurrentVersion)
	validCreate, _ := json.Marshal(map[string]any{
		"replicatorName": "raw2", "serviceExecutionRoleArn": "arn:aws:iam::111111111111:role/R",
		"kafkaClusters": []any{
			map[string]any{"apacheKafkaCluster": map[string]any{"apacheKafkaClusterId": "a", "bootstrapBrokerString": "h:1"}},
			map[string]any{"apacheKafkaCluster": map[string]any{"apacheKafkaClusterId": "b", "bootstrapBrokerString": "h:2"}},
		},
		"replicationInfoList": []any{map[string]any{"sourceKafkaClusterId": "a", "targetKafkaClusterId": "b", "targetCompressionType": "NONE",
			"topicReplication": map[string]any{"topicsToReplicate": []string{".*"}}, "consumerGroupReplication": map[string]any{"consumerGroupsToReplicate": []string{}}}},
	})
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name, method, path string
		body               []byte
		header             map[string]string
		status             int
		typ, param         string
	}{
		{"wrong content type", "POST", "/replication/v1/replicators", validCreate, map[string]string{"Content-Type": "text/plain"}, 400, "BadRequestException", "Content-Type"},
		{"invalid JSON", "POST", "/replication/v1/replicators", []byte(`{"replicatorName":`), json, 400, "BadRequestException", "body"},
		{"trailing data", "POST", "/replication/v1/replicators", append(append([]byte{}, validCreate...), []byte(` {}`)...), json, 400, "BadRequestException", "body"},
		{"invalid UTF-8", "POST", "/replication/v1/replicators", []byte("{\"replicatorName\":\"a\xff\"}"), json, 400, "BadRequestException", "body"},
		{"NUL", "POST", "/replication/v1/replicators", bytes.Replace(validCreate, []byte(`"raw2"`), []byte(`"raw\u00002"`), 1), json, 400, "BadRequestException", "body"},
		{"oversized body", "POST", "/replication/v1/replicators", bytes.Repeat([]byte(" "), 2<<20), json, 400, "BadRequestException", "body"},
		{"wrong type", "POST", "/replication/v1/replicators", []byte(`{"replicatorName":42}`), json, 400, "BadRequestException", "replicatorName"},
		{"wrong nested type", "POST", "/replication/v1/replicators", []byte(`{"kafkaClusters":[{"apacheKafkaCluster":{"bootstrapBrokerString":true}}]}`), json, 400, "BadRequestException", "kafkaClusters.apacheKafkaCluster.bootstrapBrokerString"},
		{"empty ARN label", "GET", "/replication/v1/replicators/", nil, nil, 400, "BadRequestException", "replicatorArn"},
		{"malformed ARN", "GET", "/replication/v1/replicators/arn%3Aaws%3As3%3A%3A%3Abucket", nil, nil, 400, "BadRequestException", "replicatorArn"},
		{"path traversal", "GET", "/replication/v1/replicators/..%2F..%2Fetc%2Fpasswd", nil, nil, 400, "BadRequestException", "replicatorArn"},
		{"other region", "GET", "/replication/v1/replicators/" + url.PathEscape(strings.Replace(aws.ToString(created.ReplicatorArn), "us-east-1", "eu-west-1", 1)), nil, nil, 404, "NotFoundException", "replicatorArn"},
		{"update without topic members", "PUT", arnPath + "/replication-info", []byte(`{"currentVersion":"` + version + `","topicReplication":{"topicsToReplicate":["a"]}}`), json, 400, "BadRequestException", "topicReplication.topicsToExclude"},
		{"update without group members", "PUT", arnPath + "/replication-info", []byte(`{"currentVersion":"` + version + `","consumerGroupReplication":{"consumerGroupsToReplicate":["a"],"consumerGroupsToExclude":[]}}`), json, 400, "BadRequestException", "consumerGroupReplication.detectAndCopyNewConsumerGroups"},
		{"update of starting position", "PUT", arnPath + "/replication-info", []byte(`{"currentVersion":"` + version + `","topicReplication":{"topicsToReplicate":["a"],"topicsToExclude":[],"copyTopicConfigurations":true,"copyAccessControlListsForTopics":true,"detectAndCopyNewTopics":true,"startingPosition":{"type":"EARLIEST"}}}`), json, 400, "BadRequestException", "topicReplication.startingPosition"},
		{"untag without keys", "DELETE", "/v1/tags/" + url.PathEscape(aws.ToString(created.ReplicatorArn)), nil, nil, 400, "BadRequestException", "tagKeys"},
		{"tag without tags", "POST", "/v1/tags/" + url.PathEscape(aws.ToString(created.ReplicatorArn)), []byte(`{}`), json, 400, "BadRequestException", "tags"},
		{"unknown operation", "PATCH", "/replication/v1/replicators", nil, nil, 404, "NotFoundException", ""},
		{"unknown path", "GET", "/v2/whatever", nil, nil, 404, "NotFoundException", ""},
		{"maxResults not a number", "GET", "/replication/v1/replicators?maxResults=ten", nil, nil, 400, "BadRequestException", "maxResults"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, h, body := rawCall(t, e, keyA, tc.method, tc.path, tc.body, tc.header)
			wantRawError(t, st, h, body, tc.status, tc.typ, tc.param)
		})
	}
	// Nothing was stored by any of them, and the replicator is unchanged.
	l, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if err != nil || len(l.Replicators) != 1 {
		t.Fatalf("list after bad input: %v, %d replicators", err, len(l.Replicators))
	}
	d2, _ := e.a.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: created.ReplicatorArn})
	if aws.ToString(d2.CurrentVersion) != version || d2.ReplicatorState != d.ReplicatorState {
		t.Fatal("bad input changed the replicator")
	}
	// The valid body itself is accepted (the cases above fail for their own reason).
	if st, _, body := rawCall(t, e, keyA, "POST", "/replication/v1/replicators", validCreate, json); st != 200 || body["replicatorState"] != "CREATING" {
		t.Fatalf("valid raw create: %d %v", st, body)
	}
	// A curl user may send the ARN unescaped.
	st, _, body := rawCall(t, e, keyA, "GET", "/replication/v1/replicators/"+aws.ToString(created.ReplicatorArn), nil, nil)
	if st != 200 || body["replicatorName"] != "raw" {
		t.Fatalf("unescaped ARN: %d %v", st, body)
	}
}

func TestUnauthenticatedRaw(t *testing.T) {
	e := newEnv(t)
	for _, h := range []map[string]string{
		nil,
		{"Authorization": "garbage"},
		{"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDAAAAAAAAAAAAAAAA/20260101/us-east-1/kafka/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "X-Amz-Date": "20260101T000000Z"},
	} {
		req, _ := http.NewRequest("GET", e.url+"/replication/v1/replicators", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		wantRawError(t, resp.StatusCode, resp.Header, body, 401, "UnauthorizedException", "")
	}
	// Health endpoints need no authentication.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(e.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
