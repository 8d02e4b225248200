package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/scheduler"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

type serveConfig struct {
	databaseURL  string
	listenAddr   string
	region       string
	accessKeys   string
	workerToken  string
	leaseTTL     time.Duration
	clustersFile string
	secretsFile  string
	autoMigrate  bool
	failAfter    time.Duration
	log          logConfig
}

func (c *serveConfig) declare(s *settings) {
	s.Secret(&c.databaseURL, "database-url", "DATABASE_URL", "PostgreSQL connection URL")
	s.String(&c.listenAddr, "listen-addr", "", ":8080", "address the API listens on")
	s.String(&c.region, "region", "", "us-east-1", "AWS region this endpoint answers for (SigV4 scope and ARNs)")
	s.Secret(&c.accessKeys, "access-keys", "", "access keys, AKID:SECRET:ACCOUNT_ID[,...]")
	s.Secret(&c.workerToken, "worker-token", "", "shared token workers present to the internal API")
	s.Duration(&c.leaseTTL, "lease-ttl", "10s", "lease time-to-live of replication jobs")
	s.String(&c.clustersFile, "clusters-file", "", "", "JSON file: MSK cluster ARN → connection settings")
	s.String(&c.secretsFile, "secrets-file", "", "", "JSON file: secret ARN → secret")
	s.Bool(&c.autoMigrate, "auto-migrate", false, "apply pending migrations at start")
	s.Duration(&c.failAfter, "failure-threshold", "30s", "how long a job may fail to make progress before its replicator is FAILED")
	s.logging(&c.log)
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c serveConfig
	s := newSettings("serve", "Runs the control plane: the MSK-Replicator-compatible API and the scheduler.", getenv, stderr)
	c.declare(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	log, err := c.log.logger(stderr)
	if err != nil {
		return err
	}
	ready := make(chan string, 1)
	return serve(ctx, c, log, ready)
}

// serve runs the control plane until ctx ends. It sends the bound address
// on ready once it accepts connections.
func serve(ctx context.Context, c serveConfig, log *slog.Logger, ready chan<- string) error {
	if c.databaseURL == "" {
		return errors.New("DATABASE_URL is required (or run 'replicator dev')")
	}
	keys, err := sigv4.ParseKeys(c.accessKeys)
	if err != nil {
		return fmt.Errorf("REPLICATOR_ACCESS_KEYS: %w", err)
	}
	if c.workerToken == "" {
		log.Warn("serve: no worker token configured (REPLICATOR_WORKER_TOKEN); the worker API is closed")
	}
	if len(keys) == 0 {
		log.Warn("serve: no access keys configured (REPLICATOR_ACCESS_KEYS); every API call will be refused")
	}
	files, err := catalog.Load(c.clustersFile, c.secretsFile)
	if err != nil {
		return err
	}
	go reloadOnHUP(ctx, files, log)
	if c.autoMigrate {
		if err := postgres.Migrate(ctx, c.databaseURL, nil); err != nil {
			return err
		}
	}
	store, err := postgres.Open(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sched := scheduler.New(store, scheduler.Config{LeaseTTL: c.leaseTTL, FailAfter: c.failAfter, Logger: log, Registry: reg})
	handler := api.NewServer(api.Config{
		Region:   c.region,
		Store:    store,
		Auth:     api.SigV4(sigv4.NewVerifier(c.region, "kafka", keys)),
		Catalog:  files,
		Secrets:  &catalog.Resolver{Files: files, SM: catalog.NewSecretsManager(ctx)},
		Logger:   log,
		Registry: reg,

		Fleet:       store,
		WorkerToken: c.workerToken,
		LeaseTTL:    c.leaseTTL,
	})

	ln, err := net.Listen("tcp", c.listenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listenAddr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- sched.Run(ctx) }()
	log.Info("serve: listening", "addr", ln.Addr().String(), "region", c.region, "access_keys", len(keys))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	log.Info("serve: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func reloadOnHUP(ctx context.Context, files *catalog.Files, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := files.Reload(); err != nil {
				log.Error("serve: reload of local files failed; keeping the previous contents", "err", err)
			} else {
				log.Info("serve: reloaded cluster catalog and secrets file")
			}
		}
	}
}
