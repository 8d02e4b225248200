package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const account = "555555555555"

// fleetDB is a store over a fresh database, with helpers to act as the
// control plane's worker API does.
type fleetDB struct {
	t     *testing.T
	s     *postgres.Store
	ctx   context.Context
	ttl   time.Duration
	quota fleet.TopologyQuotas
}

func newFleetDB(t *testing.T) *fleetDB {
	return &fleetDB{t: t, s: pgtest.Store(t), ctx: context.Background(), ttl: 10 * time.Second}
}

// create stores a replicator (with its metadata job) and returns its ID.
func (f *fleetDB) create(name string, start string) string {
	f.t.Helper()
	r := &replicator.Replicator{
		ARN:                     replicator.ARN{Partition: "aws", Region: "us-east-1", AccountID: account, Name: name, ID: uuid.NewString()},
		AccountID:               account,
		Name:                    name,
		ServiceExecutionRoleARN: "arn:aws:iam::" + account + ":role/R",
		Spec: replicator.Spec{
			Clusters: []replicator.Cluster{
				{Alias: "src", Apache: &replicator.ApacheKafkaCluster{ClusterID: "src", BootstrapBrokers: "127.0.0.1:1"}},
				{Alias: "dst", Apache: &replicator.ApacheKafkaCluster{ClusterID: "dst", BootstrapBrokers: "127.0.0.1:2"}},
			},
			ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "src", TargetAlias: "dst", TargetCompression: replicator.CompressionNone,
				Topics: replicator.TopicReplication{TopicsToReplicate: []string{".*"}, StartingPosition: start, TopicNameConfiguration: replicator.NamePrefixed},
				Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
		},
		State:          replicator.StateCreating,
		CurrentVersion: "TESTVERSION1",
	}
	if err := f.s.CreateReplicator(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
	return r.ARN.ID
}

// acquire takes every free job for worker, by job ID.
func (f *fleetDB) acquire(worker string) map[int64]fleet.Lease {
	f.t.Helper()
	ls, _, err := f.s.Acquire(f.ctx, worker, nil, 0, f.ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[int64]fleet.Lease{}
	for _, l := range ls {
		if l.Token == "" {
			f.t.Fatalf("lease %d granted without a token", l.JobID)
		}
		out[l.JobID] = l
	}
	return out
}

// metadataLease acquires replicator rid's metadata job for worker.
func (f *fleetDB) metadataLease(worker, rid string) fleet.Lease {
	f.t.Helper()
	for _, l := range f.acquire(worker) {
		if l.Kind == fleet.KindMetadata && l.ReplicatorID == rid {
			return l
		}
	}
	f.t.Fatal("no metadata job granted")
	return fleet.Lease{}
}

func (f *fleetDB) report(md fleet.Lease, worker string, topics ...fleet.TopicInfo) fleet.TopologyResult {
	f.t.Helper()
	res, err := f.s.ReportTopology(f.ctx, fleet.Topology{WorkerID: worker, JobID: md.JobID, Epoch: md.Epoch, Token: md.Token,
		SpecVersion: md.SpecVersion, Topics: topics}, f.quota)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func topic(name, id string, partitions int, latest int64) fleet.TopicInfo {
	ti := fleet.TopicInfo{Name: name, ID: id}
	for p := range partitions {
		ti.Partitions = append(ti.Partitions, fleet.PartitionInfo{Partition: int32(p), Latest: latest})
	}
	return ti
}

func report(l fleet.Lease, checkpoint, target int64) fleet.JobReport {
	return fleet.JobReport{JobID: l.JobID, Epoch: l.Epoch, Token: l.Token, SpecVersion: l.SpecVersion, Checkpoint: &checkpoint, TargetCheckpoint: &target}
}

// checkpoints returns topic/partition → (next offset, topic ID).
func (f *fleetDB) checkpoints(rid string) map[string]string {
	f.t.Helper()
	rows, err := f.s.Pool().Query(f.ctx, `SELECT topic, partition, next_offset, topic_id FROM checkpoints WHERE replicator_id = $1`, rid)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var topic, id string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next, &id); err != nil {
			f.t.Fatal(err)
		}
		out[fmt.Sprintf("%s/%d", topic, p)] = fmt.Sprintf("%d@%s", next, id)
	}
	return out
}

func (f *fleetDB) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.s.Pool().QueryRow(f.ctx, query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fleetDB) events(rid string) []fleet.Event {
	f.t.Helper()
	evs, err := f.s.Events(f.ctx, rid, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func hasEvent(evs []fleet.Event, code string) *fleet.Event {
	for i := range evs {
		if evs[i].Code == code {
			return &evs[i]
		}
	}
	return nil
}

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

// TestLeaseTokenRequired (finding 9): with the worker token anyone could
// name any worker and epoch: a forged release with a checkpoint moved a
// partition. Every action under a lease now needs the lease's token: a
// heartbeat, checkpoint, release or topology report without it (or with
// another) changes nothing.
func TestLeaseTokenRequired(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("tokens", replicator.StartEarliest)
	md := f.metadataLease("w1", rid)
	f.report(md, "w1", topic("orders", "ID-O", 1, 10))
	var part fleet.Lease
	for _, l := range f.acquire("w1") {
		part = l
	}
	if _, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{report(part, 5, 5)}, f.ttl); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "not-the-token", md.Token} {
		forged := report(part, 999_999, 999_999)
		forged.Token = tok
		hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{forged}, f.ttl)
		if err != nil || len(hb.Renewed) != 0 || len(hb.Lost) != 1 {
			t.Fatalf("forged heartbeat with token %q: %+v %v", tok, hb, err)
		}
		n, err := f.s.Release(f.ctx, "w1", []fleet.JobReport{forged}, false)
		if err != nil || n != 0 {
			t.Fatalf("forged release with token %q released %d (%v)", tok, n, err)
		}
		if got := f.checkpoints(rid)["orders/0"]; got != "5@ID-O" {
			t.Fatalf("checkpoint %s after a forged release and heartbeat with token %q", got, tok)
		}
		forgedMD := md
		forgedMD.Token = tok
		if tok == md.Token {
			forgedMD.Token = part.Token
		}
		_, err = f.s.ReportTopology(f.ctx, fleet.Topology{WorkerID: "w1", JobID: md.JobID, Epoch: md.Epoch, Token: forgedMD.Token,
			SpecVersion: md.SpecVersion}, f.quota)
		if !errors.Is(err, fleet.ErrLeaseLost) {
			t.Fatalf("forged topology report: %v", err)
		}
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE replicator_id = $1 AND owner = 'w1' AND lease_expires_at > now()`, rid); n != 2 {
		t.Fatalf("w1 holds %d of its 2 jobs after the forgeries", n)
	}
	// The holder itself still can.
	if hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{report(part, 6, 6)}, f.ttl); err != nil || len(hb.Renewed) != 1 {
		t.Fatalf("holder's heartbeat: %+v %v", hb, err)
	}
	if n, err := f.s.Release(f.ctx, "w1", []fleet.JobReport{report(part, 7, 7)}, false); err != nil || n != 1 {
		t.Fatalf("holder's release: %d %v", n, err)
	}
	if got := f.checkpoints(rid)["orders/0"]; got != "7@ID-O" {
		t.Fatalf("checkpoint %s after the holder's release", got)
	}
}

// TestBadReportCostsOnlyItsOwnLease (finding 5): a report that cannot be
// stored (a negative checkpoint, no token) loses only its own lease; a
// huge error message or a flood of notices is cut to the protocol's limits
// instead of failing the request.
func TestBadReportCostsOnlyItsOwnLease(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("bad-report", replicator.StartEarliest)
	md := f.metadataLease("w1", rid)
	f.report(md, "w1", topic("orders", "ID-O", 3, 10))
	var ls []fleet.Lease
	for _, l := range f.acquire("w1") {
		ls = append(ls, l)
	}
	good, bad, loud := report(ls[0], 3, 3), report(ls[1], -7, 3), report(ls[2], 4, 4)
	huge := strings.Repeat("é", 1<<20)
	loud.Error = &fleet.JobError{Code: strings.Repeat("C", 1000), Message: huge, Since: time.Now()}
	for i := range 40 {
		loud.Notices = append(loud.Notices, fleet.Notice{Code: "Flood", Message: fmt.Sprintf("%d %s", i, huge), At: time.Now().Add(time.Duration(i) * time.Millisecond)})
	}
	hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{good, bad, loud, md2report(md)}, f.ttl)
	if err != nil {
		t.Fatal(err)
	}
	if len(hb.Renewed) != 3 || len(hb.Lost) != 1 || hb.Lost[0] != bad.JobID || hb.Refused[bad.JobID] == "" {
		t.Fatalf("heartbeat: %+v", hb)
	}
	jobs, err := f.s.Jobs(f.ctx, rid)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.JobID == loud.JobID {
			if j.Error == nil || len(j.Error.Message) > fleet.MaxMessageBytes || len(j.Error.Code) > fleet.MaxCodeBytes || !strings.HasSuffix(j.Error.Message, "…") {
				t.Fatalf("stored error not cut to the limits: code %d bytes, message %d bytes", len(j.Error.Code), len(j.Error.Message))
			}
		}
	}
	if n := f.count(`SELECT count(*) FROM replicator_events WHERE replicator_id = $1 AND code = 'Flood' AND length(message) <= $2`, rid, fleet.MaxMessageBytes); n != fleet.MaxNoticesPerReport {
		t.Fatalf("%d notices stored, want the first %d, cut", n, fleet.MaxNoticesPerReport)
	}
}

func md2report(md fleet.Lease) fleet.JobReport {
	return fleet.JobReport{JobID: md.JobID, Epoch: md.Epoch, Token: md.Token, SpecVersion: md.SpecVersion}
}

// TestNoticesRecordedOnce: a job's notices become events of its
// replicator's history, in the status endpoint's events; a notice resent
// (the answer to the heartbeat that carried it was lost) is recorded once,
// and a report under a lost lease records none.
func TestNoticesRecordedOnce(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("notices", replicator.StartEarliest)
	md := f.metadataLease("w1", rid)
	f.report(md, "w1", topic("orders", "ID-O", 1, 10))
	var part fleet.Lease
	for _, l := range f.acquire("w1") {
		part = l
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	rep := report(part, 5, 5)
	rep.Notices = []fleet.Notice{{Code: "TargetTopicRecreated", Message: "target topic src.orders was re-created", At: at}}
	for range 3 {
		if hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{rep}, f.ttl); err != nil || len(hb.Renewed) != 1 {
			t.Fatalf("heartbeat: %+v %v", hb, err)
		}
	}
	evs := f.events(rid)
	n := 0
	for _, e := range evs {
		if e.Code == "TargetTopicRecreated" {
			n++
			if !e.At.Equal(at) || e.State != replicator.StateCreating || e.Kind != "notice" {
				t.Fatalf("event %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d events for one notice sent three times", n)
	}
	forged := rep
	forged.Token = "x"
	forged.Notices = []fleet.Notice{{Code: "Forged", Message: "m", At: at}}
	if _, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{forged}, f.ttl); err != nil {
		t.Fatal(err)
	}
	if hasEvent(f.events(rid), "Forged") != nil {
		t.Fatal("a notice without the lease was recorded")
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
