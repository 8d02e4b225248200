package maintenance

import (
	"context"
	"time"
)

// PruneStore removes old offset mapping points.
type PruneStore interface {
	// PruneMappings removes mapping points older than maxAge (the newest
	// point of every partition stays).
	PruneMappings(ctx context.Context, maxAge time.Duration) (int, error)
}

const (
	// pruneEvery is how often the pruner runs.
	pruneEvery = 30 * time.Second
	// mappingsKept is how long a mapping point is kept.
	mappingsKept = time.Hour
)

// pruner keeps the offset mappings of the last hour.
type pruner struct {
	store PruneStore
	last  time.Time
}

func newPruner(store PruneStore) *pruner { return &pruner{store: store} }

// run prunes if more than pruneEvery passed since it last did.
func (p *pruner) run(ctx context.Context, now time.Time) error {
	if now.Sub(p.last) <= pruneEvery {
		return nil
	}
	p.last = now
	_, err := p.store.PruneMappings(ctx, mappingsKept)
	return err
}
