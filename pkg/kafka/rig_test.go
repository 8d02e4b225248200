// The test rig: the engine alone against two in-process clusters (kfake),
// jobs started by the test.

package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// rig runs the engine alone against two in-process clusters: jobs are
// started by the test (no control plane), so a job runs whatever happens
// to its topics, as it does until the control plane replaces it.
type rig struct {
	t        testing.TB
	src, dst *kfake.Cluster
	eng      *kafka.Engine
	spec     *fleet.ReplicatorSpec
	logs     *logLines
	log      *slog.Logger
	nextJob  int64
}

type rigOpts struct {
	cfg      func(*kafka.Config)
	spec     func(*replicator.Spec)
	dstOpts  []kfake.Opt
	srcOpts  []kfake.Opt
	noEngine bool
}

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	src, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("source")}, o.srcOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	dst, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("target")}, o.dstOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	spec := replicator.Spec{
		Clusters: []replicator.Cluster{
			{Alias: "src", Apache: &replicator.ApacheKafkaCluster{ClusterID: "src", BootstrapBrokers: strings.Join(src.ListenAddrs(), ",")}},
			{Alias: "dst", Apache: &replicator.ApacheKafkaCluster{ClusterID: "dst", BootstrapBrokers: strings.Join(dst.ListenAddrs(), ",")}},
		},
		ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "src", TargetAlias: "dst", TargetCompression: replicator.CompressionNone,
			Topics: replicator.TopicReplication{TopicsToReplicate: []string{".*"}, StartingPosition: replicator.StartEarliest,
				TopicNameConfiguration: replicator.NamePrefixed}}},
	}
	if o.spec != nil {
		o.spec(&spec)
	}
	logs := &logLines{}
	var w interface{ Write([]byte) (int, error) } = logs
	if os.Getenv("ENGINE_LOG") != "" {
		w = teeWriter{logs, os.Stderr}
	}
	cfg := kafka.Config{Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DiscoveryInterval: 200 * time.Millisecond, SyncInterval: 300 * time.Millisecond}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	r := &rig{t: t, src: src, dst: dst, logs: logs, log: cfg.Logger,
		spec: &fleet.ReplicatorSpec{ID: "rep-1", Name: "rig", AccountID: "111111111111", SpecVersion: 1, State: replicator.StateRunning, Spec: spec}}
	r.eng = kafka.New(cfg)
	return r
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t teeWriter) Write(p []byte) (int, error) { _, _ = t.b.Write(p); return t.a.Write(p) }

// logLines keeps every line the engine logged.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		l.lines = append(l.lines, string(s))
	}
	return len(p), nil
}

// count returns how many lines contain every one of subs.
func (l *logLines) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, s := range l.lines {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue next
			}
		}
		n++
	}
	return n
}

// start starts a partition job (at the start of the log unless start >= 0).
func (r *rig) start(topic string, partition int32, start int64, topicID string) fleet.Task {
	r.t.Helper()
	r.nextJob++
	l := fleet.Lease{JobID: r.nextJob, Epoch: 1, ReplicatorID: r.spec.ID, Kind: fleet.KindPartition, Topic: topic, Partition: partition,
		StartOffset: start, SpecVersion: 1, TopicID: topicID}
	if start < 0 {
		l.StartOffset = fleet.OffsetEarliest
	}
	task, err := r.eng.Start(context.Background(), l, r.spec, fleet.TaskEnv{WorkerID: "w1", Logger: r.log,
		LeaseFresh: func() bool { return true }})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(task.Abort)
	return task
}

// startMeta starts the metadata job; topologies it reports arrive on the
// returned channel (the latest one wins).
func (r *rig) startMeta() (fleet.Task, func() []fleet.TopicInfo) {
	r.t.Helper()
	r.nextJob++
	var mu sync.Mutex
	var last []fleet.TopicInfo
	l := fleet.Lease{JobID: r.nextJob, Epoch: 1, ReplicatorID: r.spec.ID, Kind: fleet.KindMetadata, SpecVersion: 1}
	task, err := r.eng.Start(context.Background(), l, r.spec, fleet.TaskEnv{WorkerID: "w1", Logger: r.log,
		LeaseFresh: func() bool { return true },
		ReportTopology: func(_ context.Context, _ int64, topics []fleet.TopicInfo) error {
			mu.Lock()
			last = topics
			mu.Unlock()
			return nil
		}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(task.Abort)
	return task, func() []fleet.TopicInfo { mu.Lock(); defer mu.Unlock(); return last }
}

func (r *rig) client(c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	r.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(time.Second)}, opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(cl.Close)
	return cl
}

func (r *rig) admin(c *kfake.Cluster) *kadm.Client { return kadm.NewClient(r.client(c)) }

func (r *rig) createTopic(c *kfake.Cluster, name string, partitions int32, configs map[string]*string) string {
	r.t.Helper()
	resp, err := r.admin(c).CreateTopic(context.Background(), partitions, 1, configs, name)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.ID.String()
}

func (r *rig) topicID(c *kfake.Cluster, name string) string {
	r.t.Helper()
	td, err := r.admin(c).ListTopics(context.Background(), name)
	if err != nil {
		r.t.Fatal(err)
	}
	return td[name].ID.String()
}

func (r *rig) produce(cl *kgo.Client, rs ...*kgo.Record) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// read returns every record of a topic's partition on c, from the start
// to the end offset at the time of the call.
func (r *rig) read(c *kfake.Cluster, topic string, partition int32) []*kgo.Record {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := r.admin(c).ListEndOffsets(ctx, topic)
	if err != nil {
		r.t.Fatal(err)
	}
	end, ok := ends.Lookup(topic, partition)
	if !ok || end.Err != nil || end.Offset == 0 {
		return nil
	}
	cl := r.client(c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			r.t.Fatalf("reading %s[%d]: %d of %d records: %v", topic, partition, len(out), end.Offset, ctx.Err())
		}
		fs.EachRecord(func(rec *kgo.Record) { out = append(out, rec) })
		if len(out) > 0 && out[len(out)-1].Offset >= end.Offset-1 {
			return out
		}
	}
}

// values are the record values of rs as strings.
func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
		if len(r.Value) > 64 {
			out[i] = fmt.Sprintf("<%d bytes %s>", len(r.Value), r.Value[:8])
		}
	}
	return out
}

// firstCopies drops repeated values (duplicates of at-least-once copying),
// keeping the first occurrence of each.
func firstCopies(vs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, within, what, cond)
}
