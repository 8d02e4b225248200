package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

func produce(t *testing.T, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func byPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	out := map[int32][]*kgo.Record{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

func TestCopyKeepsRecordsInOrder(t *testing.T) {
	e := newEnv(t)
	adm := e.admin(e.src)
	if _, err := adm.CreateTopic(context.Background(), 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	prod := e.client(e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var want []*kgo.Record
	for i := range 300 {
		r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}, {Key: "empty", Value: []byte{}}, {Key: "seq", Value: []byte("dup")}}}
		if i%50 == 7 {
			r.Value = nil // tombstone
		}
		want = append(want, r)
	}
	produce(t, prod, want...)

	arn := e.create(spec{name: "copy", earliest: true, detectNewTopics: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := alias(srcCluster) + ".orders"
	got := e.readAll(e.dst, target, 300, 15*time.Second)
	if len(got) != 300 {
		t.Fatalf("%d records on the target, want 300 (duplicates?)", len(got))
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
				g.Headers[1].Key != "empty" || len(g.Headers[1].Value) != 0 || string(g.Headers[2].Value) != "dup" {
				t.Fatalf("partition %d record %d headers %+v", p, i, g.Headers)
			}
		}
	}

	// Records written while it runs arrive too, and the status shows no lag.
	produce(t, prod, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("later")})
	got = e.readAll(e.dst, target, 301, 10*time.Second)
	if string(got[len(got)-1].Value) != "later" && len(got) != 301 {
		t.Fatalf("late record missing")
	}
	// The lag metric is exported (0 once caught up), per topic.
	eventually(t, 5*time.Second, "message lag exported", func() error {
		mfs, _ := e.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "replicator_message_lag" && len(mf.GetMetric()) > 0 {
				return nil
			}
		}
		return fmt.Errorf("replicator_message_lag has no series")
	})
	// The MSK-named metrics moved with the traffic.
	labels := map[string]string{"replicator": "copy", "account": key.AccountID}
	topicLabels := map[string]string{"replicator": "copy", "account": key.AccountID, "topic": "orders"}
	for name, want := range map[string]float64{
		"replicator_replicated_records_total":    301,
		"replicator_replicated_bytes_total":      1,
		"replicator_bytes_in_total":              1,
		"replicator_topics":                      1,
		"replicator_cluster_ping_success":        2,
		"replicator_replication_latency_seconds": 0.001,
	} {
		l := labels
		if name == "replicator_replicated_records_total" || name == "replicator_replicated_bytes_total" || name == "replicator_replication_latency_seconds" {
			l = topicLabels
		}
		eventually(t, 5*time.Second, name, func() error {
			if v := e.metric(name, l); v < want {
				return fmt.Errorf("%s = %v, want at least %v", name, v, want)
			}
			return nil
		})
	}
	eventually(t, 10*time.Second, "status: 3 partitions, no lag, 301 records", func() error {
		st := e.status(arn)
		sum := st["summary"].(map[string]any)
		if sum["partitions"].(float64) != 3 || sum["messageLag"].(float64) != 0 || sum["recordsCopied"].(float64) != 301 {
			return fmt.Errorf("summary %v", sum)
		}
		return nil
	})
}

func TestLatestSkipsOldRecordsButNotNewTopics(t *testing.T) {
	e := newEnv(t)
	prod := e.client(e.src, kgo.AllowAutoTopicCreation())
	adm := e.admin(e.src)
	if _, err := adm.CreateTopic(context.Background(), 2, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	produce(t, prod, &kgo.Record{Topic: "events", Value: []byte("before-create")})
	arn := e.create(spec{name: "latest", detectNewTopics: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	produce(t, prod, &kgo.Record{Topic: "events", Value: []byte("after-create")})
	got := e.readAll(e.dst, alias(srcCluster)+".events", 1, 10*time.Second)
	if len(got) != 1 || string(got[0].Value) != "after-create" {
		t.Fatalf("LATEST copied %d records, first %q", len(got), got[0].Value)
	}

	// A topic created later starts from its earliest offset: records
	// written before discovery are not lost.
	if _, err := adm.CreateTopic(context.Background(), 4, 1, nil, "fresh"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Topic: "fresh", Key: []byte(fmt.Sprint(i)), Value: []byte("x")})
	}
	produce(t, prod, recs...)
	e.readAll(e.dst, alias(srcCluster)+".fresh", 40, 10*time.Second)
	t.Logf("new topic replicated %s after creation", time.Since(start).Round(time.Millisecond))

	// Partitions added at the source are added at the target and copied.
	if _, err := adm.UpdatePartitions(context.Background(), 6, "fresh"); err != nil {
		t.Fatal(err)
	}
	pp := e.client(e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce(t, pp, &kgo.Record{Topic: "fresh", Partition: 5, Value: []byte("p5")})

	got = e.readAll(e.dst, alias(srcCluster)+".fresh", 41, 10*time.Second)
	found := false
	for _, r := range got {
		found = found || (r.Partition == 5 && string(r.Value) == "p5")
	}
	if !found {
		t.Fatal("record on the new partition 5 did not arrive in partition 5")
	}
}

func TestInternalAndExcludedTopicsAreNotCopied(t *testing.T) {
	e := newEnv(t)
	adm := e.admin(e.src)
	for _, name := range []string{"keep", "skip.tmp", "app.internal", "__secret", "x-internal"} {
		if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	arn := e.create(spec{name: "filters", excludeTopics: []string{`.*\.tmp`}, earliest: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	td, err := e.admin(e.dst).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := td[alias(srcCluster)+".keep"]; !ok || len(td.Names()) != 1 {
		t.Fatalf("target topics %v, want only %s.keep", td.Names(), alias(srcCluster))
	}
}

func TestCompression(t *testing.T) {
	e := newEnv(t)
	if _, err := e.admin(e.src).CreateTopic(context.Background(), 1, 1, nil, "z"); err != nil {
		t.Fatal(err)
	}
	arn := e.create(spec{name: "zstd", earliest: true, compression: types.TargetCompressionTypeZstd})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	var recs []*kgo.Record
	for range 200 {
		recs = append(recs, &kgo.Record{Topic: "z", Value: bytes.Repeat([]byte("compressible "), 20)})
	}
	produce(t, e.client(e.src, kgo.ProducerBatchCompression(kgo.NoCompression())), recs...)
	got := e.readAll(e.dst, alias(srcCluster)+".z", 200, 10*time.Second)
	if c := got[len(got)-1].Attrs.CompressionType(); c != 4 {
		t.Fatalf("target batch compression %d, want zstd (4)", c)
	}
}

// TestManyTopics replicates 60 topics at once: every record of every topic
// arrives, and the first ones arrive without waiting for all target topics.
func TestManyTopics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.admin(e.src)
	prod := e.client(e.src)
	var recs []*kgo.Record
	for i := range 60 {
		name := fmt.Sprintf("many-%02d", i)
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, name); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: name, Value: []byte(name)})
	}
	produce(t, prod, recs...)
	start := time.Now()
	arn := e.create(spec{name: "many", earliest: true, topics: []string{"many-.*"}})
	e.readAll(e.dst, alias(srcCluster)+".many-00", 1, 15*time.Second)
	t.Logf("first topic copied %s after create", time.Since(start).Round(time.Millisecond))
	for i := range 60 {
		e.readAll(e.dst, fmt.Sprintf("%s.many-%02d", alias(srcCluster), i), 1, 15*time.Second)
	}
	e.waitState(arn, types.ReplicatorStateRunning, 15*time.Second)
}
