package postgres

import (
	"context"
	"time"
)

// Rebalance asks workers that hold more than their share of a replicator's
// jobs (ceil(jobs / live workers)) to give back the excess, keeping the
// metadata job and the oldest grants. It returns how many jobs it revoked.
func (s *Store) Rebalance(ctx context.Context, ttl time.Duration) (_ int, err error) {
	defer wrap(&err, "Rebalance")
	tag, err := s.pool.Exec(ctx, `WITH live AS (
			SELECT count(*) AS n FROM workers WHERE last_seen > statement_timestamp() - $1::interval
		), totals AS (
			SELECT j.replicator_id, count(*) AS total FROM jobs j JOIN replicators r ON r.id = j.replicator_id
			WHERE r.state <> 'DELETING' GROUP BY j.replicator_id
		), held AS (
			SELECT j.id, j.replicator_id, row_number() OVER (PARTITION BY j.replicator_id, j.owner
				ORDER BY (j.kind = 'metadata') DESC, j.granted_at, j.id) AS rn
			FROM jobs j WHERE j.owner IS NOT NULL AND j.lease_expires_at > statement_timestamp() AND NOT j.revoke
		)
		, excess AS (
			SELECT h.id FROM held h, totals t, live
			WHERE t.replicator_id = h.replicator_id AND live.n > 0 AND h.rn > ceil(t.total::numeric / live.n)
		)
		UPDATE jobs SET revoke = true
		WHERE id IN (SELECT j.id FROM jobs j JOIN excess e ON e.id = j.id ORDER BY j.id FOR UPDATE OF j SKIP LOCKED)`, interval(liveWindow(ttl)))
	return int(tag.RowsAffected()), err
}
