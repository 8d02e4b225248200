package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/scenario"
)

// TestSourceTopicRecreatedIsCopiedFromItsStart (issue 11, finding 1): a
// source topic deleted and created again under the same name, with fewer
// records than the old topic's checkpoints, is a new topic: every record of
// the new incarnation reaches the target (the old checkpoints kept it from
// copying anything below them: silent loss while RUNNING with lag 0), and
// the replicator's history says what happened.
func TestSourceTopicRecreatedIsCopiedFromItsStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, dst := e.Source(), e.Target()
	adm := e.Admin(src)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	prod := e.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var old []*kgo.Record
	for i := range 200 {
		old = append(old, &kgo.Record{Topic: "events", Partition: int32(i % 2), Value: fmt.Appendf(nil, "old-%d", i)})
	}
	e.Produce(prod, old...)

	arn := e.Create(scenario.Spec{Name: "recreated", Earliest: true, DetectNewTopics: true})
	e.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := src.Alias() + ".events"
	e.ReadAll(dst, target, 200, 15*time.Second)
	// The old topic's checkpoints are at 100 in both partitions.
	e.Eventually(10*time.Second, "checkpoints at the old topic's end", func() error {
		var n int
		if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM checkpoints WHERE topic = 'events' AND next_offset = 100`).Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("%d of 2 partitions checkpointed at 100", n)
		}
		return nil
	})

	if _, err := adm.DeleteTopics(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	e.Eventually(10*time.Second, "source topic deleted", func() error {
		td, err := adm.ListTopics(ctx, "events")
		if err != nil {
			return err
		}
		if td.Has("events") && td["events"].Err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	// Fewer records than the old checkpoints, then more past them (from a
	// new client: the old one knows the old topic's ID).
	prod = e.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var fresh []*kgo.Record
	for i := range 30 {
		fresh = append(fresh, &kgo.Record{Topic: "events", Partition: int32(i % 2), Value: fmt.Appendf(nil, "new-%d", i)})
	}
	e.Produce(prod, fresh...)

	want := map[string]bool{}
	for _, r := range fresh {
		want[string(r.Value)] = true
	}
	check := func(within time.Duration) {
		t.Helper()
		cl := e.Client(dst, kgo.ConsumeTopics(target), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := map[string]bool{}
		e.Eventually(within, "every record of the new topic on the target", func() error {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
			missing := 0
			for v := range want {
				if !got[v] {
					missing++
				}
			}
			if missing > 0 {
				return fmt.Errorf("%d of %d records of the new topic missing", missing, len(want))
			}
			return nil
		})
	}
	check(30 * time.Second)

	var more []*kgo.Record
	for i := 30; i < 260; i++ {
		more = append(more, &kgo.Record{Topic: "events", Partition: int32(i % 2), Value: fmt.Appendf(nil, "new-%d", i)})
	}
	e.Produce(prod, more...)
	for _, r := range more {
		want[string(r.Value)] = true
	}
	check(20 * time.Second)

	// The history says the topic was re-created.
	e.Eventually(5*time.Second, "SourceTopicRecreated in the status history", func() error {
		events, _ := e.Status(arn)["events"].([]any)
		for _, ev := range events {
			if m, _ := ev.(map[string]any); m["code"] == "SourceTopicRecreated" {
				return nil
			}
		}
		return fmt.Errorf("events %v", events)
	})
	if d := e.Describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("state %s after the re-created topic caught up", d.ReplicatorState)
	}
}
