package sigv4

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignerMatchesSDK checks the signer against the SDK's signer on the
// request shapes the benchmarks send, and that the verifier accepts it.
func TestSignerMatchesSDK(t *testing.T) {
	arn := "arn:aws:kafka:us-east-1:123456789012:replicator/bench-00042/0b0f5c39-3c5e-4a84-9a7e-6b0c1d2e3f40"
	urls := []string{
		"http://127.0.0.1:8080/replication/v1/replicators/" + uriEncode(arn, true),
		"http://127.0.0.1:8080/replication/v1/replicators?replicatorNameFilter=bench-0123&maxResults=10",
		"http://127.0.0.1:8080/replication/v1/replicators?maxResults=100",
		"http://127.0.0.1:8080/replication/v1/replicators?replicatorNameFilter=a%20b%2Bc&maxResults=1&maxResults=0",
	}
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := NewSigner("AKIDBENCH", "secret/with+chars", "us-east-1", "kafka")
	v := NewVerifier("us-east-1", "kafka", []Key{{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret/with+chars", AccountID: "123456789012"}})
	v.Now = func() time.Time { return now }
	for _, u := range urls {
		mine, _ := http.NewRequest(http.MethodGet, u, nil)
		s.Sign(mine, now)
		// Sign twice: the second uses the cached key.
		s.Sign(mine, now)

		sdk, _ := http.NewRequest(http.MethodGet, u, nil)
		creds := aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret/with+chars"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, sdk, emptyPayloadHash, "kafka", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		if got, want := mine.Header.Get("Authorization"), sdk.Header.Get("Authorization"); got != want {
			t.Errorf("%s:\n got %s\nwant %s", u, got, want)
		}
		if got, want := mine.Header.Get("X-Amz-Date"), sdk.Header.Get("X-Amz-Date"); got != want {
			t.Errorf("%s: X-Amz-Date %s, want %s", u, got, want)
		}
		if _, err := v.Verify(mine, nil); err != nil {
			t.Errorf("%s: Verify: %v", u, err)
		}
	}
}
