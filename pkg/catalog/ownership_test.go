package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	ownerAccount  = "111111111111"
	sharedAccount = "333333333333"
	otherAccount  = "222222222222"
	sharedCluster = "arn:aws:kafka:us-east-1:111111111111:cluster/shared/0b1e2f6c-1111-2222-3333-444455556666-s1"
	sharedSecret  = "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_shared-StUvWx"
)

// ownershipFiles is testFiles plus a cluster and a secret that the owner
// shares with sharedAccount.
func ownershipFiles(t *testing.T) *Files {
	t.Helper()
	dir := t.TempDir()
	cp, sp := filepath.Join(dir, "clusters.json"), filepath.Join(dir, "secrets.json")
	writeFile(t, cp, `{"`+testClusterARN+`": {"bootstrapBrokerString": "b-1.example:9096"},
		"`+sharedCluster+`": {"bootstrapBrokerString": "b-2.example:9096", "accounts": ["`+sharedAccount+`"]}}`)
	writeFile(t, sp, `{"`+testScramARN+`": {"username": "alice", "password": "`+testPassword+`"},
		"`+sharedSecret+`": {"username": "sam", "password": "shared-pw", "accounts": ["`+sharedAccount+`"]}}`)
	f, err := Load(cp, sp)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Finding #4: an entry belongs to the account in its ARN and to those it
// lists; any other account gets exactly the answer for a missing entry.
func TestOwnership(t *testing.T) {
	ctx := context.Background()
	f := ownershipFiles(t)
	missingCluster := "arn:aws:kafka:us-east-1:111111111111:cluster/none/0b1e2f6c-1111-2222-3333-444455556699-s1"
	missingSecret := "arn:aws:secretsmanager:us-east-1:111111111111:secret:none-AbCdEf"
	for _, tc := range []struct {
		account, cluster, secret string
		ok                       bool
	}{
		{ownerAccount, testClusterARN, testScramARN, true},
		{ownerAccount, sharedCluster, sharedSecret, true},
		{sharedAccount, sharedCluster, sharedSecret, true},
		{sharedAccount, testClusterARN, testScramARN, false},
		{otherAccount, testClusterARN, testScramARN, false},
		{otherAccount, sharedCluster, sharedSecret, false},
		{otherAccount, missingCluster, missingSecret, false},
		{"", testClusterARN, testScramARN, false},
	} {
		if got := f.HasCluster(tc.account, tc.cluster); got != tc.ok {
			t.Errorf("HasCluster(%q, %s) = %v, want %v", tc.account, tc.cluster, got, tc.ok)
		}
		if e, ok := f.Cluster(tc.account, tc.cluster); ok != tc.ok || !ok && e.BootstrapBrokerString != "" {
			t.Errorf("Cluster(%q, %s) = %+v, %v", tc.account, tc.cluster, e, ok)
		}
		for _, r := range []interface {
			Secret(context.Context, string, string) (Secret, error)
		}{f, &Resolver{Files: f}} {
			s, err := r.Secret(ctx, tc.account, tc.secret)
			if tc.ok {
				if err != nil || s.Username == "" {
					t.Errorf("%T.Secret(%q, %s): %v", r, tc.account, tc.secret, err)
				}
				continue
			}
			wantInvalid(t, err, "secret not found")
			if s != (Secret{}) {
				t.Errorf("%T.Secret(%q, %s) returned secret material with its error", r, tc.account, tc.secret)
			}
		}
	}
}

// fakeSecretsManager answers every GetSecretValue with a SCRAM secret and
// counts the requests.
func fakeSecretsManager(t *testing.T) (*SecretsManager, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"ARN": in.SecretId, "Name": "x",
			"SecretString": `{"username":"from-sm","password":"sm-pw"}`})
	}))
	t.Cleanup(srv.Close)
	sm := NewSecretsManager(context.Background())
	sm.loadConfig = func(context.Context) (aws.Config, error) {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, nil
	}
	return sm, &calls
}

// Finding #4: the Secrets Manager fallback resolves only ARNs of the
// caller's own account. Another account's ARN, one in the file for someone
// else, and a bare name are "secret not found" without asking Secrets
// Manager (whose answer would tell whether the ARN exists, and whose
// identity may read secrets the caller may not).
func TestResolverSecretsManagerOnlyForOwnAccount(t *testing.T) {
	ctx := context.Background()
	sm, calls := fakeSecretsManager(t)
	r := &Resolver{Files: ownershipFiles(t), SM: sm}
	own := "arn:aws:secretsmanager:us-east-1:222222222222:secret:AmazonMSK_b-AbCdEf"

	for _, tc := range []struct{ account, arn string }{
		{otherAccount, "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_a-AbCdEf"}, // A's, not in the file
		{otherAccount, testScramARN},       // A's, in the file
		{otherAccount, sharedSecret},       // shared with someone else
		{otherAccount, "AmazonMSK_b-name"}, // a bare name has no account
		{"", own},
	} {
		_, err := r.Secret(ctx, tc.account, tc.arn)
		wantInvalid(t, err, "secret not found")
		var e *replicator.Error
		if errors.As(err, &e) && e.Err != nil {
			t.Errorf("Secret(%q, %s): a cause is attached (%v); a missing secret has none", tc.account, tc.arn, e.Err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("Secrets Manager was asked %d times for ARNs of other accounts", n)
	}
	s, err := r.Secret(ctx, otherAccount, own)
	if err != nil || s.Username != "from-sm" {
		t.Fatalf("own account's ARN: %+v, %v", s, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Secrets Manager asked %d times for the caller's own ARN, want 1", n)
	}
}
