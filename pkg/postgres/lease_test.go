package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// The fenced statements of the lease protocol (lease.go; the topology
// report has topology_test.go), on a real PostgreSQL.

// TestAcquireGrantsAShareOfEachReplicator: a worker is granted free jobs up
// to its share of each replicator's jobs, ceil(jobs / live workers), and
// at most max in total; a worker not seen within the TTL does not count,
// nor does one that left. A job granted to another worker than its last
// owner counts as moved.
func TestAcquireGrantsAShareOfEachReplicator(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("share", replicator.StartEarliest)
	f.report(f.metadataLease("w1", rid), "w1", topic("orders", "ID-O", 5, 10))
	if n, err := f.s.Release(f.ctx, "w1", f.reportsOf("w1"), true); err != nil || n != 1 {
		t.Fatalf("release: %d %v", n, err)
	}
	// w2 takes the metadata job w1 left: a move.
	ls, stats, err := f.s.Acquire(f.ctx, "w2", nil, 1, f.ttl)
	if err != nil || len(ls) != 1 || ls[0].Kind != fleet.KindMetadata || stats != (fleet.AcquireStats{Granted: 1, Moved: 1}) {
		t.Fatalf("first acquire: %+v %+v %v", ls, stats, err)
	}
	// A worker that will die takes a partition job nobody held before: not
	// a move.
	if ls, stats, err = f.s.Acquire(f.ctx, "dead", nil, 1, f.ttl); err != nil || len(ls) != 1 || stats.Moved != 0 {
		t.Fatalf("dead's acquire: %+v %+v %v", ls, stats, err)
	}
	f.release(f.reportsOf("w2", "dead")...)
	f.exec(`UPDATE workers SET last_seen = now() - interval '1 hour' WHERE id = 'dead'`)
	f.exec(`INSERT INTO workers (id) VALUES ('w3')`)

	// Live: w2 and w3. 6 jobs: ceil(6/2) = 3 each; max caps an acquire.
	ls, stats, err = f.s.Acquire(f.ctx, "w2", map[string]string{"host": "a"}, 2, f.ttl)
	if err != nil || len(ls) != 2 || stats != (fleet.AcquireStats{Granted: 2, Moved: 1}) {
		t.Fatalf("acquire with max 2: %+v %+v %v (the job dead held moves)", ls, stats, err)
	}
	if got := len(f.acquire("w2")); got != 1 {
		t.Fatalf("w2 got %d more, want 1 (its share is 3)", got)
	}
	if got := len(f.acquire("w3")); got != 3 {
		t.Fatalf("w3 got %d, want 3", got)
	}
	if got := len(f.acquire("w3")) + len(f.acquire("w2")); got != 0 {
		t.Fatalf("%d more granted over the shares", got)
	}
}

// TestExpiredLeaseRenewsNothing: a worker paused past its lease (a zombie)
// can neither renew nor checkpoint, release or report the topology once it
// wakes; the job was granted again under a new epoch, starting from the
// last checkpoint the holder stored in time.
func TestExpiredLeaseRenewsNothing(t *testing.T) {
	f := newFleetDB(t)
	rid, md, parts := f.started("zombie", "zombie", 2)
	held := map[int64]fleet.Lease{}
	var reps, late []fleet.JobReport
	for _, l := range parts {
		held[l.JobID] = l
		reps = append(reps, report(l, 5, 5))
		late = append(late, report(l, 999_999, 999_999))
	}
	if hb, err := f.s.Heartbeat(f.ctx, "zombie", reps, f.ttl); err != nil || len(hb.Renewed) != 2 {
		t.Fatalf("heartbeat in time: %+v %v", hb, err)
	}
	// Its TTL passes (as if it slept through it), and another worker is
	// granted the jobs.
	f.exec(`UPDATE jobs SET lease_expires_at = now() - interval '1 millisecond' WHERE owner = 'zombie'`)
	f.exec(`UPDATE workers SET last_seen = now() - interval '10 seconds' - interval '1 millisecond' WHERE id = 'zombie'`)
	fresh := f.acquire("fresh")
	if len(fresh) != 3 {
		t.Fatalf("fresh got %d jobs, want 3", len(fresh))
	}
	for id, l := range fresh {
		if old, ok := held[id]; ok && (l.Epoch <= old.Epoch || l.StartOffset != 5) {
			t.Fatalf("job %d granted again under epoch %d (was %d) from offset %d, want a later epoch from 5", id, l.Epoch, old.Epoch, l.StartOffset)
		}
	}
	hb, err := f.s.Heartbeat(f.ctx, "zombie", append(late, md2report(md)), f.ttl)
	if err != nil || len(hb.Renewed) != 0 || len(hb.Lost) != 3 {
		t.Fatalf("zombie heartbeat: %+v %v", hb, err)
	}
	if n, err := f.s.Release(f.ctx, "zombie", late, false); err != nil || n != 0 {
		t.Fatalf("zombie release freed %d (%v)", n, err)
	}
	if _, err := f.s.ReportTopology(f.ctx, fleet.Topology{WorkerID: "zombie", JobID: md.JobID, Epoch: md.Epoch, Token: md.Token,
		SpecVersion: md.SpecVersion}, f.quota); !errors.Is(err, fleet.ErrLeaseLost) {
		t.Fatalf("zombie topology report: %v", err)
	}
	if got := f.checkpoints(rid); got["orders/0"] != "5@ID-O" || got["orders/1"] != "5@ID-O" {
		t.Fatalf("checkpoints %v after the zombie woke", got)
	}
	if n := f.count(`SELECT count(*) FROM jobs WHERE owner = 'fresh' AND lease_expires_at > now()`); n != 3 {
		t.Fatalf("fresh holds %d of its 3 jobs", n)
	}
}

// TestReleaseFreesAtOnce: a release stores the final checkpoints and frees
// the jobs at once (no TTL to wait); a leaving worker is forgotten, so it
// no longer counts when jobs are shared out.
func TestReleaseFreesAtOnce(t *testing.T) {
	f := newFleetDB(t)
	f.started("release", "w1", 3)
	if _, _, err := f.s.Acquire(f.ctx, "w2", nil, 0, f.ttl); err != nil {
		t.Fatal(err)
	}
	var reps []fleet.JobReport
	for _, r := range f.reportsOf("w1") {
		cp := int64(7)
		r.Checkpoint, r.TargetCheckpoint = &cp, &cp
		reps = append(reps, r)
	}
	n, err := f.s.Release(f.ctx, "w1", reps, true)
	if err != nil || n != 4 {
		t.Fatalf("release: %d %v", n, err)
	}
	if n := f.count(`SELECT count(*) FROM workers WHERE id = 'w1'`); n != 0 {
		t.Fatal("a leaving worker is still known")
	}
	// w2 is the only live worker: its share is every job.
	got := f.acquire("w2")
	if len(got) != 4 {
		t.Fatalf("w2 got %d jobs, want all 4", len(got))
	}
	for _, l := range got {
		if l.Kind == fleet.KindPartition && l.StartOffset != 7 {
			t.Fatalf("lease %+v: want to resume at the released checkpoint 7", l)
		}
	}
}

// TestLeaseRace has many workers race for the same jobs with a short TTL
// through the store, while the leader's maintenance frees expired leases
// and rebalances, and checks from the grants and renewals the database
// answered that no two owners ever held a valid lease on a job at once.
func TestLeaseRace(t *testing.T) {
	f := newFleetDB(t)
	ttl := 300 * time.Millisecond
	f.ttl = ttl
	// A seed worker brings the replicator's jobs into being and dies: its
	// metadata lease expires.
	rid := f.create("race", replicator.StartEarliest)
	f.report(f.metadataLease("seed", rid), "seed", topic("orders", "ID-O", 20, 100))
	if n := f.count(`SELECT count(*) FROM jobs`); n != 21 {
		t.Fatalf("%d jobs, want 21", n)
	}
	type grant struct {
		worker  string
		epoch   int64
		token   string
		from    time.Time // server time of the grant (expiry − TTL)
		until   time.Time // latest expiry the server answered
		renewed int
	}
	var mu sync.Mutex
	grants := map[int64][]*grant{}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Scale(6*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	// The leader's lease maintenance, every 100 ms as its tick.
	wg.Go(func() {
		for ctx.Err() == nil {
			_, _ = f.s.ExpireLeases(ctx)
			_, _ = f.s.Rebalance(ctx, ttl)
			time.Sleep(100 * time.Millisecond)
		}
	})
	for i := range 16 {
		wg.Go(func() {
			id := fmt.Sprintf("racer-%d", i)
			held := map[int64]*grant{}
			for round := int64(0); ctx.Err() == nil; round++ {
				ls, _, err := f.s.Acquire(ctx, id, nil, 0, ttl)
				if err != nil {
					continue
				}
				mu.Lock()
				for _, l := range ls {
					g := &grant{worker: id, epoch: l.Epoch, token: l.Token, from: l.ExpiresAt.Add(-ttl), until: l.ExpiresAt}
					grants[l.JobID] = append(grants[l.JobID], g)
					held[l.JobID] = g
				}
				mu.Unlock()
				// Renew some, let others lapse: a job goes six rounds
				// (at least 300 ms, the TTL) without renewal, then six with,
				// so that leases lapse however fast the database answers.
				var reps []fleet.JobReport
				for jid, g := range held {
					if (jid+int64(i)+round/6)%2 == 0 {
						reps = append(reps, fleet.JobReport{JobID: jid, Epoch: g.epoch, Token: g.token})
					}
				}
				time.Sleep(time.Duration(50+i*13%120) * time.Millisecond)
				res, err := f.s.Heartbeat(ctx, id, reps, ttl)
				if err != nil {
					continue
				}
				mu.Lock()
				for _, jid := range res.Renewed {
					held[jid].until, held[jid].renewed = res.ExpiresAt, held[jid].renewed+1
				}
				mu.Unlock()
				for _, jid := range res.Lost {
					delete(held, jid)
				}
			}
		})
	}
	wg.Wait()
	total, renewals := 0, 0
	for job, gs := range grants {
		for i := 1; i < len(gs); i++ {
			prev, cur := gs[i-1], gs[i]
			if cur.epoch <= prev.epoch {
				t.Errorf("job %d: epoch went from %d to %d", job, prev.epoch, cur.epoch)
			}
			if cur.from.Before(prev.until) {
				t.Errorf("job %d: %s got epoch %d at %s while %s's epoch %d was valid until %s",
					job, cur.worker, cur.epoch, cur.from.Format("15:04:05.000"), prev.worker, prev.epoch, prev.until.Format("15:04:05.000"))
			}
		}
		total += len(gs)
		for _, g := range gs {
			renewals += g.renewed
		}
	}
	if total < 60 || renewals < 100 {
		t.Fatalf("too little contention to prove anything: %d grants, %d renewals", total, renewals)
	}
	t.Logf("%d grants and %d renewals over %d jobs, no overlap", total, renewals, len(grants))
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

// TestNULInOneReportCostsNoOtherLease: the text of a report (an error
// message, a notice, the target topic of the progress) comes in part from
// the clusters a tenant controls: a broker's error message, a topic name
// from the source's metadata. PostgreSQL refuses U+0000 in text and jsonb,
// so one report carrying it must not make the whole heartbeat fail: the
// other reports of the request (other replicators' jobs, other accounts')
// must still renew their leases.
func TestNULInOneReportCostsNoOtherLease(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(r *fleet.JobReport)
	}{
		{"error message", func(r *fleet.JobReport) {
			r.Error = &fleet.JobError{Code: "SourceUnreachable", Message: "broker said \x00 bye", Since: time.Now()}
		}},
		{"error code", func(r *fleet.JobReport) {
			r.Error = &fleet.JobError{Code: "X\x00", Message: "m", Since: time.Now()}
		}},
		{"notice message", func(r *fleet.JobReport) {
			r.Notices = []fleet.Notice{{Code: "TargetTopicRecreated", Message: "topic a\x00b re-created", At: time.Now()}}
		}},
		{"progress target topic", func(r *fleet.JobReport) {
			r.Progress = &fleet.PartitionProgress{TargetTopic: "src.a\x00b", LastOffset: 1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleetDB(t)
			victim := f.create("victim", replicator.StartEarliest)
			hostile := f.create("hostile", replicator.StartEarliest)
			var vl, hl fleet.Lease
			for _, l := range f.acquire("w1") {
				switch l.ReplicatorID {
				case victim:
					vl = l
				case hostile:
					hl = l
				}
			}
			if vl.JobID == 0 || hl.JobID == 0 {
				t.Fatal("metadata jobs not granted")
			}
			bad := md2report(hl)
			tc.set(&bad)
			hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{md2report(vl), bad}, f.ttl)
			if err != nil {
				t.Fatalf("one report with a NUL failed the whole heartbeat (every lease in it is lost): %v", err)
			}
			renewed := false
			for _, id := range hb.Renewed {
				if id == vl.JobID {
					renewed = true
				}
			}
			if !renewed {
				t.Fatalf("the other replicator's lease was not renewed: %+v", hb)
			}
		})
	}
}
