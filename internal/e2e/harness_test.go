// Package e2e runs the whole system in one process against real
// PostgreSQL and in-process Kafka clusters (kfake): the API, the scheduler,
// workers with the real engine, and SDK clients. Every test asserts on what
// arrived on the target cluster.
//
// The scenarios both systems run are written once in internal/scenario:
// env implements scenario.System here, and scenarios_test.go runs each one
// from a test of the same name; internal/integration runs them on real
// Kafka. The tests in the other files need what only the in-process system
// offers (kfake clusters started mid-test, the store, the workers' dialer
// policy) or are too heavy for the real-Kafka suite.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/internal/scenario"
	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
	"github.com/openreplicator/replicator/workers"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	token      = "e2e-worker-token"
	scramARN   = "arn:aws:secretsmanager:us-east-1:444444444444:secret:scram-ok"
	badScram   = "arn:aws:secretsmanager:us-east-1:444444444444:secret:scram-bad"
	failAfter  = 2 * time.Second
	srcCluster = "src"
	dstCluster = "dst"
)

var key = sigv4.Key{AccessKeyID: "AKIDE2EE2EE2EE2EE2E0", SecretAccessKey: "e2e-secret", AccountID: "444444444444"}

// env is one test's system: the API, the scheduler and workers in this
// process, on kfake source and target clusters. It implements
// scenario.System, and its embedded scenario.T gives every test the
// scenarios' helpers.
type env struct {
	*scenario.T
	t        *testing.T
	reg      *prometheus.Registry
	logs     *syncBuffer
	url      string
	store    *postgres.Store
	files    *catalog.Files
	src, dst *kfake.Cluster
	sasl     bool // the target requires SASL/SCRAM (withSASLTarget)
}

type option func(*envOpts)

type envOpts struct {
	workers int
	sasl    bool
	// serveGuard and workerGuard are the destination policies of the API
	// and of the workers' dialer (nil: none).
	serveGuard, workerGuard *netguard.Policy
}

func withWorkers(n int) option { return func(o *envOpts) { o.workers = n } }

// withSASLTarget makes the target require SASL/SCRAM-SHA-256: user
// "replicator" (password in the scramARN secret) and the super user
// "admin", as which the tests' clients connect.
func withSASLTarget() option { return func(o *envOpts) { o.sasl = true } }

func withDestinations(serve, worker *netguard.Policy) option {
	return func(o *envOpts) { o.serveGuard, o.workerGuard = serve, worker }
}

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	o := envOpts{workers: 2}
	for _, f := range opts {
		f(&o)
	}
	store := pgtest.Store(t)
	dir := t.TempDir()
	secrets := map[string]map[string]string{
		scramARN: {"username": "replicator", "password": "s3cret-pass"},
		badScram: {"username": "replicator", "password": "wrong-pass"},
	}
	b, _ := json.Marshal(secrets)
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := catalog.Load("", filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("source"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	dstOpts := []kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("target")}
	if o.sasl {
		dstOpts = append(dstOpts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
			kfake.User("SCRAM-SHA-256", "replicator", "s3cret-pass"))
	}
	dst, err := kfake.NewCluster(dstOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)

	logs := &syncBuffer{}
	var logw io.Writer = logs
	if os.Getenv("E2E_LOG") != "" {
		logw = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := api.NewServer(api.Config{Region: "us-east-1", Store: store, Fleet: store, WorkerToken: token, LeaseTTL: 3 * time.Second,
		Auth: api.SigV4(sigv4.NewVerifier("us-east-1", "kafka", []sigv4.Key{key})), Secrets: files, Catalog: files, Logger: log,
		Destinations: o.serveGuard})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	go maintenance.New(store, maintenance.Config{LeaseTTL: 3 * time.Second, Tick: 100 * time.Millisecond, FailAfter: failAfter, Logger: log}).Run(ctx)
	reg := prometheus.NewRegistry()
	metrics := kafka.NewMetrics(reg)
	e := &env{t: t, reg: reg, logs: logs, url: srv.URL, store: store, files: files, src: src, dst: dst, sasl: o.sasl}
	e.T = scenario.New(t, e)
	done := make(chan struct{}, o.workers)
	for i := range o.workers {
		client, err := workers.NewClient(srv.URL, token)
		if err != nil {
			t.Fatal(err)
		}
		engine := kafka.New(kafka.Config{Secrets: files, Clusters: files, Checkpoints: client.Mappings, Logger: log, Metrics: metrics,
			DiscoveryInterval: 200 * time.Millisecond, SyncInterval: 500 * time.Millisecond, Dial: o.workerGuard.DialerOrNil()})
		w := workers.New(workers.Config{ID: fmt.Sprintf("w%d", i+1), ControlPlane: client, Engine: engine, Logger: log,
			AcquireInterval: 200 * time.Millisecond})
		go func() { _ = w.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range o.workers {
			<-done
		}
	})
	return e
}

// The system as the scenarios see it (scenario.System).

func (e *env) Prefix() string { return "" }

func (e *env) API() scenario.API {
	return scenario.API{URL: e.url, Region: "us-east-1", Account: key.AccountID, MaxAttempts: 1,
		Credentials: aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}}
}

func (e *env) Source() scenario.Cluster {
	return scenario.Cluster{ID: srcCluster, Bootstrap: strings.Join(e.src.ListenAddrs(), ",")}
}

func (e *env) Target() scenario.Cluster {
	c := scenario.Cluster{ID: dstCluster, Bootstrap: strings.Join(e.dst.ListenAddrs(), ",")}
	if e.sasl {
		c.Opts = []kgo.Opt{kgo.SASL(scram.Auth{User: "admin", Pass: "admin"}.AsSha256Mechanism())}
	}
	return c
}

func (e *env) SASLTarget() scenario.SASL {
	if !e.sasl {
		e.t.Fatal("this env's target has no SASL: make it with withSASLTarget()")
	}
	return scenario.SASL{Cluster: e.Target(), Secret: scramARN, BadSecret: badScram, Passwords: []string{"s3cret-pass", "wrong-pass"}}
}

func (e *env) Metrics() []*dto.MetricFamily {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	return mfs
}

func (e *env) Logs() string                         { return e.logs.String() }
func (e *env) Within(d time.Duration) time.Duration { return d }
func (e *env) FailAfter() time.Duration             { return failAfter }
func (e *env) Settle() time.Duration                { return 2 * time.Second }

// syncBuffer collects every log line of the system under test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
