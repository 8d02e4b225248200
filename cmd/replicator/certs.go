package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// runCerts makes a private CA and a server certificate for serve's TLS
// listener: what docker-compose.yml runs once before serve, and a quick way
// to try TLS anywhere else. It keeps what is already there and still valid.
func runCerts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var dir, hosts string
	var validity time.Duration
	s := newSettings("certs", "Writes a private certificate authority (ca.pem, ca-key.pem) and a server certificate it signs\n(server.pem, server-key.pem) into a directory, for serve's REPLICATOR_TLS_CERT_FILE/REPLICATOR_TLS_KEY_FILE\nand the workers' REPLICATOR_TLS_CA_FILE (AWS_CA_BUNDLE for AWS clients). Existing files are kept while valid.", getenv, stderr)
	s.String(&dir, "certs-dir", "", "certs", "directory to write the files to")
	s.String(&hosts, "certs-hosts", "", "localhost,127.0.0.1,::1", "host names and IP addresses the server certificate is valid for, comma-separated")
	s.Duration(&validity, "certs-validity", "8760h", "how long the server certificate is valid")
	if err := s.Parse(args); err != nil {
		return err
	}
	if validity < 24*time.Hour {
		return fmt.Errorf("REPLICATOR_CERTS_VALIDITY: %s is less than a day", validity)
	}
	wrote, err := makeCerts(dir, splitList(hosts), validity, time.Now())
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if wrote {
		fmt.Fprintf(stdout, "certs: wrote a server certificate for %s in %s (CA: %s)\n", hosts, dir, filepath.Join(dir, caCertName))
	} else {
		fmt.Fprintf(stdout, "certs: the certificates in %s are valid for %s; kept them\n", dir, hosts)
	}
	return nil
}
