package maintenance

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRebalanceAtMostOnceASecond: rebalancing looks at every lease, so the
// leader does it at most once a second (ticks are every 100 ms here), with
// the lease TTL as the window in which a worker counts as live.
func TestRebalanceAtMostOnceASecond(t *testing.T) {
	store := &fakeStore{lead: true, moved: 2}
	m, clock, _, reg := newTest(store)
	ctx := context.Background()
	rebalances := 0
	for range 21 { // ticks from 0 to 2 s: rebalances at 0, 1 s and 2 s
		store.reset()
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(store.called(), "Rebalance") {
			rebalances++
		}
		clock.advance(100 * time.Millisecond)
	}
	if rebalances != 3 {
		t.Fatalf("%d rebalances in 2 s, want 3", rebalances)
	}
	if store.rebalanceTTL != 7*time.Second {
		t.Fatalf("rebalanced with a live window of %s, want the lease TTL (7s)", store.rebalanceTTL)
	}
	if v := metric(t, reg, "replicator_leases_revoked_total"); v != 6 {
		t.Fatalf("replicator_leases_revoked_total %v, want 6", v)
	}
}
