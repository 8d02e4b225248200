package maintenance

import (
	"context"
	"time"
)

// RebalanceStore spreads jobs over the live workers.
type RebalanceStore interface {
	// Rebalance asks workers that hold more than their share of a
	// replicator's jobs (ceil(jobs / workers live within ttl)) to give back
	// the excess, and returns how many jobs it asked for.
	Rebalance(ctx context.Context, ttl time.Duration) (int, error)
}

// rebalanceEvery is how often the rebalancer looks. It looks at every
// lease; once a second is often enough (a newcomer's share moves within
// its next acquire after that).
const rebalanceEvery = time.Second

// rebalancer moves only the excess of a worker's share to the others: a
// worker that joins gets its share within a second and its next acquire.
type rebalancer struct {
	store RebalanceStore
	ttl   time.Duration
	last  time.Time
}

func newRebalancer(store RebalanceStore, ttl time.Duration) *rebalancer {
	return &rebalancer{store: store, ttl: ttl}
}

// run rebalances if rebalanceEvery passed since it last did, and returns
// how many leases it revoked.
func (r *rebalancer) run(ctx context.Context, now time.Time) (int, error) {
	if now.Sub(r.last) < rebalanceEvery {
		return 0, nil
	}
	r.last = now
	return r.store.Rebalance(ctx, r.ttl)
}
