package postgres_test

import (
	"testing"
	"time"
)

// TestLeaderLease: one holder of a role at a time; it keeps the lease
// while it renews, another takes it once it expired (a new term), and
// roles are independent.
func TestLeaderLease(t *testing.T) {
	f := newFleetDB(t)
	lead := func(role, holder string) bool {
		t.Helper()
		ok, err := f.s.TryLead(f.ctx, role, holder, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	term := func() int {
		t.Helper()
		return f.count(`SELECT term FROM leaders WHERE role = 'scheduler'`)
	}
	if !lead("scheduler", "a") || lead("scheduler", "b") || !lead("scheduler", "a") {
		t.Fatal("a did not lead alone while renewing")
	}
	if term() != 1 {
		t.Fatalf("term %d while a renews, want 1", term())
	}
	if !lead("other-role", "b") {
		t.Fatal("another role's lease is taken by the first")
	}
	// a stops renewing: its lease expires.
	f.exec(`UPDATE leaders SET expires_at = now() - interval '1 millisecond' WHERE role = 'scheduler'`)
	if !lead("scheduler", "b") || lead("scheduler", "a") {
		t.Fatal("b did not take the expired lease alone")
	}
	if term() != 2 {
		t.Fatalf("term %d after b took over, want 2", term())
	}
}
