package apibench

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// Micro-benchmarks of the per-request pieces of DescribeReplicator, to put
// numbers on the profile: go test -bench . ./internal/bench

func signedDescribe(b *testing.B) (*http.Request, *sigv4.Verifier) {
	r := NewReplicator("123456789012", "us-east-1", 42)
	req := httptest.NewRequest(http.MethodGet, "/replication/v1/replicators/"+bench.EscapeLabel(r.ARN.String()), nil)
	req.Host = "127.0.0.1:8080"
	s := sigv4.NewSigner("AKIDBENCH", "secret", "us-east-1", "kafka")
	s.Sign(req, time.Now())
	v := sigv4.NewVerifier("us-east-1", "kafka", []sigv4.Key{{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret", AccountID: "123456789012"}})
	if _, err := v.Verify(req, nil); err != nil {
		b.Fatal(err)
	}
	return req, v
}

// BenchmarkVerify is the server's SigV4 check of one Describe request.
func BenchmarkVerify(b *testing.B) {
	req, v := signedDescribe(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the client's signature with the cached key.
func BenchmarkSign(b *testing.B) {
	req, _ := signedDescribe(b)
	s := sigv4.NewSigner("AKIDBENCH", "secret", "us-east-1", "kafka")
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(req, time.Now())
	}
}

// BenchmarkSpecUnmarshal is what scanReplicator does per row with the spec.
func BenchmarkSpecUnmarshal(b *testing.B) {
	spec, _ := json.Marshal(NewReplicator("123456789012", "us-east-1", 42).Spec)
	b.SetBytes(int64(len(spec)))
	b.ReportAllocs()
	for b.Loop() {
		var s replicator.Spec
		if err := json.Unmarshal(spec, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseARN is the regexp-based ARN parse done per row and per request.
func BenchmarkParseARN(b *testing.B) {
	arn := NewReplicator("123456789012", "us-east-1", 42).ARN.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := replicator.ParseARN(arn); err != nil {
			b.Fatal(err)
		}
	}
}
