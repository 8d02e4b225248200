package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestRecreatedTopicStartsOverAtEarliest (finding 1): a reported topic
// whose ID changed is a new topic. Its checkpoints and offset mappings are
// retired (before, ON CONFLICT DO NOTHING kept the old incarnation's
// checkpoint, and the new topic was copied from the old offset: the
// records below it were lost), its jobs start at the earliest offset even
// with a LATEST spec, the old holder's lease is void at once but nobody is
// granted the job before that lease would have expired, and the history
// says what happened.
func TestRecreatedTopicStartsOverAtEarliest(t *testing.T) {
	f := newFleetDB(t)
	f.ttl = 2 * time.Second
	rid := f.create("recreated", replicator.StartLatest)
	md := f.metadataLease("meta", rid)
	if res := f.report(md, "meta", topic("orders", "ID-A", 2, 500)); res.Added != 2 {
		t.Fatalf("first report added %d jobs", res.Added)
	}
	old := f.acquire("w1")
	if len(old) != 2 {
		t.Fatalf("w1 got %d partition jobs", len(old))
	}
	var reps []fleet.JobReport
	for _, l := range old {
		if l.TopicID != "ID-A" || l.StartOffset != 500 {
			t.Fatalf("lease %+v: want topic ID-A from the latest offset (LATEST)", l)
		}
		reps = append(reps, report(l, 800, 900))
	}
	if res, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl); err != nil || len(res.Renewed) != 2 {
		t.Fatalf("heartbeat: %+v %v", res, err)
	}
	if n := f.count(`SELECT count(*) FROM offset_mappings WHERE replicator_id = $1`, rid); n != 2 {
		t.Fatalf("%d mapping points, want 2", n)
	}

	// Deleted and created again under the same name, with fewer records.
	res := f.report(md, "meta", topic("orders", "ID-B", 2, 30))
	if len(res.Recreated) != 1 || res.Recreated[0] != "orders" || res.Error != nil {
		t.Fatalf("second report: %+v", res)
	}
	if got, want := f.checkpoints(rid), map[string]string{"orders/0": "-2@ID-B", "orders/1": "-2@ID-B"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checkpoints %v, want %v: the old topic's must be retired", got, want)
	}
	if n := f.count(`SELECT count(*) FROM offset_mappings WHERE replicator_id = $1`, rid); n != 0 {
		t.Fatalf("%d mapping points of the old topic left", n)
	}
	// The same report again changes nothing.
	if res := f.report(md, "meta", topic("orders", "ID-B", 2, 30)); res.Added+res.Removed+len(res.Recreated) != 0 {
		t.Fatalf("repeated report: %+v", res)
	}
	// The old holder can neither renew nor checkpoint.
	hb, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl)
	if err != nil || len(hb.Lost) != 2 || len(hb.Renewed) != 0 {
		t.Fatalf("old holder's heartbeat: %+v %v", hb, err)
	}
	if got := f.checkpoints(rid)["orders/0"]; got != "-2@ID-B" {
		t.Fatalf("checkpoint %s after the old holder's heartbeat", got)
	}
	// Nobody gets the jobs while the old lease could still be in use...
	if ls := f.acquire("w2"); len(ls) != 0 {
		t.Fatalf("re-granted at once: %v", ls)
	}
	// ...then they start over at the earliest offset of the new topic.
	fresh := map[int64]fleet.Lease{}
	testutil.Eventually(t, 3*f.ttl, "jobs granted again", func() error {
		for id, l := range f.acquire("w2") {
			if l.Kind == fleet.KindPartition {
				fresh[id] = l
			}
		}
		if len(fresh) != 2 {
			return fmt.Errorf("%d granted", len(fresh))
		}
		return nil
	})
	for _, l := range fresh {
		if l.TopicID != "ID-B" || l.StartOffset != fleet.OffsetEarliest {
			t.Fatalf("new lease %+v: want topic ID-B from the earliest offset", l)
		}
	}
	ev := hasEvent(f.events(rid), fleet.EventSourceTopicRecreated)
	if ev == nil || !strings.Contains(ev.Message, "orders") || !strings.Contains(ev.Message, "ID-B") {
		t.Fatalf("no SourceTopicRecreated event naming the topic: %+v", f.events(rid))
	}
}

// TestTopicIdentityAdoptedAndPartitionsGone: rows from before topic IDs
// adopt the first reported ID (no re-copy); partitions that disappear lose
// their jobs, checkpoints and mappings, with an event; a topic that comes
// back while unmatched (checkpoints only) under a new ID starts over too;
// the all-zero ID of a source without topic IDs is no ID.
func TestTopicIdentityAdoptedAndPartitionsGone(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("adopt", replicator.StartEarliest)
	md := f.metadataLease("w1", rid)
	f.report(md, "w1", topic("orders", "", 3, 10), topic("audit", "AAAAAAAAAAAAAAAAAAAAAA==", 1, 10))
	ls := f.acquire("w1")
	if len(ls) != 4 {
		t.Fatalf("w1 got %d partition jobs, want 4", len(ls))
	}
	var reps []fleet.JobReport
	for _, l := range ls {
		if l.TopicID != "" {
			t.Fatalf("lease %+v: want no topic ID", l)
		}
		reps = append(reps, report(l, 7, 7))
	}
	if _, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl); err != nil {
		t.Fatal(err)
	}
	// The source now reports IDs: adopted, positions kept.
	res := f.report(md, "w1", topic("orders", "ID-O", 3, 10), topic("audit", "ID-X", 1, 10))
	if len(res.Recreated) != 0 {
		t.Fatalf("adoption taken for a re-creation: %+v", res)
	}
	want := map[string]string{"orders/0": "7@ID-O", "orders/1": "7@ID-O", "orders/2": "7@ID-O", "audit/0": "7@ID-X"}
	if got := f.checkpoints(rid); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checkpoints %v, want %v", got, want)
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE replicator_id = $1 AND kind = 'partition' AND topic_id = ''`, rid); n != 0 {
		t.Fatalf("%d jobs did not adopt the topic ID", n)
	}
	// Partition 2 disappears (same ID, so not a re-creation as far as the
	// report shows).
	res = f.report(md, "w1", topic("orders", "ID-O", 2, 10), topic("audit", "ID-X", 1, 10))
	if res.Removed != 1 {
		t.Fatalf("removed %d jobs, want 1", res.Removed)
	}
	if _, ok := f.checkpoints(rid)["orders/2"]; ok {
		t.Fatal("the vanished partition's checkpoint is left")
	}
	if ev := hasEvent(f.events(rid), fleet.EventSourcePartitionsRemoved); ev == nil || !strings.Contains(ev.Message, "orders") {
		t.Fatalf("no SourcePartitionsRemoved event: %+v", f.events(rid))
	}
	// audit stops matching (its checkpoint stays), then comes back as a
	// new topic: it starts over.
	f.report(md, "w1", topic("orders", "ID-O", 2, 10))
	if got := f.checkpoints(rid)["audit/0"]; got != "7@ID-X" {
		t.Fatalf("unmatched topic's checkpoint %q", got)
	}
	res = f.report(md, "w1", topic("orders", "ID-O", 2, 10), topic("audit", "ID-Y", 1, 10))
	if len(res.Recreated) != 1 || f.checkpoints(rid)["audit/0"] != "-2@ID-Y" {
		t.Fatalf("audit came back as a new topic: %+v, checkpoint %s", res, f.checkpoints(rid)["audit/0"])
	}
}

// TestDiscoveryQuotas (finding 5): discovery keeps existing jobs, adds new
// partitions and then new topics in name order while they fit the
// replicator's topic and partition quotas and the account's partition
// quota, and answers a fatal QuotaExceeded naming what was left out.
// Nothing beyond a quota gets a job.
func TestDiscoveryQuotas(t *testing.T) {
	f := newFleetDB(t)
	f.quota = fleet.TopologyQuotas{Topics: 3, Partitions: 10, AccountPartitions: 14}
	rid := f.create("quota", replicator.StartEarliest)
	md := f.metadataLease("w1", rid)
	jobs := func(id string) int {
		return f.count(`SELECT count(*) FROM jobs WHERE replicator_id = $1 AND kind = 'partition'`, id)
	}
	// 5 topics of 2 partitions: 3 fit the topic quota.
	var ts []fleet.TopicInfo
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		ts = append(ts, topic(n, "ID-"+n, 2, 0))
	}
	res := f.report(md, "w1", ts...)
	if res.Added != 6 || res.Error == nil || res.Error.Code != fleet.CodeQuotaExceeded || !res.Error.Fatal ||
		!strings.Contains(res.Error.Message, "2 topics are not copied (d, e)") {
		t.Fatalf("report over the topic quota: %+v %+v", res, res.Error)
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE replicator_id = $1 AND topic IN ('a', 'b', 'c')`, rid); n != 6 {
		t.Fatalf("%d jobs of a, b, c: the first topics in name order must be taken", n)
	}
	// Existing topics grow: new partitions fit up to 10.
	ts = []fleet.TopicInfo{topic("a", "ID-a", 7, 0), topic("b", "ID-b", 2, 0), topic("c", "ID-c", 2, 0)}
	res = f.report(md, "w1", ts...)
	if jobs(rid) != 10 || res.Error == nil || !strings.Contains(res.Error.Message, "1 new partitions of copied topics are not copied (a/6)") {
		t.Fatalf("%d jobs after growth; %+v", jobs(rid), res.Error)
	}
	// Within the quota again: no error.
	if res = f.report(md, "w1", topic("a", "ID-a", 4, 0), topic("b", "ID-b", 2, 0)); res.Error != nil || jobs(rid) != 6 {
		t.Fatalf("report within the quota: %+v, %d jobs", res, jobs(rid))
	}
	// The account's quota is shared: another replicator gets what is left
	// (14 - 6 = 8).
	other := f.create("other", replicator.StartEarliest)
	md2 := f.metadataLease("w2", other)
	res = f.report(md2, "w2", topic("x", "ID-x", 5, 0), topic("y", "ID-y", 5, 0))
	if jobs(other) != 5 || res.Error == nil || !strings.Contains(res.Error.Message, "1 topics are not copied (y)") {
		t.Fatalf("other replicator: %d jobs, %+v", jobs(other), res.Error)
	}
}
