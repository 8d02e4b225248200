package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/scenario"
)

// Engine edges of issue 11, through the whole system (API, control plane,
// two workers).

// TestTargetTopicDeletedWhileCopying (finding 3): one topic's target topic
// is deleted while a replicator copies two topics, and more records are
// produced to it than the producer used to buffer for all topics together
// (100,000). The other topic keeps being copied all along; the deleted
// target topic comes back with the source topic's configs and receives
// every record produced after the deletion, in order.
func TestTargetTopicDeletedWhileCopying(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, dst := e.Source(), e.Target()
	adm, dadm := e.Admin(src), e.Admin(dst)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("987654321")}, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "beta"); err != nil {
		t.Fatal(err)
	}
	arn := e.Create(scenario.Spec{Name: "edges", Earliest: true, CopyConfigs: true, DetectNewTopics: true})
	e.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	prod := e.Client(src, kgo.MaxBufferedRecords(200_000))
	for i := range 10 {
		e.Produce(prod, &kgo.Record{Topic: "alpha", Value: []byte(fmt.Sprintf("a-before-%d", i))},
			&kgo.Record{Topic: "beta", Value: []byte(fmt.Sprintf("b-%d", i))})
	}
	alpha, beta := src.Alias()+".alpha", src.Alias()+".beta"
	e.ReadAll(dst, alpha, 10, 15*time.Second)
	e.ReadAll(dst, beta, 10, 15*time.Second)

	if resp, err := dadm.DeleteTopics(ctx, alpha); err != nil || resp[alpha].Err != nil {
		t.Fatalf("deleting %s: %v %v", alpha, err, resp)
	}
	const n = 110_000
	batch := make([]*kgo.Record, 0, 10_000)
	for i := range n {
		batch = append(batch, &kgo.Record{Topic: "alpha", Value: []byte(fmt.Sprintf("a%06d", i))})
		if len(batch) == cap(batch) {
			e.Produce(prod, batch...)
			batch = batch[:0]
		}
	}
	for i := 10; i < 60; i++ {
		e.Produce(prod, &kgo.Record{Topic: "beta", Value: []byte(fmt.Sprintf("b-%d", i))})
	}
	// The other topic flows while the deleted one is dealt with.
	e.ReadAll(dst, beta, 60, 20*time.Second)

	e.Eventually(60*time.Second, "the deleted target topic is back with its configs", func() error {
		rc, err := dadm.DescribeTopicConfigs(ctx, alpha)
		if err != nil || len(rc) != 1 || rc[0].Err != nil {
			return fmt.Errorf("%v %v", err, rc)
		}
		for _, c := range rc[0].Configs {
			if c.Key == "retention.ms" && c.Value != nil && *c.Value == "987654321" {
				return nil
			}
		}
		return fmt.Errorf("retention.ms not copied")
	})
	got := e.ReadAll(dst, alpha, n, 60*time.Second)
	next := 0
	seen := map[string]bool{}
	for _, r := range got {
		v := string(r.Value)
		if seen[v] || len(v) != 7 || v[0] != 'a' {
			continue // a duplicate, or a record from before the deletion
		}
		seen[v] = true
		if want := fmt.Sprintf("a%06d", next); v != want {
			t.Fatalf("first copies out of order: %s where %s was due", v, want)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d of the %d records produced after the deletion arrived", next, n)
	}
}

// TestGroupOffsetsFollowADeletedTargetTopic (finding 3, and the fault
// suite's target-delete fault): after a target topic is deleted and created
// again its offsets start over, so a consumer group's synced offset must be
// translated into the new topic (mapping points of the old one count in
// other offsets) and never left beyond the new log's end.
func TestGroupOffsetsFollowADeletedTargetTopic(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, dst := e.Source(), e.Target()
	sadm, dadm := e.Admin(src), e.Admin(dst)
	if _, err := sadm.CreateTopic(ctx, 1, 1, nil, "gamma"); err != nil {
		t.Fatal(err)
	}
	arn := e.Create(scenario.Spec{Name: "groups-after-delete", Earliest: true, DetectNewTopics: true, SyncGroups: true})
	e.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	prod := e.Client(src)
	produceN := func(from, to int) {
		for i := from; i < to; i++ {
			e.Produce(prod, &kgo.Record{Topic: "gamma", Value: []byte(fmt.Sprintf("g%04d", i))})
		}
	}
	commit := func(at int64) {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: "gamma", Partition: 0, At: at, LeaderEpoch: -1})
		if resp, err := sadm.CommitOffsets(ctx, "g", o); err != nil || resp.Error() != nil {
			t.Fatalf("committing on the source: %v %v", err, resp.Error())
		}
	}
	target := src.Alias() + ".gamma"
	groupAt := func(want int64) func() error {
		return func() error {
			os, err := dadm.FetchOffsets(ctx, "g")
			if err != nil {
				return err
			}
			o, ok := os.Lookup(target, 0)
			if !ok || o.At != want {
				return fmt.Errorf("target group offset %v (%v), want %d", o.At, ok, want)
			}
			return nil
		}
	}
	produceN(0, 100)
	e.ReadAll(dst, target, 100, 15*time.Second)
	commit(100)
	e.Eventually(20*time.Second, "group synced before the deletion", groupAt(100))

	if resp, err := dadm.DeleteTopics(ctx, target); err != nil || resp[target].Err != nil {
		t.Fatalf("deleting %s: %v %v", target, err, resp)
	}
	produceN(100, 150)
	e.ReadAll(dst, target, 50, 30*time.Second) // the new topic: source 100.. at target 0..
	// The group had consumed everything before the deletion: in the new
	// topic it is at its start, and follows the source from there.
	e.Eventually(30*time.Second, "group moved into the new target topic", groupAt(0))
	commit(150) // caught up: the checkpoint is an exact point
	e.Eventually(20*time.Second, "group follows in the new topic", groupAt(50))
}
