package scenario

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FailoverAndFailbackIdentical moves a consumer group from the source to
// the target and back, with a replicator each way, identical names and
// ENHANCED offset sync: after each move the group re-reads nothing and
// skips nothing.
func FailoverAndFailbackIdentical(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic, group := h.Unique("ledger"), h.Unique("ledger-app")
	h.CreateTopic(src, 1, nil, topic)
	h.CreateTopic(dst, 1, nil, topic)
	s := Spec{Identical: true, Earliest: true, SyncGroups: true, Groups: []string{regexp.QuoteMeta(group)}, SyncMode: types.ConsumerGroupOffsetSyncModeEnhanced}
	s.Name = "fwd"
	fwd := h.Create(s)
	s.Name, s.Reverse = "back", true
	back := h.Create(s)
	h.WaitState(fwd, types.ReplicatorStateRunning, 10*time.Second)
	h.WaitState(back, types.ReplicatorStateRunning, 10*time.Second)

	// consume reads what the group has not read yet on c, commits, and
	// returns the values.
	consume := func(c Cluster, want int) []string {
		t.Helper()
		var got []string
		for _, r := range h.ConsumeGroup(c, group, topic, want, 8*time.Second) {
			got = append(got, string(r.Value))
		}
		return got
	}
	produceN := func(c Cluster, prefix string, n int) {
		t.Helper()
		cl := h.Client(c)
		for i := range n {
			h.Produce(cl, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("%s-%d", prefix, i))})
		}
	}
	waitSynced := func(c Cluster, at int64) {
		t.Helper()
		adm := h.Admin(c)
		h.Eventually(10*time.Second, fmt.Sprintf("group synced to %d", at), func() error {
			os, err := adm.FetchOffsets(h.Context(), group)
			if err != nil {
				return err
			}
			if o, ok := os.Lookup(topic, 0); !ok || o.At != at {
				return fmt.Errorf("group at %v", o.At)
			}
			return nil
		})
	}

	// On the source: 10 records, all consumed.
	produceN(src, "a", 10)
	if got := consume(src, 10); len(got) != 10 {
		t.Fatalf("source read %d: %v", len(got), got)
	}
	h.ReadAll(dst, topic, 10, 10*time.Second)
	waitSynced(dst, 10)

	// Failover: producers and consumers move to the target.
	produceN(dst, "b", 5)
	got := consume(dst, 5)
	if fmt.Sprint(got) != "[b-0 b-1 b-2 b-3 b-4]" {
		t.Fatalf("after failover the group read %v, want only the 5 new records", got)
	}
	h.ReadAll(src, topic, 15, 10*time.Second)
	// The reverse replicator syncs the group back: source offset 15.
	waitSynced(src, 15)

	// Failback: new records on the source; the group reads exactly those.
	produceN(src, "c", 3)
	got = consume(src, 3)
	if fmt.Sprint(got) != "[c-0 c-1 c-2]" {
		t.Fatalf("after failback the group read %v, want only the 3 new records", got)
	}
}
