package postgres_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestDeletingReplicatorRevokedThenPurged: a deleted replicator's jobs are
// granted to nobody; their holders are asked once to give them back (the
// heartbeat says so); the replicator is removed once no lease on its jobs
// is left, and a deleted replicator that nobody held is removed at once.
func TestDeletingReplicatorRevokedThenPurged(t *testing.T) {
	f := newFleetDB(t)
	held := f.create("held", replicator.StartEarliest)
	md := f.metadataLease("w1", held)
	f.create("unheld", replicator.StartEarliest)
	for _, name := range []string{"held", "unheld"} {
		if _, err := f.s.DeleteReplicator(f.ctx, account, f.arn(name), ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.acquire("w2"); len(got) != 0 {
		t.Fatalf("jobs of deleted replicators granted: %v", got)
	}
	if n, err := f.s.RevokeDeleting(f.ctx); err != nil || n != 1 {
		t.Fatalf("RevokeDeleting: %d %v, want 1", n, err)
	}
	if n, err := f.s.RevokeDeleting(f.ctx); err != nil || n != 0 {
		t.Fatalf("RevokeDeleting again: %d %v, want 0", n, err)
	}
	hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{md2report(md)}, f.ttl)
	if err != nil || !slices.Equal(hb.Revoke, []int64{md.JobID}) {
		t.Fatalf("heartbeat: %+v %v, want the job revoked", hb, err)
	}
	if n, err := f.s.PurgeDeleted(f.ctx); err != nil || n != 1 {
		t.Fatalf("PurgeDeleted: %d %v, want 1 (the replicator nobody held)", n, err)
	}
	f.release(md2report(md))
	if n, err := f.s.PurgeDeleted(f.ctx); err != nil || n != 1 {
		t.Fatalf("PurgeDeleted after the release: %d %v, want 1", n, err)
	}
	if n := f.count(`SELECT count(*) FROM replicators`) + f.count(`SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("%d replicators and jobs left", n)
	}
	if _, err := f.s.ReplicatorSpec(f.ctx, held); !errors.Is(err, replicator.ErrNotFound) {
		t.Fatalf("spec of a purged replicator: %v", err)
	}
}
