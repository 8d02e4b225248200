package maintenance

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOnlyTheLeaderWorks: a replica that does not hold the leader lease
// only asks for it; one that does works. The lease is asked for at every
// tick for a few ticks' time (4 ticks + 1 s), and each change of
// leadership is logged once and shown in replicator_scheduler_leader.
func TestOnlyTheLeaderWorks(t *testing.T) {
	store := &fakeStore{}
	m, _, log, reg := newTest(store)
	ctx := context.Background()
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.called(); got != "TryLead" {
		t.Fatalf("a replica that does not lead called %q", got)
	}
	if store.leadTTL != 4*100*time.Millisecond+time.Second {
		t.Fatalf("leader lease TTL %s, want 1.4s", store.leadTTL)
	}
	if v := metric(t, reg, "replicator_scheduler_leader"); v != 0 {
		t.Fatalf("replicator_scheduler_leader %v before leading", v)
	}

	store.lead = true
	for range 2 {
		store.reset()
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if got := store.called(); !strings.HasPrefix(got, "TryLead ExpireLeases") {
			t.Fatalf("the leader called %q", got)
		}
	}
	if v := metric(t, reg, "replicator_scheduler_leader"); v != 1 {
		t.Fatalf("replicator_scheduler_leader %v while leading", v)
	}

	store.lead = false
	store.reset()
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.called(); got != "TryLead" {
		t.Fatalf("a replica that lost the lease called %q", got)
	}
	if v := metric(t, reg, "replicator_scheduler_leader"); v != 0 {
		t.Fatalf("replicator_scheduler_leader %v after losing the lease", v)
	}
	if n := strings.Count(log.String(), `msg="scheduler: leadership changed"`); n != 2 {
		t.Fatalf("%d leadership changes logged, want 2:\n%s", n, log)
	}
}
