package postgres_test

import (
	"testing"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestExpireLeases frees the jobs whose lease expired (remembering their
// last owner), and only those.
func TestExpireLeases(t *testing.T) {
	f := newFleetDB(t)
	dead := f.create("dead", replicator.StartEarliest)
	f.create("live", replicator.StartEarliest)
	if got := len(f.acquire("w1")); got != 2 {
		t.Fatalf("w1 got %d jobs, want 2", got)
	}
	f.exec(`UPDATE jobs SET lease_expires_at = now() - interval '1 millisecond' WHERE replicator_id = $1`, dead)
	n, err := f.s.ExpireLeases(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireLeases: %d %v, want 1", n, err)
	}
	if got := f.count(`SELECT count(*) FROM jobs WHERE replicator_id = $1 AND owner IS NULL AND lease_token IS NULL
		AND lease_expires_at IS NULL AND last_owner = 'w1'`, dead); got != 1 {
		t.Fatal("the expired job is not free, or forgot its last owner")
	}
	if got := f.count(`SELECT count(*) FROM jobs WHERE replicator_id <> $1 AND owner = 'w1'`, dead); got != 1 {
		t.Fatal("a live lease was freed")
	}
	if n, err := f.s.ExpireLeases(f.ctx); err != nil || n != 0 {
		t.Fatalf("ExpireLeases again: %d %v, want 0", n, err)
	}
}
