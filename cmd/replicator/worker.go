package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/workers"
)

type workerConfig struct {
	controlPlaneURL string
	workerToken     string
	workerID        string
	listenAddr      string
	clustersFile    string
	secretsFile     string
	memoryLimit     string
	linger          time.Duration
	fetchWait       time.Duration
	fetchMinBytes   int
	inflightBytes   string
	deliveryTimeout time.Duration
	rejectedRetry   time.Duration
	logInterval     time.Duration
	log             logConfig

	tlsCAFile string
	// dest and metrics share serve's settings and their parsing.
	dest serveConfig
}

func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c workerConfig
	s := newSettings("worker", "Runs a replication worker: it leases jobs from the control plane and copies records,\ntopic configs, ACLs and consumer-group offsets between clusters.", getenv, stderr)
	s.String(&c.controlPlaneURL, "control-plane-url", "", "http://127.0.0.1:8080", "control-plane URL(s), comma-separated; the worker fails over between them")
	s.Secret(&c.workerToken, "worker-token", "", "shared token of the worker API")
	s.String(&c.workerID, "worker-id", "", "", "worker ID (default: host name and process ID)")
	s.String(&c.listenAddr, "worker-listen-addr", "", ":9090", "address of the worker's /healthz and /metrics")
	s.String(&c.clustersFile, "clusters-file", "", "", "JSON file: MSK cluster ARN → connection settings")
	s.String(&c.secretsFile, "secrets-file", "", "", "JSON file: secret ARN → secret")
	s.String(&c.memoryLimit, "memory-limit", "", "192MiB", "soft memory limit of the worker process (Go runtime; GOMEMLIMIT wins when set; 0: none): the GC works harder near it instead of letting the heap double")
	s.Duration(&c.linger, "producer-linger", "2ms", "how long the target producer waits to fill a batch (more: bigger batches, less broker CPU, more latency)")
	s.Duration(&c.fetchWait, "fetch-max-wait", "100ms", "how long a source fetch waits for fetch-min-bytes")
	s.Int(&c.fetchMinBytes, "fetch-min-bytes", 1, "how much data a source fetch waits for (1: answer at once)")
	s.String(&c.inflightBytes, "inflight-bytes", "", "32MiB", "what one replicator may have handed to its target producer and not yet had acknowledged, shared by its partitions on this worker: a partition whose target does not answer holds at most its share")
	s.Duration(&c.deliveryTimeout, "delivery-timeout", "30s", "how long a partition's records may wait in the producer without an acknowledgement before they fail and the partition is fetched again")
	s.Duration(&c.rejectedRetry, "rejected-retry-interval", "10s", "how often a partition stopped at a record the target refuses tries it again (with the target's limits read again)")
	s.Duration(&c.logInterval, "log-interval", "30s", "a repeated error is logged once, then once per interval with the count of those not logged")
	s.String(&c.tlsCAFile, "tls-ca-file", "", "", "PEM certificate authorities to trust for https:// control-plane URLs (instead of the system's)")
	c.dest.declareDestinations(s, "")
	c.dest.declareMetrics(s)
	s.logging(&c.log)
	if err := s.Parse(args); err != nil {
		return err
	}
	log, err := c.log.logger(stderr)
	if err != nil {
		return err
	}
	if c.fetchMinBytes < 1 || c.fetchMinBytes > 64<<20 || c.linger < 0 || c.fetchWait <= 0 {
		return errors.New("REPLICATOR_FETCH_MIN_BYTES must be 1 to 64 MiB, REPLICATOR_PRODUCER_LINGER ≥ 0 and REPLICATOR_FETCH_MAX_WAIT > 0")
	}
	if c.deliveryTimeout <= 0 || c.rejectedRetry <= 0 || c.logInterval <= 0 {
		return errors.New("REPLICATOR_DELIVERY_TIMEOUT, REPLICATOR_REJECTED_RETRY_INTERVAL and REPLICATOR_LOG_INTERVAL must be > 0")
	}
	if n, err := parseBytes(c.inflightBytes); err != nil || n < 1<<20 {
		return fmt.Errorf("REPLICATOR_INFLIGHT_BYTES must be a size of at least 1MiB (got %q)", c.inflightBytes)
	}
	if c.linger == 0 {
		c.linger = -1 // no lingering (the engine reads 0 as its default)
	}
	if getenv("GOMEMLIMIT") == "" {
		limit, err := parseBytes(c.memoryLimit)
		if err != nil {
			return fmt.Errorf("REPLICATOR_MEMORY_LIMIT: %w", err)
		}
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	return worker(ctx, c, log, nil)
}

// worker runs one worker until ctx ends. It sends its ID on ready once it
// serves its health endpoint.
func worker(ctx context.Context, c workerConfig, log *slog.Logger, ready chan<- string) error {
	if c.workerToken == "" {
		return errors.New("REPLICATOR_WORKER_TOKEN is required")
	}
	var copts []workers.ClientOption
	if c.tlsCAFile != "" {
		pool, err := loadCAPool(c.tlsCAFile)
		if err != nil {
			return err
		}
		copts = append(copts, workers.WithRootCAs(pool))
	}
	client, err := workers.NewClient(c.controlPlaneURL, c.workerToken, copts...)
	if err != nil {
		return fmt.Errorf("REPLICATOR_CONTROL_PLANE_URL: %w", err)
	}
	policy, err := c.dest.destinationPolicy()
	if err != nil {
		return err
	}
	files, err := catalog.Load(c.clustersFile, c.secretsFile)
	if err != nil {
		return err
	}
	go reloadOnHUP(ctx, log, reloader{"cluster catalog and secrets file", files.Reload})
	if c.workerID == "" {
		c.workerID = workers.DefaultID()
	}
	inflight, _ := parseBytes(c.inflightBytes) // checked at parse time; "" in tests: the engine's default
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engine := kafka.New(kafka.Config{
		Secrets:      &catalog.Resolver{Files: files, SM: catalog.NewSecretsManager(ctx)},
		Clusters:     files,
		Logger:       log.With("worker", c.workerID),
		Metrics:      kafka.NewMetrics(reg),
		Checkpoints:  client.Mappings,
		FetchMaxWait: c.fetchWait, FetchMinBytes: int32(c.fetchMinBytes),
		ProducerLinger:  c.linger,
		InflightBytes:   inflight,
		DeliveryTimeout: c.deliveryTimeout, RejectedRetryInterval: c.rejectedRetry, LogInterval: c.logInterval,
		Dial: policy.Dialer(&net.Dialer{KeepAlive: 30 * time.Second}),
	})
	w := workers.New(workers.Config{ID: c.workerID, ControlPlane: client, Engine: engine, Logger: log, Registry: reg,
		Info: map[string]string{"listen": c.listenAddr}})

	// /healthz and /metrics on the worker's address; /metrics moves to its
	// own listener when REPLICATOR_METRICS_LISTEN_ADDR is set.
	var mainMetrics prometheus.Gatherer = reg
	if c.dest.metricsListenAddr != "" {
		mon, err := startMonitor(ctx, c.dest.metricsListenAddr, monitorMux(reg, c.dest.metricsToken, nil), make(chan error, 1))
		if err != nil {
			return err
		}
		defer mon.Close()
		log.Info("worker: metrics on their own listener", "addr", mon.Addr().String())
		mainMetrics = nil
	}
	mux := monitorMux(mainMetrics, c.dest.metricsToken, nil)
	ln, err := net.Listen("tcp", c.listenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listenAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	log.Info("worker: serving health and metrics", "addr", ln.Addr().String(), "worker", c.workerID)
	if ready != nil {
		ready <- c.workerID
	}
	return w.Run(ctx)
}

// parseBytes reads a size such as 192MiB, 1GiB, 500MB or 1048576 (bytes).
func parseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(v, u.suf) {
			v, mult = strings.TrimSuffix(v, u.suf), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 192MiB, 1GiB, 0)", v)
	}
	return int64(n * float64(mult)), nil
}
