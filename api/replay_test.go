package api_test

import (
	"bytes"
	"context"
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
)

// Finding #7: a TagResource request signed with X-Amz-Content-Sha256:
// UNSIGNED-PAYLOAD, captured and replayed with another body, must not store
// anything: the service refuses UNSIGNED-PAYLOAD with a 401
// UnauthorizedException that names the cause (the signature must cover
// the body actually received).
func TestUnsignedPayloadReplayRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.CreateReplicator(ctx, apacheCreate("replayed"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ReplicatorArn)
	u := e.url + "/v1/tags/" + url.PathEscape(arn)

	// The owner signs a harmless request without covering its body.
	orig := []byte(`{"tags":{"owner":"yes"}}`)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(orig))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: keyA.AccessKeyID, SecretAccessKey: keyA.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "kafka", region, time.Now()); err != nil {
		t.Fatal(err)
	}

	// Someone who captured it replays it with their own body.
	forged := []byte(`{"tags":{"evil":"replayed"}}`)
	replay, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(forged))
	replay.Header = req.Header.Clone()
	for _, r := range []*http.Request{replay, req} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body map[string]string
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Amzn-ErrorType") != "UnauthorizedException" ||
			!strings.Contains(body["message"], "UNSIGNED-PAYLOAD") {
			t.Fatalf("UNSIGNED-PAYLOAD request: %d %s %s, want 401 UnauthorizedException naming UNSIGNED-PAYLOAD",
				resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b)
		}
	}
	tags, err := e.a.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tags.Tags["evil"]; ok {
		t.Fatal("the replayed request stored its tag")
	}
	if _, ok := tags.Tags["owner"]; ok {
		t.Fatal("an UNSIGNED-PAYLOAD request stored its tag")
	}
}
