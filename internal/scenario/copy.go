package scenario

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/kafka"
)

// CopyKeepsRecordsInOrder: key, value (and tombstones), headers (empty and
// repeated keys) and timestamps arrive, in order per partition, in the
// same partition of the prefixed target topic, exactly once and without an
// origin header; the target topic is created with the source's partitions
// and a replication factor the one-broker target can hold; records written
// while the replicator runs follow; the status shows no lag, and the
// workers' MSK-named metrics moved with the traffic.
func CopyKeepsRecordsInOrder(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("orders")
	h.CreateTopic(src, 3, nil, topic)
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	const n = 300
	var want []*kgo.Record
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}, {Key: "empty", Value: []byte{}}, {Key: "seq", Value: []byte("dup")}}}
		if i%50 == 7 {
			r.Value = nil // tombstone
		}
		want = append(want, r)
	}
	h.Produce(prod, want...)

	arn := h.Create(Spec{Name: "copy", Earliest: true, DetectNewTopics: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := src.Alias() + "." + topic
	got := h.ReadAll(dst, target, n, 15*time.Second)
	if len(got) != n {
		t.Fatalf("%d records on the target, want %d (duplicates?)", len(got), n)
	}
	parts, total := h.EndOffsets(dst, target)
	if len(parts) != 3 || total != n {
		t.Fatalf("target topic %s: end offsets %v, want 3 partitions holding %d records", target, parts, n)
	}
	gotP, wantP := ByPartition(got), ByPartition(want)
	for p, ws := range wantP {
		gs := gotP[p]
		if len(gs) != len(ws) {
			t.Fatalf("partition %d: %d records, want %d", p, len(gs), len(ws))
		}
		for i := range ws {
			g, w := gs[i], ws[i]
			if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || (g.Value == nil) != (w.Value == nil) || !g.Timestamp.Equal(w.Timestamp) {
				t.Fatalf("partition %d record %d: got %q=%q@%v, want %q=%q@%v", p, i, g.Key, g.Value, g.Timestamp, w.Key, w.Value, w.Timestamp)
			}
			if len(g.Headers) != 3 || g.Headers[0].Key != "seq" || string(g.Headers[0].Value) != string(w.Headers[0].Value) ||
				g.Headers[1].Key != "empty" || len(g.Headers[1].Value) != 0 || g.Headers[2].Key != "seq" || string(g.Headers[2].Value) != "dup" {
				t.Fatalf("partition %d record %d headers %+v", p, i, g.Headers)
			}
			if _, ok := HeaderValue(g, kafka.OriginHeader); ok {
				t.Fatalf("prefixed names: record carries %s", kafka.OriginHeader)
			}
		}
	}

	// Records written while it runs arrive too, and the status shows no lag.
	h.Produce(prod, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("later")})
	got = h.ReadAll(dst, target, n+1, 10*time.Second)
	if len(got) != n+1 {
		t.Fatalf("%d records after the late one, want %d", len(got), n+1)
	}
	late := ByPartition(got)[1]
	if string(late[len(late)-1].Value) != "later" {
		t.Fatalf("late record missing: last of partition 1 is %q", late[len(late)-1].Value)
	}
	// The lag metric is exported (0 once caught up), per topic.
	name := h.Unique("copy")
	h.Eventually(5*time.Second, "message lag exported", func() error {
		for _, mf := range sys.Metrics() {
			if mf.GetName() != "replicator_message_lag" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "replicator" && l.GetValue() == name {
						return nil
					}
				}
			}
		}
		return fmt.Errorf("replicator_message_lag has no series of %s", name)
	})
	// The MSK-named metrics moved with the traffic.
	account := sys.API().Account
	labels := map[string]string{"replicator": name, "account": account}
	topicLabels := map[string]string{"replicator": name, "account": account, "topic": topic}
	for metric, want := range map[string]float64{
		"replicator_replicated_records_total":    n + 1,
		"replicator_replicated_bytes_total":      1,
		"replicator_bytes_in_total":              1,
		"replicator_topics":                      1,
		"replicator_cluster_ping_success":        2,
		"replicator_replication_latency_seconds": 0.001,
	} {
		l := labels
		if metric == "replicator_replicated_records_total" || metric == "replicator_replicated_bytes_total" || metric == "replicator_replication_latency_seconds" {
			l = topicLabels
		}
		h.Eventually(5*time.Second, metric, func() error {
			if v := h.Metric(metric, l); v < want {
				return fmt.Errorf("%s = %v, want at least %v", metric, v, want)
			}
			return nil
		})
	}
	h.Eventually(10*time.Second, "status: 3 partitions, no lag, all records", func() error {
		s := h.Summary(arn)
		if s["partitions"] != 3 || s["messageLag"] != 0 || s["recordsCopied"] != n+1 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
	// Created on a one-broker target: replication factor min(3, 1).
	td, err := h.Admin(dst).ListTopics(h.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range td[target].Partitions {
		if len(p.Replicas) != 1 {
			t.Fatalf("target partition %d has replicas %v", p.Partition, p.Replicas)
		}
	}
}

// IdenticalNames copies to a topic of the same name; every copy carries
// the origin header naming the source, and no prefixed copy appears.
func IdenticalNames(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("ledger")
	h.CreateTopic(src, 2, nil, topic)
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 20 {
		h.Produce(prod, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("ledger")}}})
	}
	arn := h.Create(Spec{Name: "identical", Earliest: true, Identical: true, DetectNewTopics: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	got := h.ReadAll(dst, topic, 20, 10*time.Second)
	if _, total := h.EndOffsets(dst, topic); total != 20 || len(got) != 20 {
		t.Fatalf("target %s holds %d records (read %d), want 20", topic, total, len(got))
	}
	for p, rs := range ByPartition(got) {
		for i, r := range rs {
			if want := fmt.Sprintf("v%d", 2*i+int(p)); string(r.Value) != want {
				t.Fatalf("partition %d record %d is %q, want %q", p, i, r.Value, want)
			}
			if v, _ := HeaderValue(r, "app"); v != "ledger" {
				t.Fatalf("record %q lost its header: %+v", r.Value, r.Headers)
			}
			if v, ok := HeaderValue(r, kafka.OriginHeader); !ok || v != src.Alias() {
				t.Fatalf("record %q: origin header %q (present %v), want %q", r.Value, v, ok, src.Alias())
			}
		}
	}
	td, err := h.Admin(dst).ListTopics(h.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := td[src.Alias()+"."+topic]; ok {
		t.Fatalf("identical names: a prefixed copy %s.%s exists as well", src.Alias(), topic)
	}
}

// NewTopicsAndPartitions: LATEST skips what was there at creation; a
// topic created later is copied from its earliest offset, so records
// written before its discovery are not lost; partitions added at the
// source are added at the target and copied.
func NewTopicsAndPartitions(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	events := h.Unique("events")
	h.CreateTopic(src, 2, nil, events)
	prod := h.Client(src)
	h.Produce(prod, &kgo.Record{Topic: events, Value: []byte("before-create")})
	arn := h.Create(Spec{Name: "latest", DetectNewTopics: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	// LATEST: the partitions' jobs start at the end offsets they see when
	// they first run, so wait until the status has them before producing.
	h.Eventually(5*time.Second, "both partitions of the first topic are copied", func() error {
		if s := h.Summary(arn); s["partitions"] != 2 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
	h.Produce(prod, &kgo.Record{Topic: events, Value: []byte("after-create")})
	got := h.ReadAll(dst, src.Alias()+"."+events, 1, 10*time.Second)
	if _, total := h.EndOffsets(dst, src.Alias()+"."+events); total != 1 || len(got) != 1 || string(got[0].Value) != "after-create" {
		t.Fatalf("LATEST copied %d records (read %d), first %q; want only after-create", total, len(got), got[0].Value)
	}

	fresh := h.Unique("fresh")
	start := time.Now()
	h.CreateTopic(src, 4, nil, fresh)
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: fresh, Key: []byte(fmt.Sprint(i)), Value: []byte("x")})
	}
	h.Produce(prod, recs...)
	h.ReadAll(dst, src.Alias()+"."+fresh, 40, 10*time.Second)
	t.Logf("new topic replicated %s after creation", time.Since(start).Round(time.Millisecond))

	if _, err := h.Admin(src).UpdatePartitions(h.Context(), 6, fresh); err != nil {
		t.Fatal(err)
	}
	pp := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	h.Produce(pp, &kgo.Record{Topic: fresh, Partition: 5, Value: []byte("p5")})
	got = h.ReadAll(dst, src.Alias()+"."+fresh, 41, 10*time.Second)
	found := false
	for _, r := range got {
		found = found || (r.Partition == 5 && string(r.Value) == "p5")
	}
	if !found {
		t.Fatal("the record on the new partition 5 did not arrive in partition 5")
	}
	if parts, _ := h.EndOffsets(dst, src.Alias()+"."+fresh); len(parts) != 6 {
		t.Fatalf("target has %d partitions, want 6", len(parts))
	}
}

// InternalAndExcludedTopicsAreNotCopied: excluded topics, internal-looking
// ones and those starting with "__" stay on the source.
func InternalAndExcludedTopicsAreNotCopied(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	keep := h.Unique("keep")
	for _, n := range []string{keep, h.Unique("skip.tmp"), h.Unique("app.internal"), "__" + h.Unique("secret"), h.Unique("x-internal")} {
		h.CreateTopic(src, 1, nil, n)
	}
	arn := h.Create(Spec{Name: "filters", ExcludeTopics: []string{`.*\.tmp`}, Earliest: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	h.Produce(h.Client(src), &kgo.Record{Topic: keep, Value: []byte("k")})
	h.ReadAll(dst, src.Alias()+"."+keep, 1, 5*time.Second)
	td, err := h.Admin(dst).ListTopics(h.Context())
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, n := range td.Names() {
		if h.Mine(n) {
			mine = append(mine, n)
		}
	}
	if len(mine) != 1 || mine[0] != src.Alias()+"."+keep {
		t.Fatalf("target topics %v, want only %s.%s", mine, src.Alias(), keep)
	}
}

// Compression: the target's batches use the replicator's codec.
func Compression(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("z")
	h.CreateTopic(src, 1, nil, topic)
	arn := h.Create(Spec{Name: "zstd", Earliest: true, Compression: types.TargetCompressionTypeZstd})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	var recs []*kgo.Record
	for range 200 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("compressible "), 20)})
	}
	h.Produce(h.Client(src, kgo.ProducerBatchCompression(kgo.NoCompression())), recs...)
	got := h.ReadAll(dst, src.Alias()+"."+topic, 200, 10*time.Second)
	if c := got[len(got)-1].Attrs.CompressionType(); c != 4 {
		t.Fatalf("target batch compression %d, want zstd (4)", c)
	}
}
