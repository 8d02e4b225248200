package sigv4

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
)

// seen is what the test server observed for one request.
type seen struct {
	method, path, query, authz string
	key                        Key
	err                        error
	viaSDK                     bool // the SDK signer reproduced the signature
}

// newKafkaServer starts a server whose handler runs Verify on every request
// and records the outcome, answering {} (or 403 when Verify fails).
func newKafkaServer(t *testing.T, v *Verifier) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var log []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		key, err := v.Verify(r, body)
		viaSDK := false
		if err == nil {
			a, _ := parseAuthorization(r.Header.Get("Authorization"))
			values, _ := signedHeaderValues(r, a.signedHeaders)
			at, _, _ := requestTime(r.Header)
			_, viaSDK = sdkSignature(r, a, key, at, hexSHA256(body), values)
		}
		mu.Lock()
		log = append(log, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), key, err, viaSDK})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"forbidden"}`)
			return
		}
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

func newKafkaClient(t *testing.T, endpoint, region, akid, secret string) *kafka.Client {
	t.Helper()
	// Keep the developer's own AWS configuration out of the test.
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(akid, secret, "optional-session-token")),
	)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.NewFromConfig(cfg, func(o *kafka.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

// TestKafkaClient drives a real aws-sdk-go-v2 MSK client against a server that
// verifies every request.
func TestKafkaClient(t *testing.T) {
	srv, log := newKafkaServer(t, NewVerifier("us-east-1", "kafka", []Key{testKey, otherKey}))
	c := newKafkaClient(t, srv.URL, "us-east-1", "AKID", "SECRET")
	ctx := context.Background()

	calls := []struct {
		name          string
		call          func() error
		method, path  string
		query, signed string // substrings expected in the raw query / SignedHeaders
	}{
		{"DescribeReplicator", func() error {
			_, err := c.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(testARN)})
			return err
		}, "GET", "/replication/v1/replicators/" + testARNPath, "", "host;x-amz-date;x-amz-security-token"},
		{"ListReplicators", func() error {
			_, err := c.ListReplicators(ctx, &kafka.ListReplicatorsInput{
				MaxResults: aws.Int32(7), NextToken: aws.String("tok/en+=="), ReplicatorNameFilter: aws.String("my rep*"),
			})
			return err
		}, "GET", "/replication/v1/replicators", "maxResults=7", "host;x-amz-date"},
		{"CreateReplicator", func() error {
			_, err := c.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
				ReplicatorName:          aws.String("my-rep"),
				ServiceExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/replicator"),
				Description:             aws.String("unicode ✓ and  spaces"),
				KafkaClusters: []types.KafkaCluster{{
					AmazonMskCluster: &types.AmazonMskCluster{MskClusterArn: aws.String("arn:aws:kafka:us-east-1:123456789012:cluster/src/uuid")},
					VpcConfig:        &types.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}},
				}},
				ReplicationInfoList: []types.ReplicationInfo{{
					SourceKafkaClusterArn:    aws.String("arn:aws:kafka:us-east-1:123456789012:cluster/src/uuid"),
					TargetKafkaClusterArn:    aws.String("arn:aws:kafka:us-east-1:123456789012:cluster/dst/uuid"),
					TargetCompressionType:    types.TargetCompressionTypeNone,
					TopicReplication:         &types.TopicReplication{TopicsToReplicate: []string{".*"}},
					ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
				}},
				Tags: map[string]string{"k": "v"},
			})
			return err
		}, "POST", "/replication/v1/replicators", "", "content-length;content-type;host;x-amz-date"},
		{"UntagResource", func() error {
			_, err := c.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: aws.String(testARN), TagKeys: []string{"zeta", "alpha", "with space", "a/b"}})
			return err
		}, "DELETE", "/v1/tags/" + testARNPath, "tagKeys=alpha", "host;x-amz-date"},
	}
	for i, c := range calls {
		if err := c.call(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		got := log()
		if len(got) != i+1 {
			t.Fatalf("%s: server saw %d requests, want %d", c.name, len(got), i+1)
		}
		s := got[i]
		t.Logf("%s: %s %s ? %s\n%s", c.name, s.method, s.path, s.query, s.authz)
		if s.err != nil || s.key != testKey || !s.viaSDK {
			t.Errorf("%s: Verify = %+v, %v (via SDK signer: %v)", c.name, s.key, s.err, s.viaSDK)
		}
		if s.method != c.method || s.path != c.path || !strings.Contains(s.query, c.query) {
			t.Errorf("%s: server saw %s %s?%s, want %s %s with %q in the query", c.name, s.method, s.path, s.query, c.method, c.path, c.query)
		}
		if !strings.Contains(s.authz, c.signed) || !strings.Contains(s.authz, "x-amz-security-token") {
			t.Errorf("%s: Authorization %q does not sign %s and x-amz-security-token", c.name, s.authz, c.signed)
		}
	}
	if q := log()[1].query; !strings.Contains(q, "nextToken=tok%2Fen%2B%3D%3D") || !strings.Contains(q, "replicatorNameFilter=my%20rep%2A") {
		t.Errorf("ListReplicators query %q lacks the expected parameters", q)
	}
	if q := log()[3].query; strings.Count(q, "tagKeys=") != 4 {
		t.Errorf("UntagResource query %q does not repeat tagKeys", q)
	}
}

// TestKafkaClientRejected checks that the server refuses real clients with a
// wrong secret, an unknown key or the wrong region.
func TestKafkaClientRejected(t *testing.T) {
	srv, log := newKafkaServer(t, NewVerifier("us-east-1", "kafka", []Key{testKey}))
	for _, c := range []struct{ region, akid, secret, reason string }{
		{"us-east-1", "AKID", "WRONG", "signature does not match"},
		{"us-east-1", "AKID2", "SECRET2", "unknown access key id"},
		{"eu-west-1", "AKID", "SECRET", `credential scope region "eu-west-1" does not match "us-east-1"`},
	} {
		client := newKafkaClient(t, srv.URL, c.region, c.akid, c.secret)
		_, err := client.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(testARN)})
		if err == nil {
			t.Errorf("%+v: call succeeded", c)
		}
		got := log()
		if last := got[len(got)-1]; last.err == nil || reasonOf(t, last.err) != c.reason {
			t.Errorf("%+v: Verify error %v, want reason %q", c, last.err, c.reason)
		}
	}
}
