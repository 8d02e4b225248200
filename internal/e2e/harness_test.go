// Package e2e runs the whole system in one process against real
// PostgreSQL and in-process Kafka clusters (kfake): the API, the scheduler,
// workers with the real engine, and SDK clients. Every test asserts on what
// arrived on the target cluster.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
	"github.com/openreplicator/replicator/workers"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var scale = testutil.Scale

// eventually polls cond until it holds or the (scaled) deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return testutil.Eventually(t, within, what, cond)
}

const (
	token      = "e2e-worker-token"
	scramARN   = "arn:aws:secretsmanager:us-east-1:444444444444:secret:scram-ok"
	badScram   = "arn:aws:secretsmanager:us-east-1:444444444444:secret:scram-bad"
	failAfter  = 2 * time.Second
	srcCluster = "src"
	dstCluster = "dst"
)

var key = sigv4.Key{AccessKeyID: "AKIDE2EE2EE2EE2EE2E0", SecretAccessKey: "e2e-secret", AccountID: "444444444444"}

type env struct {
	t        *testing.T
	reg      *prometheus.Registry
	logs     *syncBuffer
	url      string
	store    *postgres.Store
	sdk      *awskafka.Client
	files    *catalog.Files
	src, dst *kfake.Cluster
}

type option func(*envOpts)

type envOpts struct {
	workers  int
	dstOpts  []kfake.Opt
	noSource bool
	// serveGuard and workerGuard are the destination policies of the API
	// and of the workers' dialer (nil: none).
	serveGuard, workerGuard *netguard.Policy
}

func withWorkers(n int) option         { return func(o *envOpts) { o.workers = n } }
func withTarget(o ...kfake.Opt) option { return func(e *envOpts) { e.dstOpts = o } }
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
	dst, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("target")}, o.dstOpts...)...)
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
	e := &env{t: t, reg: reg, logs: logs, url: srv.URL, store: store, files: files, src: src, dst: dst,
		sdk: awskafka.New(awskafka.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})}
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

func (e *env) client(c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(time.Second)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *env) admin(c *kfake.Cluster) *kadm.Client { return kadm.NewClient(e.client(c)) }

// spec describes a replicator between the env's two clusters.
type spec struct {
	name            string
	topics          []string
	excludeTopics   []string
	groups          []string
	earliest        bool
	identical       bool
	copyConfigs     bool
	copyACLs        bool
	detectNewTopics bool
	syncGroups      bool
	compression     types.TargetCompressionType
	srcBootstrap    string
	dstSecret       string
	reverse         bool // from the env's target cluster to its source
	syncMode        types.ConsumerGroupOffsetSyncMode
}

func (e *env) create(s spec) string {
	e.t.Helper()
	if s.topics == nil {
		s.topics = []string{".*"}
	}
	if s.groups == nil {
		s.groups = []string{".*"}
	}
	if s.compression == "" {
		s.compression = types.TargetCompressionTypeNone
	}
	start, naming := types.ReplicationStartingPositionTypeLatest, types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias
	if s.earliest {
		start = types.ReplicationStartingPositionTypeEarliest
	}
	if s.identical {
		naming = types.ReplicationTopicNameConfigurationTypeIdentical
	}
	srcID, dstID := srcCluster, dstCluster
	srcBS, dstBS := joinAddrs(e.src.ListenAddrs()), joinAddrs(e.dst.ListenAddrs())
	if s.reverse {
		srcID, dstID, srcBS, dstBS = dstID, srcID, dstBS, srcBS
	}
	if s.srcBootstrap != "" {
		srcBS = s.srcBootstrap
	}
	dst := types.KafkaCluster{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(dstID), BootstrapBrokerString: aws.String(dstBS)}}
	if s.dstSecret != "" {
		dst.ClientAuthentication = &types.KafkaClusterClientAuthentication{SaslScram: &types.KafkaClusterSaslScramAuthentication{
			Mechanism: types.KafkaClusterSaslScramMechanismSha256, SecretArn: aws.String(s.dstSecret)}}
	}
	out, err := e.sdk.CreateReplicator(context.Background(), &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(s.name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::444444444444:role/R"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(srcID), BootstrapBrokerString: aws.String(srcBS)}},
			dst,
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String(srcID), TargetKafkaClusterId: aws.String(dstID),
			TargetCompressionType: s.compression,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: s.topics, TopicsToExclude: s.excludeTopics,
				StartingPosition:                &types.ReplicationStartingPosition{Type: start},
				TopicNameConfiguration:          &types.ReplicationTopicNameConfiguration{Type: naming},
				CopyTopicConfigurations:         aws.Bool(s.copyConfigs),
				CopyAccessControlListsForTopics: aws.Bool(s.copyACLs),
				DetectAndCopyNewTopics:          aws.Bool(s.detectNewTopics)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: s.groups,
				SynchroniseConsumerGroupOffsets: aws.Bool(s.syncGroups), DetectAndCopyNewConsumerGroups: aws.Bool(true),
				ConsumerGroupOffsetSyncMode: s.syncMode},
		}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.ReplicatorArn)
}

func joinAddrs(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func (e *env) describe(arn string) *awskafka.DescribeReplicatorOutput {
	e.t.Helper()
	d, err := e.sdk.DescribeReplicator(context.Background(), &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) waitState(arn string, want types.ReplicatorState, within time.Duration) *awskafka.DescribeReplicatorOutput {
	e.t.Helper()
	var d *awskafka.DescribeReplicatorOutput
	eventually(e.t, within, "state "+string(want), func() error {
		d = e.describe(arn)
		if d.ReplicatorState != want {
			info := ""
			if d.StateInfo != nil {
				info = aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message)
			}
			return fmt.Errorf("state %s %s", d.ReplicatorState, info)
		}
		return nil
	})
	return d
}

// alias is the alias of a cluster id: the prefix of target topics.
func alias(id string) string { return replicator.ApacheClusterAlias(id) }

func signRequest(t *testing.T, req *http.Request) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptySHA, "kafka", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// status fetches the status extension (SigV4-signed).
func (e *env) status(arn string) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/replication/v1/replicators/"+url.PathEscape(arn)+"/status", nil)
	signRequest(e.t, req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("status: %d %v", resp.StatusCode, err)
	}
	return out
}

// readAll reads every record of topic from the start until count records
// arrived or the deadline passes.
func (e *env) readAll(c *kfake.Cluster, topic string, count int, within time.Duration, opts ...kgo.Opt) []*kgo.Record {
	e.t.Helper()
	cl := e.client(c, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	var out []*kgo.Record
	eventually(e.t, within, fmt.Sprintf("%d records on %s", count, topic), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) < count {
			return fmt.Errorf("%d records so far", len(out))
		}
		return nil
	})
	return out
}

type kgoCluster struct{ k *kfake.Cluster }

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

// metric returns the sum of a metric family's values whose labels include
// want (all of them), from the workers' registry.
func (e *env) metric(name string, want map[string]string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func kadmOf(e *env, c *kfake.Cluster, opts ...kgo.Opt) *kadm.Client {
	return kadm.NewClient(e.client(c, opts...))
}
