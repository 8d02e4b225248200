package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"

	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
)

type devConfig struct {
	serve serveConfig
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c devConfig
	s := newSettings("dev", "Runs the whole system locally: a throwaway PostgreSQL (unless DATABASE_URL is set),\nthe schema, and the control plane, and prints how to use it.", getenv, stderr)
	s.Secret(&c.serve.databaseURL, "database-url", "DATABASE_URL", "PostgreSQL connection URL; empty starts a throwaway server")
	s.String(&c.serve.listenAddr, "listen-addr", "", "127.0.0.1:8080", "address the API listens on")
	s.String(&c.serve.region, "region", "", "us-east-1", "AWS region this endpoint answers for")
	s.Secret(&c.serve.accessKeys, "access-keys", "", "access keys, AKID:SECRET:ACCOUNT_ID[,...]; empty generates one")
	s.String(&c.serve.clustersFile, "clusters-file", "", "", "JSON file: MSK cluster ARN → connection settings")
	s.String(&c.serve.secretsFile, "secrets-file", "", "", "JSON file: secret ARN → secret")
	s.logging(&c.serve.log)
	if err := s.Parse(args); err != nil {
		return err
	}
	c.serve.leaseTTL = defaultLeaseTTL
	log, err := c.serve.log.logger(stderr)
	if err != nil {
		return err
	}

	if c.serve.databaseURL == "" {
		fmt.Fprintln(stdout, "dev: starting a throwaway PostgreSQL ...")
		pg, err := pgserver.Start(ctx, pgserver.Options{})
		if err != nil {
			return err
		}
		defer pg.Stop()
		c.serve.databaseURL = pg.URL()
		fmt.Fprintf(stdout, "dev: PostgreSQL is up on port %d (data in %s, removed on exit)\n", pg.Port(), pg.Dir())
	}
	if err := postgres.Migrate(ctx, c.serve.databaseURL, io.Discard); err != nil {
		return err
	}
	akid, secret, account := "", "", ""
	if c.serve.accessKeys == "" {
		akid, secret, account = "AKIA"+randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), "000000000000"
		c.serve.accessKeys = akid + ":" + secret + ":" + account
	}

	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, c.serve, log, ready) }()
	select {
	case err := <-errc:
		return err
	case addr := <-ready:
		endpoint := "http://" + endpointHost(addr)
		fmt.Fprintf(stdout, "\nreplicator dev is running. Ctrl-C stops everything.\n\n")
		fmt.Fprintf(stdout, "  endpoint     %s\n  region       %s\n", endpoint, c.serve.region)
		if akid != "" {
			fmt.Fprintf(stdout, "  access key   %s\n  secret key   %s\n  account      %s\n", akid, secret, account)
			fmt.Fprintf(stdout, "\nTry it with the AWS CLI:\n\n")
			fmt.Fprintf(stdout, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n", akid, secret, c.serve.region)
			fmt.Fprintf(stdout, "  export AWS_ENDPOINT_URL_KAFKA=%s\n", endpoint)
			fmt.Fprintf(stdout, "  aws kafka list-replicators\n\n")
		}
	}
	return <-errc
}

const defaultLeaseTTL = 10_000_000_000 // 10s

func endpointHost(addr string) string {
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		return "127.0.0.1" + addr[strings.LastIndexByte(addr, ':'):]
	}
	return addr
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
