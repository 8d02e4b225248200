package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// TryLead takes or renews the leader lease of role for holder and reports
// whether holder leads. The lease is a row of leaders: holder takes it
// when it is free or expired, and keeps it while it renews within ttl.
func (s *Store) TryLead(ctx context.Context, role, holder string, ttl time.Duration) (_ bool, err error) {
	defer wrap(&err, "TryLead(%q, %q)", role, holder)
	var term int64
	err = s.pool.QueryRow(ctx, `INSERT INTO leaders (role, holder, term, expires_at) VALUES ($1, $2, 1, statement_timestamp() + $3::interval)
		ON CONFLICT (role) DO UPDATE SET holder = $2, expires_at = statement_timestamp() + $3::interval,
			term = CASE WHEN leaders.holder = $2 THEN leaders.term ELSE leaders.term + 1 END
		WHERE leaders.holder = $2 OR leaders.expires_at < statement_timestamp()
		RETURNING term`, role, holder, interval(ttl)).Scan(&term)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
