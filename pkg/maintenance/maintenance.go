package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the maintenance services need from persistence: the union
// of the interfaces each service declares beside it.
type Store interface {
	LeaderStore
	ExpireStore
	DeletingStore
	RebalanceStore
	PruneStore
	StateStore
}

// Config tunes the maintenance services.
type Config struct {
	// LeaseTTL is the lease time-to-live of jobs (default 10s); a worker is
	// live while it was seen within it.
	LeaseTTL time.Duration
	// Tick is how often the leader works (default 250ms).
	Tick time.Duration
	// FailAfter is how long a job may report an error before its
	// replicator is FAILED (default 30s).
	FailAfter time.Duration
	// MappingRetention is how long offset mapping points are kept
	// (default 1h; each partition's newest point always stays).
	MappingRetention time.Duration
	Logger           *slog.Logger
	Registry         prometheus.Registerer
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Maintainer runs the control plane's periodic work: at every tick, if
// this replica holds the leader lease, each service in turn.
type Maintainer struct {
	cfg       Config
	leader    *leader
	expire    *expirer
	deleting  *deleter
	rebalance *rebalancer
	prune     *pruner
	states    *stateMachine
	revoked   prometheus.Counter
}

// New returns a Maintainer over store.
func New(store Store, cfg Config) *Maintainer {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = 30 * time.Second
	}
	if cfg.MappingRetention <= 0 {
		cfg.MappingRetention = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Maintainer{
		cfg:       cfg,
		leader:    newLeader(store, uuid.NewString(), 4*cfg.Tick+time.Second, cfg.Logger),
		expire:    newExpirer(store, cfg.Logger),
		deleting:  newDeleter(store),
		rebalance: newRebalancer(store, cfg.LeaseTTL),
		prune:     newPruner(store, cfg.MappingRetention),
		states:    newStateMachine(store, cfg.FailAfter, cfg.Logger),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_leases_revoked_total",
			Help: "Leases the scheduler asked workers to give back (rebalance or deletion)."}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(m.expire.expired, m.revoked, m.states.transitions, m.leader.gauge)
	}
	return m
}

// Run works until ctx ends.
func (m *Maintainer) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Warn("scheduler: tick failed", "err", err)
			}
		}
	}
}

// Tick does one round of the leader's work if this replica leads. A
// service that fails ends the round; the next tick starts over.
func (m *Maintainer) Tick(ctx context.Context) error {
	lead, err := m.leader.hold(ctx)
	if err != nil || !lead {
		return err
	}
	if err := m.expire.run(ctx); err != nil {
		return err
	}
	deleting, err := m.deleting.run(ctx)
	if err != nil {
		return err
	}
	rebalanced, err := m.rebalance.run(ctx, m.cfg.Now())
	if err != nil {
		return err
	}
	if deleting+rebalanced > 0 {
		m.revoked.Add(float64(deleting + rebalanced))
		m.cfg.Logger.Info("scheduler: leases revoked", "rebalance", rebalanced, "deleting", deleting)
	}
	if err := m.prune.run(ctx, m.cfg.Now()); err != nil {
		return err
	}
	return m.states.run(ctx, m.cfg.Now())
}
