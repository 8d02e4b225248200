// Package catalog reads the operator's local files for self-hosting: the
// cluster catalog (REPLICATOR_CLUSTERS_FILE, MSK cluster ARN → connection
// settings) and the secrets file (REPLICATOR_SECRETS_FILE, secret ARN →
// secret). Both are read at start and again on Reload (SIGHUP). Secret
// values never leave this package except to the code that connects to Kafka.
package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// ClusterEntry is how to reach one MSK cluster, in the API's member shapes.
type ClusterEntry struct {
	BootstrapBrokerString string          `json:"bootstrapBrokerString"`
	ClientAuthentication  json.RawMessage `json:"clientAuthentication,omitempty"`
	EncryptionInTransit   json.RawMessage `json:"encryptionInTransit,omitempty"`
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

// Files holds the contents of both files. The zero value knows nothing.
type Files struct {
	clustersPath, secretsPath string

	mu       sync.RWMutex
	clusters map[string]ClusterEntry
	secrets  map[string]Secret
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
	secrets := map[string]Secret{}
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

// HasCluster reports whether the catalog knows the MSK cluster ARN.
func (f *Files) HasCluster(arn string) bool {
	_, ok := f.Cluster(arn)
	return ok
}

// Cluster returns the catalog entry for an MSK cluster ARN.
func (f *Files) Cluster(arn string) (ClusterEntry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.clusters[arn]
	return e, ok
}

// Secret resolves a secret ARN from the secrets file.
func (f *Files) Secret(_ context.Context, arn string) (Secret, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.secrets[arn]
	if !ok {
		return Secret{}, replicator.Invalid("secretArn", "secret not found")
	}
	return s, nil
}

// CheckSecret reports whether a secret ARN resolves, without returning it.
func (f *Files) CheckSecret(ctx context.Context, arn string) error {
	_, err := f.Secret(ctx, arn)
	return err
}
