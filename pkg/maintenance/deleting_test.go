package maintenance

import (
	"context"
	"testing"
)

// TestDeletesRevokeThenPurge: at every tick the jobs of deleted
// replicators are revoked (counted in replicator_leases_revoked_total),
// then the deleted replicators nobody holds a job of are removed, whether
// anything was revoked or not.
func TestDeletesRevokeThenPurge(t *testing.T) {
	store := &fakeStore{lead: true, revoked: 4}
	m, _, _, reg := newTest(store)
	ctx := context.Background()
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	store.revoked = 0
	store.reset() // the same instant: no rebalancing or pruning

	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := store.called(), "TryLead ExpireLeases RevokeDeleting PurgeDeleted Health"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if v := metric(t, reg, "replicator_leases_revoked_total"); v != 4 {
		t.Fatalf("replicator_leases_revoked_total %v, want 4", v)
	}
}
