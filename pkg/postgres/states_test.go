package postgres_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestHealthSaysWhatJobsReport: the state machine's read counts each
// replicator's jobs and those leased, heartbeating and on the current
// spec, says whether the topology of the spec is known, and gives the
// oldest error of a leased job (a fatal one first, to explain the state).
// Errors of jobs whose lease expired do not count; replicators being
// deleted are left out.
func TestHealthSaysWhatJobsReport(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("health", replicator.StartEarliest)
	doomed := f.create("doomed", replicator.StartEarliest)
	if _, err := f.s.DeleteReplicator(f.ctx, account, f.arn("doomed"), ""); err != nil {
		t.Fatal(err)
	}
	health := func() fleet.ReplicatorHealth {
		t.Helper()
		hs, err := f.s.Health(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].ID != rid {
			t.Fatalf("health of %+v, want only %s (not the deleted %s)", hs, rid, doomed)
		}
		return hs[0]
	}
	if h := health(); h.Jobs != 1 || h.Running != 0 || h.TopoVer != 0 || h.SpecVersion != 1 || h.State != replicator.StateCreating || h.FailingSince != nil {
		t.Fatalf("new replicator: %+v", h)
	}
	md := f.metadataLease("w1", rid)
	f.report(md, "w1", topic("orders", "ID-O", 2, 10))
	ls := slices.Collect(maps.Values(f.acquire("w1")))
	reps := []fleet.JobReport{md2report(md), report(ls[0], 1, 1), report(ls[1], 1, 1)}
	if _, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Jobs != 3 || h.Running != 3 || h.TopoVer != 1 || h.FailingSince != nil {
		t.Fatalf("every job running: %+v", h)
	}
	old := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Millisecond)
	reps[1].Error = &fleet.JobError{Code: "SourceUnreachable", Message: "broker down", Since: old}
	reps[2].Error = &fleet.JobError{Code: "RecordTooLarge", Message: "record at offset 7", Since: time.Now(), Fatal: true}
	if _, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl); err != nil {
		t.Fatal(err)
	}
	h := health()
	if h.FailingSince == nil || !h.FailingSince.Equal(old) || !h.Fatal || h.FailCode != "RecordTooLarge" || h.FailMessage != "record at offset 7" {
		t.Fatalf("failing jobs: %+v (since %v)", h, h.FailingSince)
	}
	f.exec(`UPDATE jobs SET lease_expires_at = now() - interval '1 millisecond' WHERE id = ANY($1)`, []int64{ls[0].JobID, ls[1].JobID})
	if h := health(); h.FailingSince != nil || h.Fatal || h.Running != 1 {
		t.Fatalf("errors of expired leases counted: %+v", h)
	}
}

// TestSetStateOnlyFromTheStateSeen: the state machine's write changes a
// replicator only from the state and spec version it read, and only when
// something changes; each change is recorded in the history.
func TestSetStateOnlyFromTheStateSeen(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("states", replicator.StartEarliest)
	set := func(from replicator.State, specVersion int64, to replicator.State, code string) bool {
		t.Helper()
		ok, err := f.s.SetState(f.ctx, rid, from, specVersion, to, code, "message of "+code)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !set(replicator.StateCreating, 1, replicator.StateRunning, "") {
		t.Fatal("CREATING → RUNNING not made")
	}
	if set(replicator.StateCreating, 1, replicator.StateRunning, "") {
		t.Fatal("made again from a state the replicator left")
	}
	if set(replicator.StateRunning, 2, replicator.StateFailed, "X") {
		t.Fatal("made from another spec version (an update came in between)")
	}
	if set(replicator.StateRunning, 1, replicator.StateRunning, "") {
		t.Fatal("a change that changes nothing was made")
	}
	if !set(replicator.StateRunning, 1, replicator.StateFailed, "X") || !set(replicator.StateFailed, 1, replicator.StateFailed, "Y") {
		t.Fatal("RUNNING → FAILED, or FAILED with another code, not made")
	}
	var got []string
	for _, e := range f.events(rid) {
		got = append(got, string(e.State)+" "+e.Code)
	}
	if want := []string{"FAILED Y", "FAILED X", "RUNNING ", "CREATING "}; !slices.Equal(got, want) {
		t.Fatalf("history %q, want %q", got, want)
	}
}
