package maintenance

import "context"

// DeletingStore takes deleted replicators apart.
type DeletingStore interface {
	// RevokeDeleting asks the holders of a deleting replicator's jobs to
	// give them back and returns how many jobs it asked for.
	RevokeDeleting(ctx context.Context) (int, error)
	// PurgeDeleted removes the replicators in DELETING whose jobs no worker
	// holds any more.
	PurgeDeleted(ctx context.Context) (int64, error)
}

// deleter finishes deletes: a deleted replicator's jobs are revoked (their
// workers release them within a heartbeat), then the replicator is removed
// once none is held (released, or the lease expired).
type deleter struct{ store DeletingStore }

func newDeleter(store DeletingStore) *deleter { return &deleter{store: store} }

// run returns how many leases it revoked.
func (d *deleter) run(ctx context.Context) (int, error) {
	n, err := d.store.RevokeDeleting(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := d.store.PurgeDeleted(ctx); err != nil {
		return 0, err
	}
	return n, nil
}
