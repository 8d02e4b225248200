package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// StateStore is what the state machine reads and writes.
type StateStore interface {
	// Health returns every replicator that is not being deleted, with what
	// its jobs say.
	Health(ctx context.Context) ([]fleet.ReplicatorHealth, error)
	// SetState moves a replicator from state from (at spec version
	// specVersion) to st, and reports false if it moved on meanwhile.
	SetState(ctx context.Context, id string, from replicator.State, specVersion int64, st replicator.State, code, msg string) (bool, error)
}

// stateMachine moves each replicator to the state its jobs justify:
// RUNNING once the topology of its current spec is known and every job is
// leased, heartbeating and on the current spec without an error; FAILED
// when a job reports an error for failAfter, or a fatal one (a record the
// target refuses, a quota) at once; back to RUNNING when the errors clear.
// Otherwise a replicator keeps its state (CREATING, UPDATING, ...).
type stateMachine struct {
	store       StateStore
	failAfter   time.Duration
	log         *slog.Logger
	transitions *prometheus.CounterVec
}

func newStateMachine(store StateStore, failAfter time.Duration, log *slog.Logger) *stateMachine {
	return &stateMachine{store: store, failAfter: failAfter, log: log,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_state_transitions_total",
			Help: "Replicator state changes made by the scheduler, by new state."}, []string{"state"})}
}

// next returns the state, code and message h's jobs justify at now.
func (m *stateMachine) next(h fleet.ReplicatorHealth, now time.Time) (replicator.State, string, string) {
	failing := h.FailingSince != nil && (h.Fatal || now.Sub(*h.FailingSince) >= m.failAfter)
	allRunning := h.TopoVer == h.SpecVersion && h.Jobs > 0 && h.Running == h.Jobs
	switch {
	case failing:
		return replicator.StateFailed, h.FailCode, h.FailMessage
	case allRunning && h.FailingSince == nil:
		return replicator.StateRunning, "", ""
	}
	return h.State, h.StateCode, h.StateMsg
}

func (m *stateMachine) run(ctx context.Context, now time.Time) error {
	hs, err := m.store.Health(ctx)
	if err != nil {
		return err
	}
	for _, h := range hs {
		next, code, msg := m.next(h, now)
		if next == h.State && code == h.StateCode && msg == h.StateMsg {
			continue
		}
		changed, err := m.store.SetState(ctx, h.ID, h.State, h.SpecVersion, next, code, msg)
		if err != nil {
			return err
		}
		if changed {
			m.transitions.WithLabelValues(string(next)).Inc()
			m.log.Info("scheduler: replicator state changed", "replicator", h.Name, "account", h.AccountID,
				"from", h.State, "to", next, "code", code, "message", msg)
		}
	}
	return nil
}
