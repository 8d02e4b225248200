package postgres

import "context"

// A deleted replicator goes in two steps: its jobs' holders are asked to
// give them back (RevokeDeleting), and once no lease on them is left the
// replicator and everything that references it are removed
// (PurgeDeleted).

// RevokeDeleting asks the holders of a deleting replicator's jobs to give
// them back.
func (s *Store) RevokeDeleting(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "RevokeDeleting")
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET revoke = true WHERE id IN (
		SELECT j.id FROM jobs j JOIN replicators r ON r.id = j.replicator_id
		WHERE r.state = 'DELETING' AND j.owner IS NOT NULL AND NOT j.revoke ORDER BY j.id FOR UPDATE OF j SKIP LOCKED)`)
	return int(tag.RowsAffected()), err
}

// PurgeDeleted removes replicators in DELETING whose jobs no worker holds
// any more (released, or lease expired) and returns how many it removed.
func (s *Store) PurgeDeleted(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "PurgeDeleted")
	tag, err := s.pool.Exec(ctx, `DELETE FROM replicators r WHERE r.state = 'DELETING'
		AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.replicator_id = r.id AND j.owner IS NOT NULL AND j.lease_expires_at > statement_timestamp())`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
