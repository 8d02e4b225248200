package maintenance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTickRunsEachServiceInOrder: a leader's tick runs every service, in
// the order of package maintenance's doc, and counts the leases revoked
// for deletes and rebalancing together.
func TestTickRunsEachServiceInOrder(t *testing.T) {
	store := &fakeStore{lead: true, revoked: 2, moved: 3}
	m, _, log, reg := newTest(store)
	if err := m.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "TryLead ExpireLeases RevokeDeleting PurgeDeleted Rebalance PruneMappings Health"
	if got := store.called(); got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if v := metric(t, reg, "replicator_leases_revoked_total"); v != 5 {
		t.Fatalf("replicator_leases_revoked_total %v, want 5", v)
	}
	if !strings.Contains(log.String(), `msg="scheduler: leases revoked" rebalance=3 deleting=2`) {
		t.Fatalf("log:\n%s", log)
	}
}

// TestTickStopsAtTheFirstFailure: a service that fails ends the round with
// its error; the services after it wait for the next tick.
func TestTickStopsAtTheFirstFailure(t *testing.T) {
	order := []string{"TryLead", "ExpireLeases", "RevokeDeleting", "PurgeDeleted", "Rebalance", "PruneMappings", "Health"}
	for i, name := range order {
		t.Run(name, func(t *testing.T) {
			boom := errors.New("boom")
			store := &fakeStore{lead: true, failOn: name, err: boom}
			m, _, _, _ := newTest(store)
			if err := m.Tick(context.Background()); !errors.Is(err, boom) {
				t.Fatalf("Tick: %v, want %v", err, boom)
			}
			if got, want := store.called(), strings.Join(order[:i+1], " "); got != want {
				t.Fatalf("calls %q, want %q", got, want)
			}
		})
	}
}

// TestRunLogsFailedTicksUntilCanceled: Run ticks until its context ends,
// logging a tick that failed, and returns nil.
func TestRunLogsFailedTicksUntilCanceled(t *testing.T) {
	store := &fakeStore{failOn: "TryLead", err: errors.New("database down")}
	log, buf := newLog()
	m := New(store, Config{Tick: time.Millisecond, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), `msg="scheduler: tick failed" err="database down"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed tick logged:\n%s", buf)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
