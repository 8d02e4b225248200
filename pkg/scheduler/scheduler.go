// Package scheduler runs the control plane's periodic work under a leader
// lease, so that any number of `serve` replicas can share one database: it
// frees expired leases, spreads jobs over the live workers (rebalance),
// releases the jobs of deleted replicators, and drives each replicator's
// state from what its jobs report (CREATING/UPDATING → RUNNING, FAILED and
// back). Granting leases is not periodic: workers ask, and any replica
// answers (see package fleet).
package scheduler

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// Store is what the scheduler needs from persistence.
type Store interface {
	TryLead(ctx context.Context, role, holder string, ttl time.Duration) (bool, error)
	ExpireLeases(ctx context.Context) (int, error)
	Rebalance(ctx context.Context, ttl time.Duration) (int, error)
	RevokeDeleting(ctx context.Context) (int, error)
	PurgeDeleted(ctx context.Context) (int64, error)
	Health(ctx context.Context) ([]fleet.ReplicatorHealth, error)
	SetState(ctx context.Context, id string, from replicator.State, specVersion int64, st replicator.State, code, msg string) (bool, error)
	PruneMappings(ctx context.Context, maxAge time.Duration) (int, error)
}

// Config tunes the scheduler.
type Config struct {
	// LeaseTTL is the lease time-to-live of jobs (default 10s); a worker is
	// live while it was seen within it.
	LeaseTTL time.Duration
	// Tick is how often the leader works (default 250ms).
	Tick time.Duration
	// FailAfter is how long a job may report an error before its
	// replicator is FAILED (default 30s).
	FailAfter time.Duration
	Logger    *slog.Logger
	Registry  prometheus.Registerer
}

// Scheduler runs the control plane's periodic work.
type Scheduler struct {
	store      Store
	cfg        Config
	id         string
	leading    bool
	pruned     time.Time
	rebalanced time.Time
	metrics    *metrics
}

type metrics struct {
	expired, revoked prometheus.Counter
	transitions      *prometheus.CounterVec
	leader           prometheus.Gauge
}

// New returns a scheduler over store.
func New(store Store, cfg Config) *Scheduler {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &metrics{
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_leases_expired_total",
			Help: "Leases that expired without being renewed or released (a worker died or stalled)."}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_leases_revoked_total",
			Help: "Leases the scheduler asked workers to give back (rebalance or deletion)."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_state_transitions_total",
			Help: "Replicator state changes made by the scheduler, by new state."}, []string{"state"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "replicator_scheduler_leader",
			Help: "1 if this control-plane replica holds the scheduler's leader lease."}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(m.expired, m.revoked, m.transitions, m.leader)
	}
	return &Scheduler{store: store, cfg: cfg, id: uuid.NewString(), metrics: m}
}

// Run works until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("scheduler: tick failed", "err", err)
			}
		}
	}
}

// Tick does one round of the leader's work if this replica leads.
func (s *Scheduler) Tick(ctx context.Context) error {
	lead, err := s.store.TryLead(ctx, "scheduler", s.id, 4*s.cfg.Tick+time.Second)
	if err != nil {
		return err
	}
	if lead != s.leading {
		s.cfg.Logger.Info("scheduler: leadership changed", "leader", lead, "replica", s.id)
		s.leading = lead
		s.metrics.leader.Set(map[bool]float64{true: 1}[lead])
	}
	if !lead {
		return nil
	}
	n, err := s.store.ExpireLeases(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		s.metrics.expired.Add(float64(n))
		s.cfg.Logger.Info("scheduler: leases expired", "count", n)
	}
	rev, err := s.store.RevokeDeleting(ctx)
	if err != nil {
		return err
	}
	if _, err := s.store.PurgeDeleted(ctx); err != nil {
		return err
	}
	// Rebalancing looks at every lease; once a second is often enough
	// (a newcomer's share moves within its next acquire after that).
	moved := 0
	if time.Since(s.rebalanced) >= time.Second {
		s.rebalanced = time.Now()
		if moved, err = s.store.Rebalance(ctx, s.cfg.LeaseTTL); err != nil {
			return err
		}
	}
	if rev+moved > 0 {
		s.metrics.revoked.Add(float64(rev + moved))
		s.cfg.Logger.Info("scheduler: leases revoked", "rebalance", moved, "deleting", rev)
	}
	if time.Since(s.pruned) > 30*time.Second {
		s.pruned = time.Now()
		if _, err := s.store.PruneMappings(ctx, time.Hour); err != nil {
			return err
		}
	}
	return s.reconcile(ctx)
}

// reconcile moves each replicator to the state its jobs justify.
func (s *Scheduler) reconcile(ctx context.Context) error {
	hs, err := s.store.Health(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, h := range hs {
		next, code, msg := h.State, h.StateCode, h.StateMsg
		// A fatal job error (a record the target refuses, a quota) fails
		// the replicator at once; others after FailAfter.
		failing := h.FailingSince != nil && (h.Fatal || now.Sub(*h.FailingSince) >= s.cfg.FailAfter)
		allRunning := h.TopoVer == h.SpecVersion && h.Jobs > 0 && h.Running == h.Jobs
		switch {
		case failing:
			next, code, msg = replicator.StateFailed, h.FailCode, h.FailMessage
		case allRunning && h.FailingSince == nil:
			next, code, msg = replicator.StateRunning, "", ""
		}
		if next == h.State && code == h.StateCode && msg == h.StateMsg {
			continue
		}
		changed, err := s.store.SetState(ctx, h.ID, h.State, h.SpecVersion, next, code, msg)
		if err != nil {
			return err
		}
		if changed {
			s.metrics.transitions.WithLabelValues(string(next)).Inc()
			s.cfg.Logger.Info("scheduler: replicator state changed", "replicator", h.Name, "account", h.AccountID,
				"from", h.State, "to", next, "code", code, "message", msg)
		}
	}
	return nil
}
