//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/kafka"
)

func byPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	out := map[int32][]*kgo.Record{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

func headerValue(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// TestCopyKeepsRecordsInOrder: key, value (and tombstones), headers (empty
// and repeated keys) and timestamps arrive, in order per partition, in the
// same partition of the prefixed target topic, exactly once; records
// written while the replicator runs follow; the status shows no lag.
func TestCopyKeepsRecordsInOrder(t *testing.T) {
	h := newT(t, "copy")
	topic := h.name("orders")
	h.createTopic(h.srcAdm, 3, nil, topic)
	prod := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
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
	h.produce(prod, want...)

	arn := h.create(spec{name: "copy", earliest: true, detectNewTopics: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	target := alias(sourceID) + "." + topic
	got := h.readAll(suite.target, target, n, 60*time.Second)
	if len(got) != n {
		t.Fatalf("%d records on the target, want %d (duplicates?)", len(got), n)
	}
	parts, total := h.endOffsets(h.dstAdm, target)
	if len(parts) != 3 || total != n {
		t.Fatalf("target topic %s: end offsets %v, want 3 partitions holding %d records", target, parts, n)
	}
	gotP, wantP := byPartition(got), byPartition(want)
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
			if _, ok := headerValue(g, kafka.OriginHeader); ok {
				t.Fatalf("prefixed names: record carries %s", kafka.OriginHeader)
			}
		}
	}

	// Records written while it runs arrive too, and the status shows no lag.
	h.produce(prod, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("later")})
	got = h.readAll(suite.target, target, n+1, 30*time.Second)
	if len(got) != n+1 {
		t.Fatalf("%d records after the late one, want %d", len(got), n+1)
	}
	late := byPartition(got)[1]
	if string(late[len(late)-1].Value) != "later" {
		t.Fatalf("late record missing: last of partition 1 is %q", late[len(late)-1].Value)
	}
	eventually(t, 30*time.Second, "status: 3 partitions, no lag, all records", func() error {
		s := h.summary(arn)
		if s["partitions"] != 3 || s["messageLag"] != 0 || s["recordsCopied"] != n+1 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
	// The workers' metrics count what they copied.
	if v := h.workerMetric("replicator_replicated_records_total", h.name("copy")); v < n+1 {
		t.Fatalf("replicator_replicated_records_total %v on the workers, want at least %d", v, n+1)
	}
	if v := h.workerMetric("replicator_replicated_bytes_total", h.name("copy")); v <= 0 {
		t.Fatalf("replicator_replicated_bytes_total %v on the workers", v)
	}
	// Created on a one-broker target: replication factor min(3, 1).
	td, err := h.dstAdm.ListTopics(h.ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range td[target].Partitions {
		if len(p.Replicas) != 1 {
			t.Fatalf("target partition %d has replicas %v", p.Partition, p.Replicas)
		}
	}
}

// TestIdenticalNames copies to a topic of the same name; every copy
// carries the origin header naming the source.
func TestIdenticalNames(t *testing.T) {
	h := newT(t, "identical")
	topic := h.name("ledger")
	h.createTopic(h.srcAdm, 2, nil, topic)
	prod := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 20 {
		h.produce(prod, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("ledger")}}})
	}
	arn := h.create(spec{name: "identical", earliest: true, identical: true, detectNewTopics: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	got := h.readAll(suite.target, topic, 20, 60*time.Second)
	if _, total := h.endOffsets(h.dstAdm, topic); total != 20 || len(got) != 20 {
		t.Fatalf("target %s holds %d records (read %d), want 20", topic, total, len(got))
	}
	for p, rs := range byPartition(got) {
		for i, r := range rs {
			if want := fmt.Sprintf("v%d", 2*i+int(p)); string(r.Value) != want {
				t.Fatalf("partition %d record %d is %q, want %q", p, i, r.Value, want)
			}
			if v, _ := headerValue(r, "app"); v != "ledger" {
				t.Fatalf("record %q lost its header: %+v", r.Value, r.Headers)
			}
			if v, ok := headerValue(r, kafka.OriginHeader); !ok || v != alias(sourceID) {
				t.Fatalf("record %q: origin header %q (present %v), want %q", r.Value, v, ok, alias(sourceID))
			}
		}
	}
	td, err := h.dstAdm.ListTopics(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := td[alias(sourceID)+"."+topic]; ok {
		t.Fatalf("identical names: a prefixed copy %s.%s exists as well", alias(sourceID), topic)
	}
}

// TestNewTopicsAndPartitions: LATEST skips what was there at creation; a
// topic created later is copied from its earliest offset; partitions added
// at the source are added at the target and copied.
func TestNewTopicsAndPartitions(t *testing.T) {
	h := newT(t, "discovery")
	events := h.name("events")
	h.createTopic(h.srcAdm, 2, nil, events)
	prod := h.client(suite.source)
	h.produce(prod, &kgo.Record{Topic: events, Value: []byte("before-create")})
	arn := h.create(spec{name: "latest", detectNewTopics: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	// LATEST: the partitions' jobs start at the end offsets they see when
	// they first run, so wait until the status has them before producing.
	eventually(t, 30*time.Second, "both partitions of the first topic are copied", func() error {
		if s := h.summary(arn); s["partitions"] != 2 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
	h.produce(prod, &kgo.Record{Topic: events, Value: []byte("after-create")})
	got := h.readAll(suite.target, alias(sourceID)+"."+events, 1, 30*time.Second)
	if _, total := h.endOffsets(h.dstAdm, alias(sourceID)+"."+events); total != 1 || string(got[0].Value) != "after-create" {
		t.Fatalf("LATEST copied %d records, first %q; want only after-create", total, got[0].Value)
	}

	fresh := h.name("fresh")
	start := time.Now()
	h.createTopic(h.srcAdm, 4, nil, fresh)
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: fresh, Key: []byte(fmt.Sprint(i)), Value: []byte("x")})
	}
	h.produce(prod, recs...)
	h.readAll(suite.target, alias(sourceID)+"."+fresh, 40, 60*time.Second)
	t.Logf("new topic replicated %s after creation", time.Since(start).Round(time.Millisecond))

	if _, err := h.srcAdm.UpdatePartitions(h.ctx, 6, fresh); err != nil {
		t.Fatal(err)
	}
	pp := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	h.produce(pp, &kgo.Record{Topic: fresh, Partition: 5, Value: []byte("p5")})
	got = h.readAll(suite.target, alias(sourceID)+"."+fresh, 41, 60*time.Second)
	found := false
	for _, r := range got {
		found = found || (r.Partition == 5 && string(r.Value) == "p5")
	}
	if !found {
		t.Fatal("the record on the new partition 5 did not arrive in partition 5")
	}
	if parts, _ := h.endOffsets(h.dstAdm, alias(sourceID)+"."+fresh); len(parts) != 6 {
		t.Fatalf("target has %d partitions, want 6", len(parts))
	}
}

// TestInternalAndExcludedTopicsAreNotCopied: excluded and internal-looking
// topics stay on the source.
func TestInternalAndExcludedTopicsAreNotCopied(t *testing.T) {
	h := newT(t, "filters")
	keep := h.name("keep")
	for _, n := range []string{keep, h.name("skip.tmp"), h.name("app.internal"), h.name("x-internal")} {
		h.createTopic(h.srcAdm, 1, nil, n)
	}
	arn := h.create(spec{name: "filters", excludeTopics: []string{`.*\.tmp`}, earliest: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	h.produce(h.client(suite.source), &kgo.Record{Topic: keep, Value: []byte("k")})
	h.readAll(suite.target, alias(sourceID)+"."+keep, 1, 30*time.Second)
	td, err := h.dstAdm.ListTopics(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, n := range td.Names() {
		if bytes.Contains([]byte(n), []byte(h.prefix)) {
			mine = append(mine, n)
		}
	}
	if len(mine) != 1 || mine[0] != alias(sourceID)+"."+keep {
		t.Fatalf("target topics %v, want only %s.%s", mine, alias(sourceID), keep)
	}
}

// TestCompression: the target's batches use the replicator's codec.
func TestCompression(t *testing.T) {
	h := newT(t, "zstd")
	topic := h.name("z")
	h.createTopic(h.srcAdm, 1, nil, topic)
	arn := h.create(spec{name: "zstd", earliest: true, compression: types.TargetCompressionTypeZstd})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	var recs []*kgo.Record
	for range 200 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("compressible "), 20)})
	}
	h.produce(h.client(suite.source, kgo.ProducerBatchCompression(kgo.NoCompression())), recs...)
	got := h.readAll(suite.target, alias(sourceID)+"."+topic, 200, 60*time.Second)
	if c := got[len(got)-1].Attrs.CompressionType(); c != 4 {
		t.Fatalf("target batch compression %d, want zstd (4)", c)
	}
}
