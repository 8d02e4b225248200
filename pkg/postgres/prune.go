package postgres

import (
	"context"
	"time"
)

// PruneMappings removes mapping points older than maxAge. The newest point
// of every partition is its checkpoint row, which stays.
func (s *Store) PruneMappings(ctx context.Context, maxAge time.Duration) (_ int, err error) {
	defer wrap(&err, "PruneMappings(%s)", maxAge)
	tag, err := s.pool.Exec(ctx, `DELETE FROM offset_mappings WHERE recorded_at < statement_timestamp() - $1::interval`, interval(maxAge))
	return int(tag.RowsAffected()), err
}
