package maintenance

import (
	"context"
	"strings"
	"testing"
)

// TestExpiredLeasesAreCounted: the leases the store frees because they
// expired are counted in replicator_leases_expired_total and logged; a
// tick that frees none logs nothing.
func TestExpiredLeasesAreCounted(t *testing.T) {
	store := &fakeStore{lead: true, expired: 3}
	m, _, log, reg := newTest(store)
	ctx := context.Background()
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	store.expired = 0
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if v := metric(t, reg, "replicator_leases_expired_total"); v != 3 {
		t.Fatalf("replicator_leases_expired_total %v, want 3", v)
	}
	if n := strings.Count(log.String(), `msg="scheduler: leases expired" count=3`); n != 1 {
		t.Fatalf("%d lines for the expired leases, want 1:\n%s", n, log)
	}
	if strings.Contains(log.String(), "count=0") {
		t.Fatalf("a tick that freed nothing logged:\n%s", log)
	}
}
