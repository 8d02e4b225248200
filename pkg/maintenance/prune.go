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

// pruneEvery is how often the pruner runs.
const pruneEvery = 30 * time.Second

// pruner keeps the offset mappings of the retention window (an hour by
// default).
type pruner struct {
	store PruneStore
	kept  time.Duration
	last  time.Time
}

func newPruner(store PruneStore, kept time.Duration) *pruner {
	return &pruner{store: store, kept: kept}
}

// run prunes if more than pruneEvery passed since it last did.
func (p *pruner) run(ctx context.Context, now time.Time) error {
	if now.Sub(p.last) <= pruneEvery {
		return nil
	}
	p.last = now
	_, err := p.store.PruneMappings(ctx, p.kept)
	return err
}
