package postgres_test

import (
	"slices"
	"testing"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// TestRebalanceRevokesOnlyTheExcess: a worker over its share of a
// replicator's jobs (ceil(jobs / live workers)) is asked to give back the
// excess, keeping the metadata job and its oldest grants; a worker not
// seen within the TTL does not count; a job is asked for once.
func TestRebalanceRevokesOnlyTheExcess(t *testing.T) {
	f := newFleetDB(t)
	_, _, held := f.started("rebalance", "w1", 5)
	// Newer grants: the partitions, by job ID.
	var parts []int64
	for _, l := range held {
		parts = append(parts, l.JobID)
	}
	slices.Sort(parts)
	f.exec(`INSERT INTO workers (id) VALUES ('w2')`)
	f.exec(`INSERT INTO workers (id, last_seen) VALUES ('gone', now() - interval '1 hour')`)

	// 6 jobs, 2 live workers: w1 keeps 3 (the metadata job and its two
	// oldest partitions).
	n, err := f.s.Rebalance(f.ctx, f.ttl)
	if err != nil || n != 3 {
		t.Fatalf("Rebalance: %d %v, want 3", n, err)
	}
	reps := f.reportsOf("w1")
	hb, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(hb.Revoke)
	if !slices.Equal(hb.Revoke, parts[2:]) {
		t.Fatalf("revoked %v, want the 3 newest grants %v", hb.Revoke, parts[2:])
	}
	if n, err := f.s.Rebalance(f.ctx, f.ttl); err != nil || n != 0 {
		t.Fatalf("Rebalance again: %d %v, want 0 (already asked)", n, err)
	}
	// Given back and taken by w2: nothing more to move.
	var back []fleet.JobReport
	for _, r := range reps {
		if slices.Contains(hb.Revoke, r.JobID) {
			back = append(back, r)
		}
	}
	f.release(back...)
	if got := len(f.acquire("w2")); got != 3 {
		t.Fatalf("w2 got %d jobs, want 3", got)
	}
	if n, err := f.s.Rebalance(f.ctx, f.ttl); err != nil || n != 0 {
		t.Fatalf("Rebalance when balanced: %d %v, want 0", n, err)
	}
}
