// Package catalog reads the operator's local files for self-hosting: the
// cluster catalog (REPLICATOR_CLUSTERS_FILE, MSK cluster ARN → connection
// settings) and the secrets file (REPLICATOR_SECRETS_FILE, secret ARN →
// secret). Both are read at start and again on Reload (SIGHUP). Secret
// values never leave this package except to the code that connects to Kafka.
//
// Entries belong to accounts: the account in the entry's ARN, plus any the
// entry lists in "accounts". Every lookup names the calling account, and an
// entry of another account is answered exactly as a missing one, so that a
// tenant can neither use nor detect another tenant's clusters and secrets.
package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// ClusterEntry is how to reach one MSK cluster, in the API's member shapes.
type ClusterEntry struct {
	BootstrapBrokerString string          `json:"bootstrapBrokerString"`
	ClientAuthentication  json.RawMessage `json:"clientAuthentication,omitempty"`
	EncryptionInTransit   json.RawMessage `json:"encryptionInTransit,omitempty"`
	// Accounts may use the cluster besides the account in its ARN.
	Accounts []string `json:"accounts,omitempty"`
}

// Secret is one resolved secret: SCRAM credentials or an mTLS key pair.
type Secret struct {
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	PrivateKey  string `json:"privateKey,omitempty"`
}

// String never prints secret material.
func (Secret) String() string { return "[secret]" }

// GoString never prints secret material.
func (Secret) GoString() string { return "[secret]" }

// fileSecret is one entry of the secrets file: the secret and the further
// accounts that may use it.
type fileSecret struct {
	Secret
	Accounts []string `json:"accounts,omitempty"`
}

// Files holds the contents of both files. The zero value knows nothing.
type Files struct {
	clustersPath, secretsPath string

	mu       sync.RWMutex
	clusters map[string]ClusterEntry
	secrets  map[string]fileSecret
}

// String never prints the files' contents.
func (*Files) String() string { return "[catalog files]" }

// GoString never prints the files' contents.
func (*Files) GoString() string { return "[catalog files]" }

// Load reads the files at the given paths ("" = not configured).
func Load(clustersPath, secretsPath string) (*Files, error) {
	f := &Files{clustersPath: clustersPath, secretsPath: secretsPath}
	return f, f.Reload()
}

// Reload reads both files again; on error the previous contents stay.
func (f *Files) Reload() error {
	clusters := map[string]ClusterEntry{}
	secrets := map[string]fileSecret{}
	if err := readJSON(f.clustersPath, "clusters file", &clusters); err != nil {
		return err
	}
	if err := readJSON(f.secretsPath, "secrets file", &secrets); err != nil {
		return err
	}
	f.mu.Lock()
	f.clusters, f.secrets = clusters, secrets
	f.mu.Unlock()
	return nil
}

func readJSON(path, what string, v any) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("catalog: read %s %s: %w", what, path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		// The decoder's message could quote secret material; keep only the position.
		if se, ok := err.(*json.SyntaxError); ok {
			return fmt.Errorf("catalog: %s %s is not valid JSON (at byte %d)", what, path, se.Offset)
		}
		return fmt.Errorf("catalog: %s %s must be a JSON object of the documented shape", what, path)
	}
	return nil
}

// ARNAccount returns the account of an ARN (its fifth field), "" when s is
// not an ARN with a 12-digit account.
func ARNAccount(s string) string {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || len(p[4]) != 12 || strings.Trim(p[4], "0123456789") != "" {
		return ""
	}
	return p[4]
}

// owns reports whether account may use the entry with the given ARN and
// explicit account list.
func owns(account, arn string, accounts []string) bool {
	if account == "" {
		return false
	}
	return ARNAccount(arn) == account || slices.Contains(accounts, account)
}

// HasCluster reports whether the catalog knows the MSK cluster ARN for the
// account.
func (f *Files) HasCluster(account, arn string) bool {
	_, ok := f.Cluster(account, arn)
	return ok
}

// Cluster returns the catalog entry for an MSK cluster ARN, if account may
// use it; another account's entry is not found.
func (f *Files) Cluster(account, arn string) (ClusterEntry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.clusters[arn]
	if !ok || !owns(account, arn, e.Accounts) {
		return ClusterEntry{}, false
	}
	return e, true
}

// errSecretNotFound is the one answer for a secret that is missing or
// belongs to another account.
func errSecretNotFound() error { return replicator.Invalid("secretArn", "secret not found") }

// lookup finds arn in the secrets file for account. found is false
// when the file has no entry; owned is false when it has one the account
// may not use.
func (f *Files) lookup(account, arn string) (sec Secret, found, owned bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.secrets[arn]
	if !ok {
		return Secret{}, false, false
	}
	if !owns(account, arn, e.Accounts) {
		return Secret{}, true, false
	}
	return e.Secret, true, true
}

// Secret resolves a secret ARN from the secrets file for account.
func (f *Files) Secret(_ context.Context, account, arn string) (Secret, error) {
	s, _, owned := f.lookup(account, arn)
	if !owned {
		return Secret{}, errSecretNotFound()
	}
	return s, nil
}

// CheckSecret reports whether a secret ARN resolves for account, without
// returning it.
func (f *Files) CheckSecret(ctx context.Context, account, arn string) error {
	_, err := f.Secret(ctx, account, arn)
	return err
}
