package maintenance

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpireStore frees expired leases.
type ExpireStore interface {
	// ExpireLeases frees jobs whose lease has expired and returns how many.
	ExpireLeases(ctx context.Context) (int, error)
}

// expirer frees the jobs whose lease expired without being renewed or
// released: their worker died or stalled. (An acquire takes an expired
// job as it is; freeing it makes it show as free, and counts it.)
type expirer struct {
	store   ExpireStore
	log     *slog.Logger
	expired prometheus.Counter
}

func newExpirer(store ExpireStore, log *slog.Logger) *expirer {
	return &expirer{store: store, log: log,
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_leases_expired_total",
			Help: "Leases that expired without being renewed or released (a worker died or stalled)."})}
}

func (e *expirer) run(ctx context.Context) error {
	n, err := e.store.ExpireLeases(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		e.expired.Add(float64(n))
		e.log.Info("scheduler: leases expired", "count", n)
	}
	return nil
}
