package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFailoverAndFailbackIdentical moves a consumer group from the source
// to the target and back, with a replicator each way, identical names and
// ENHANCED offset sync: after each move the group re-reads nothing and
// skips nothing.
func TestFailoverAndFailbackIdentical(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []*kfake.Cluster{e.src, e.dst} {
		if _, err := kadmOf(e, c).CreateTopic(ctx, 1, 1, nil, "ledger"); err != nil {
			t.Fatal(err)
		}
	}
	s := spec{identical: true, earliest: true, syncGroups: true, groups: []string{"ledger-app"}, syncMode: types.ConsumerGroupOffsetSyncModeEnhanced}
	s.name = "fwd"
	fwd := e.create(s)
	s.name, s.reverse = "back", true
	back := e.create(s)
	e.waitState(fwd, types.ReplicatorStateRunning, 10*time.Second)
	e.waitState(back, types.ReplicatorStateRunning, 10*time.Second)

	// consume reads what the group has not read yet on c, commits, and
	// returns the values.
	consume := func(c *kfake.Cluster, want int) []string {
		t.Helper()
		cl := e.client(c, kgo.ConsumerGroup("ledger-app"), kgo.ConsumeTopics("ledger"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []string
		deadline := time.Now().Add(scale(8 * time.Second))
		for time.Now().Before(deadline) && (want < 0 || len(got) < want) {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := cl.PollFetches(pctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			if want < 0 && len(got) > 0 {
				deadline = time.Now().Add(scale(time.Second)) // drain what is there
				want = -2
			}
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		return got
	}
	produceN := func(c *kfake.Cluster, prefix string, n int) {
		for i := range n {
			produce(t, e.client(c), &kgo.Record{Topic: "ledger", Value: []byte(fmt.Sprintf("%s-%d", prefix, i))})
		}
	}
	waitSynced := func(c *kfake.Cluster, at int64) {
		t.Helper()
		eventually(t, 10*time.Second, fmt.Sprintf("group synced to %d", at), func() error {
			os, err := kadmOf(e, c).FetchOffsets(ctx, "ledger-app")
			if err != nil {
				return err
			}
			if o, ok := os.Lookup("ledger", 0); !ok || o.At != at {
				return fmt.Errorf("group at %v", o.At)
			}
			return nil
		})
	}

	// On the source: 10 records, all consumed.
	produceN(e.src, "a", 10)
	if got := consume(e.src, 10); len(got) != 10 {
		t.Fatalf("source read %d", len(got))
	}
	e.readAll(e.dst, "ledger", 10, 10*time.Second)
	waitSynced(e.dst, 10)

	// Failover: producers and consumers move to the target.
	produceN(e.dst, "b", 5)
	got := consume(e.dst, 5)
	if fmt.Sprint(got) != "[b-0 b-1 b-2 b-3 b-4]" {
		t.Fatalf("after failover the group read %v, want only the 5 new records", got)
	}
	e.readAll(e.src, "ledger", 15, 10*time.Second)
	// The reverse replicator syncs the group back: source offset 15.
	waitSynced(e.src, 15)

	// Failback: new records on the source; the group reads exactly those.
	produceN(e.src, "c", 3)
	got = consume(e.src, 3)
	if fmt.Sprint(got) != "[c-0 c-1 c-2]" {
		t.Fatalf("after failback the group read %v, want only the 3 new records", got)
	}
}
