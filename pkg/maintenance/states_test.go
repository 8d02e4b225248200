package maintenance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestStateMachine: each replicator moves to the state its jobs justify,
// FailAfter being 30 s.
func TestStateMachine(t *testing.T) {
	c := newClock()
	healthy := func(st replicator.State) fleet.ReplicatorHealth {
		return fleet.ReplicatorHealth{ID: "r", State: st, SpecVersion: 2, TopoVer: 2, Jobs: 3, Running: 3}
	}
	with := func(h fleet.ReplicatorHealth, f func(*fleet.ReplicatorHealth)) fleet.ReplicatorHealth {
		f(&h)
		return h
	}
	failing := func(h fleet.ReplicatorHealth, since time.Duration, fatal bool) fleet.ReplicatorHealth {
		return with(h, func(h *fleet.ReplicatorHealth) {
			h.FailingSince, h.Fatal, h.FailCode, h.FailMessage = c.ago(since), fatal, "SourceUnreachable", "broker down"
		})
	}
	for _, tc := range []struct {
		name string
		h    fleet.ReplicatorHealth
		want string // "" if the state stays
	}{
		{"every job running: RUNNING", healthy(replicator.StateCreating), "r CREATING→RUNNING "},
		{"updated and running the new spec: RUNNING", healthy(replicator.StateUpdating), "r UPDATING→RUNNING "},
		{"topology of the spec not reported yet", with(healthy(replicator.StateCreating), func(h *fleet.ReplicatorHealth) { h.TopoVer = 1 }), ""},
		{"a job not running", with(healthy(replicator.StateCreating), func(h *fleet.ReplicatorHealth) { h.Running = 2 }), ""},
		{"no jobs", with(healthy(replicator.StateCreating), func(h *fleet.ReplicatorHealth) { h.Jobs, h.Running = 0, 0 }), ""},
		{"failing for less than FailAfter", failing(healthy(replicator.StateRunning), 29*time.Second, false), ""},
		{"failing for FailAfter: FAILED", failing(healthy(replicator.StateRunning), 30*time.Second, false), "r RUNNING→FAILED SourceUnreachable"},
		{"fatal: FAILED at once", failing(healthy(replicator.StateCreating), 0, true), "r CREATING→FAILED SourceUnreachable"},
		{"failing with another error: FAILED with it", with(failing(healthy(replicator.StateFailed), time.Minute, false), func(h *fleet.ReplicatorHealth) {
			h.StateCode = "OldError"
		}), "r FAILED→FAILED SourceUnreachable"},
		{"still failing with the same error", with(failing(healthy(replicator.StateFailed), time.Minute, false), func(h *fleet.ReplicatorHealth) {
			h.StateCode, h.StateMsg = "SourceUnreachable", "broker down"
		}), ""},
		{"errors cleared: RUNNING again", with(healthy(replicator.StateFailed), func(h *fleet.ReplicatorHealth) {
			h.StateCode, h.StateMsg = "SourceUnreachable", "broker down"
		}), "r FAILED→RUNNING "},
		{"failing but not for FailAfter: not RUNNING", failing(healthy(replicator.StateCreating), time.Second, false), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeStore{health: []fleet.ReplicatorHealth{tc.h}}
			log, _ := newLog()
			sm := newStateMachine(store, 30*time.Second, log)
			if err := sm.run(context.Background(), c.now()); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(store.states, "; "); got != tc.want {
				t.Fatalf("SetState calls %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStateChangesCountedOnlyWhenMade: a change the store did not make
// (the replicator moved on meanwhile: an update, a delete, another
// leader) is neither counted nor logged; one it made is, by new state.
func TestStateChangesCountedOnlyWhenMade(t *testing.T) {
	store := &fakeStore{lead: true}
	for i := range 4 {
		store.health = append(store.health, fleet.ReplicatorHealth{ID: fmt.Sprint(i), Name: fmt.Sprintf("r%d", i),
			State: replicator.StateCreating, SpecVersion: 1, TopoVer: 1, Jobs: 1, Running: 1})
	}
	store.setState = func(id string, _ replicator.State, _ replicator.State, _, _ string) bool { return id != "2" }
	m, _, log, reg := newTest(store)
	if err := m.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(store.states) != 4 {
		t.Fatalf("SetState calls %v", store.states)
	}
	if v := metric(t, reg, "replicator_state_transitions_total", "RUNNING"); v != 3 {
		t.Fatalf("replicator_state_transitions_total{state=RUNNING} %v, want 3", v)
	}
	if n := strings.Count(log.String(), `msg="scheduler: replicator state changed"`); n != 3 || strings.Contains(log.String(), "replicator=r2") {
		t.Fatalf("%d state changes logged, want 3 and none for r2:\n%s", n, log)
	}
}
