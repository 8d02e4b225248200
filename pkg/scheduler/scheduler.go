// Package scheduler drives replicators through their states and, with the
// fleet, splits them into jobs and leases those to workers.
package scheduler

import (
	"context"
	"log/slog"
	"time"
)

// Store is what the scheduler needs from persistence.
type Store interface {
	PurgeDeleted(ctx context.Context) (int64, error)
}

// Config tunes the scheduler.
type Config struct {
	LeaseTTL time.Duration
	// Tick is how often periodic work runs (default 500ms).
	Tick   time.Duration
	Logger *slog.Logger
}

// Scheduler runs the control plane's periodic work.
type Scheduler struct {
	store Store
	cfg   Config
}

// New returns a scheduler over store.
func New(store Store, cfg Config) *Scheduler {
	if cfg.Tick <= 0 {
		cfg.Tick = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{store: store, cfg: cfg}
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
			s.tick(ctx)
		}
	}
}

func (s *Scheduler) tick(ctx context.Context) {
	n, err := s.store.PurgeDeleted(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("scheduler: purge of deleted replicators failed", "err", err)
		}
		return
	}
	if n > 0 {
		s.cfg.Logger.Info("scheduler: deleted replicators removed", "count", n)
	}
}
