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
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/pkg/postgres"
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
	mappingRet   time.Duration
	log          logConfig

	quotaReplicators, quotaTopics, quotaPartitions, quotaAccountPartitions int
	maxConcurrentAcquires                                                  int

	allowedDestinations, deniedDestinations string
	tlsCertFile, tlsKeyFile                 string
	metricsToken, metricsListenAddr         string
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
	s.Duration(&c.mappingRet, "mapping-retention", "1h", "how long offset mapping points are kept for consumer-group translation (each partition's newest point always stays)")
	s.Int(&c.maxConcurrentAcquires, "max-concurrent-acquires", 8, "acquire requests of workers served at once (0: 8); one that waits longer than 250ms for a slot gets a retryable 503, so acquires never starve heartbeats")
	s.Int(&c.quotaReplicators, "quota-replicators", 100, "most replicators an account may have (0: no limit)")
	s.Int(&c.quotaTopics, "quota-topics", 750, "most source topics one replicator copies (0: no limit)")
	s.Int(&c.quotaPartitions, "quota-partitions", 10000, "most source partitions one replicator copies (0: no limit)")
	s.Int(&c.quotaAccountPartitions, "quota-account-partitions", 50000, "most source partitions all of an account's replicators copy (0: no limit)")
	c.declareDestinations(s, "")
	s.String(&c.tlsCertFile, "tls-cert-file", "", "", "PEM certificate (chain) of the API and worker API; with tls-key-file, serve speaks HTTPS only (reloaded on SIGHUP)")
	s.String(&c.tlsKeyFile, "tls-key-file", "", "", "PEM private key of tls-cert-file")
	c.declareMetrics(s)
	s.logging(&c.log)
}

// declareDestinations declares the destination policy settings (serve,
// worker and dev share them; allowedDefault differs for dev).
func (c *serveConfig) declareDestinations(s *settings, allowedDefault string) {
	s.String(&c.allowedDestinations, "allowed-destinations", "", allowedDefault,
		"bootstrap destinations tenants may use, comma-separated host names (*.example.com), IPs and CIDRs; when set, nothing else (none: anything not denied); the most specific entry of both lists wins")
	s.String(&c.deniedDestinations, "denied-destinations", "", netguard.DefaultDenied,
		"destinations tenants may not use (same syntax; none: no entry); the default denies link-local addresses (cloud metadata)")
}

// declareMetrics declares the /metrics settings (serve and worker).
func (c *serveConfig) declareMetrics(s *settings) {
	s.Secret(&c.metricsToken, "metrics-token", "", "bearer token GET /metrics requires (unset: none)")
	s.String(&c.metricsListenAddr, "metrics-listen-addr", "", "", "serve /metrics (and /healthz, /readyz) on this separate plain-HTTP address instead of the main listener")
}

// destinationPolicy parses the destination settings.
func (c *serveConfig) destinationPolicy() (*netguard.Policy, error) {
	p, err := netguard.Parse(c.allowedDestinations, c.deniedDestinations)
	if err != nil {
		return nil, fmt.Errorf("REPLICATOR_ALLOWED_DESTINATIONS/REPLICATOR_DENIED_DESTINATIONS: %w", err)
	}
	return p, nil
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
	for _, q := range []struct {
		name string
		v    int
	}{{"REPLICATOR_MAX_CONCURRENT_ACQUIRES", c.maxConcurrentAcquires}, {"REPLICATOR_QUOTA_REPLICATORS", c.quotaReplicators}, {"REPLICATOR_QUOTA_TOPICS", c.quotaTopics},
		{"REPLICATOR_QUOTA_PARTITIONS", c.quotaPartitions}, {"REPLICATOR_QUOTA_ACCOUNT_PARTITIONS", c.quotaAccountPartitions}} {
		if q.v < 0 {
			return fmt.Errorf("%s: %d is negative", q.name, q.v)
		}
	}
	policy, err := c.destinationPolicy()
	if err != nil {
		return err
	}
	var certs *certReloader
	switch {
	case c.tlsCertFile != "" && c.tlsKeyFile != "":
		if certs, err = newCertReloader(c.tlsCertFile, c.tlsKeyFile); err != nil {
			return err
		}
	case c.tlsCertFile != "" || c.tlsKeyFile != "":
		return errors.New("REPLICATOR_TLS_CERT_FILE and REPLICATOR_TLS_KEY_FILE go together: set both or neither")
	}
	files, err := catalog.Load(c.clustersFile, c.secretsFile)
	if err != nil {
		return err
	}
	reloads := []reloader{{"cluster catalog and secrets file", files.Reload}}
	if certs != nil {
		reloads = append(reloads, reloader{"TLS certificate", certs.Reload})
	}
	go reloadOnHUP(ctx, log, reloads...)
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
	sched := maintenance.New(store, maintenance.Config{LeaseTTL: c.leaseTTL, FailAfter: c.failAfter, MappingRetention: c.mappingRet, Logger: log, Registry: reg})
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

		Destinations:           policy,
		MaxConcurrentAcquires:  c.maxConcurrentAcquires,
		QuotaReplicators:       c.quotaReplicators,
		QuotaTopics:            c.quotaTopics,
		QuotaPartitions:        c.quotaPartitions,
		QuotaAccountPartitions: c.quotaAccountPartitions,
		MetricsToken:           c.metricsToken,
		SeparateMetrics:        c.metricsListenAddr != "",
	})

	ln, err := net.Listen("tcp", c.listenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listenAddr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	if certs != nil {
		srv.TLSConfig = certs.tlsConfig()
	}
	errc := make(chan error, 3)
	if c.metricsListenAddr != "" {
		mon, err := startMonitor(ctx, c.metricsListenAddr, monitorMux(reg, c.metricsToken, store.Ping), errc)
		if err != nil {
			ln.Close()
			return err
		}
		defer mon.Close()
		log.Info("serve: metrics and health on their own listener", "addr", mon.Addr().String())
	}
	go func() {
		if certs != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	go func() { errc <- sched.Run(ctx) }()
	log.Info("serve: listening", "addr", ln.Addr().String(), "region", c.region, "access_keys", len(keys), "tls", certs != nil)
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

// reloader is something SIGHUP reloads.
type reloader struct {
	what   string
	reload func() error
}

// reloadOnHUP runs every reloader on SIGHUP until ctx ends; a failure keeps
// the previous contents of that one.
func reloadOnHUP(ctx context.Context, log *slog.Logger, rs ...reloader) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			for _, r := range rs {
				if err := r.reload(); err != nil {
					log.Error("sighup: reload failed; keeping the previous contents", "what", r.what, "err", err)
				} else {
					log.Info("sighup: reloaded", "what", r.what)
				}
			}
		}
	}
}
