package postgres

import "context"

// ExpireLeases frees jobs whose lease has expired and returns how many.
func (s *Store) ExpireLeases(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "ExpireLeases")
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET last_owner = owner, owner = NULL, lease_expires_at = NULL, lease_token = NULL, revoke = false
		WHERE id IN (SELECT id FROM jobs WHERE owner IS NOT NULL AND lease_expires_at < statement_timestamp()
			ORDER BY id FOR UPDATE SKIP LOCKED)`)
	return int(tag.RowsAffected()), err
}
