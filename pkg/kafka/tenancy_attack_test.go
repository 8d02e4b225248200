// Attack tests of what one tenant's spec can reach (secrets, clusters).

package kafka

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestSharedMSKClusterSpecSecretResolvesForTheReplicatorsAccount: account A
// shares its cataloged MSK cluster with account B ("accounts": [B]), and
// the catalog entry names no clientAuthentication, so a replicator's spec
// brings its own. The API checks that secret for the caller (B). The
// worker must resolve it for the replicator's account too: B's own secret
// resolves, A's (not shared with B) does not. Only the catalog entry's own
// secrets are resolved for the cluster's owner.
func TestSharedMSKClusterSpecSecretResolvesForTheReplicatorsAccount(t *testing.T) {
	const (
		a       = "111111111111"
		b       = "333333333333"
		cluster = "arn:aws:kafka:us-east-1:111111111111:cluster/shared/0b1e2f6c-1111-2222-3333-444455556666-s1"
		secretA = "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_a-AbCdEf"
		secretB = "arn:aws:secretsmanager:us-east-1:333333333333:secret:AmazonMSK_b-AbCdEf"
	)
	dir := t.TempDir()
	cp, sp := filepath.Join(dir, "clusters.json"), filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(cp, []byte(`{"`+cluster+`": {"bootstrapBrokerString": "127.0.0.1:9096", "accounts": ["`+b+`"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sp, []byte(`{"`+secretA+`": {"username": "alice", "password": "a-pw"},
		"`+secretB+`": {"username": "bob", "password": "b-pw"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := catalog.Load(cp, sp)
	if err != nil {
		t.Fatal(err)
	}
	secrets := &catalog.Resolver{Files: files}
	spec := func(arn string) *replicator.Cluster {
		return &replicator.Cluster{Alias: "shared", MSK: &replicator.MSKCluster{ClusterARN: cluster},
			Auth: &replicator.ClientAuthentication{SASLScram: &replicator.SASLScram{Mechanism: replicator.ScramSHA512, SecretARN: arn}}}
	}
	ctx := context.Background()

	ep, err := resolve(spec(secretB), b, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientOpts(ctx, ep, secrets); err != nil {
		t.Errorf("B's replicator on the cluster A shares with it, with B's own secret (accepted at Create): %v", err)
	}

	ep, err = resolve(spec(secretA), b, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientOpts(ctx, ep, secrets); err == nil {
		t.Error("B's replicator resolved A's secret (not shared with B) on the worker because the cluster is A's")
	}
}
