package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// MaxTags is the most tags a resource may carry (MSK's limit).
const MaxTags = 50

const replicatorColumns = `id, account_id, name, arn, description, service_execution_role_arn, spec, tags,
	state, state_code, state_message, current_version, spec_version, created_at`

// scanReplicator reads one replicator row. With a cache, a spec already
// decoded at the same spec version is shared instead of decoded again; such
// a replicator's Spec must not be modified (read paths only).
func scanReplicator(row pgx.Row, cache *specCache) (*replicator.Replicator, error) {
	var (
		r          replicator.Replicator
		id, arn    string
		spec, tags []byte
		state      string
	)
	err := row.Scan(&id, &r.AccountID, &r.Name, &arn, &r.Description, &r.ServiceExecutionRoleARN, &spec, &tags,
		&state, &r.StateCode, &r.StateMessage, &r.CurrentVersion, &r.SpecVersion, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, replicator.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if r.ARN, err = replicator.ParseARN(arn); err != nil {
		return nil, fmt.Errorf("stored ARN %q: %w", arn, err)
	}
	if cached, ok := cache.get(id, r.SpecVersion); ok {
		r.Spec = cached
	} else if spec == nil {
		return nil, errSpecNotCached // the query left it out, and the cache lost it since
	} else {
		if r.Spec, err = fleet.DecodeSpec(spec); err != nil {
			return nil, fmt.Errorf("stored spec of %s: %w", arn, err)
		}
		cache.put(id, arn, r.SpecVersion, r.Spec)
	}
	if err := json.Unmarshal(tags, &r.Tags); err != nil {
		return nil, fmt.Errorf("stored tags of %s: %w", arn, err)
	}
	r.State = replicator.State(state)
	return &r, nil
}

// CreateReplicator stores a new replicator in state r.State. A name that is
// taken in the account is a conflict.
func (s *Store) CreateReplicator(ctx context.Context, r *replicator.Replicator) error {
	return s.CreateReplicatorWithinQuota(ctx, r, 0)
}

// CreateReplicatorWithinQuota is CreateReplicator for an account that may
// hold at most quota replicators (0: no limit). The count and the insert
// happen under a per-account transaction lock, so concurrent creates
// cannot pass the quota together. Over the quota is a BadRequestException
// for replicatorName that names the quota.
func (s *Store) CreateReplicatorWithinQuota(ctx context.Context, r *replicator.Replicator, quota int) (err error) {
	defer wrap(&err, "CreateReplicatorWithinQuota(%q, %q)", r.AccountID, r.Name)
	spec, err := fleet.EncodeSpec(r.Spec)
	if err != nil {
		return err
	}
	tags, err := json.Marshal(nonNil(r.Tags))
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if quota > 0 {
			// The lock serialises the creates of one account until commit
			// (other accounts take other locks). The count is a statement of
			// its own: under READ COMMITTED it then sees every create that
			// committed while this one waited for the lock.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('replicators/' || $1, 0))`, r.AccountID); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM replicators WHERE account_id = $1`, r.AccountID).Scan(&n); err != nil {
				return err
			}
			if n >= quota {
				return replicator.Invalid("replicatorName",
					"the account already has %d replicators, its quota (REPLICATOR_QUOTA_REPLICATORS is %d); delete one or ask the operator to raise the quota", n, quota)
			}
		}
		err := tx.QueryRow(ctx, `INSERT INTO replicators (id, account_id, name, arn, description, service_execution_role_arn,
				spec, tags, state, current_version, spec_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)
			RETURNING created_at`,
			r.ARN.ID, r.AccountID, r.Name, r.ARN.String(), r.Description, r.ServiceExecutionRoleARN,
			spec, tags, string(r.State), r.CurrentVersion).Scan(&r.CreatedAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobs (replicator_id, kind) VALUES ($1, 'metadata')`, r.ARN.ID); err != nil {
			return err
		}
		return recordEvent(ctx, tx, r.ARN.ID, r.State, "", "")
	})
	if isUniqueViolation(err) {
		return replicator.Conflict("replicatorName", "a replicator named %q already exists", r.Name)
	}
	r.SpecVersion = 1
	return err
}

// GetReplicator returns the account's replicator with the given ARN.
//
// The spec is the bulk of a row; when this process already holds the
// replicator's current spec, the query does not send it again.
func (s *Store) GetReplicator(ctx context.Context, account, arn string) (_ *replicator.Replicator, err error) {
	defer wrap(&err, "GetReplicator(%q)", arn)
	known := s.specs.versionOf(arn)
	r, err := scanReplicator(s.pool.QueryRow(ctx, `SELECT id, account_id, name, arn, description, service_execution_role_arn,
			CASE WHEN spec_version = $3 THEN NULL ELSE spec END, tags,
			state, state_code, state_message, current_version, spec_version, created_at
		FROM replicators WHERE arn = $1 AND account_id = $2`, arn, account, known), s.specs)
	if errors.Is(err, errSpecNotCached) {
		return scanReplicator(s.pool.QueryRow(ctx,
			`SELECT `+replicatorColumns+` FROM replicators WHERE arn = $1 AND account_id = $2`, arn, account), s.specs)
	}
	return r, err
}

var errSpecNotCached = errors.New("spec not cached")

// ListReplicators returns up to limit replicators of the account whose
// names start with prefix and sort after the name after, in name order.
func (s *Store) ListReplicators(ctx context.Context, account, prefix, after string, limit int) (_ []*replicator.Replicator, err error) {
	defer wrap(&err, "ListReplicators(%q, %q)", account, prefix)
	if after < prefix {
		after = ""
	}
	// Names are bytewise (COLLATE "C"), so the names with the prefix are
	// exactly [prefix, upper): an index range, not a scan to the end.
	upper := prefixUpperBound(prefix)
	rows, err := s.pool.Query(ctx, `SELECT `+replicatorColumns+` FROM replicators
		WHERE account_id = $1 AND name >= $2 AND ($5 = '' OR name < $5) AND name > $3
		ORDER BY name LIMIT $4`, account, prefix, after, limit, upper)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*replicator.Replicator
	for rows.Next() {
		r, err := scanReplicator(rows, s.specs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// prefixUpperBound returns the smallest string greater than every string
// with prefix p ("" when there is none, or p is empty). p is valid UTF-8,
// and so is the bound (PostgreSQL refuses anything else): it increments
// the last code point that can be, and UTF-8's byte order is code point
// order.
func prefixUpperBound(p string) string {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		switch r := rs[i]; {
		case r == unicode.MaxRune:
			continue
		case r == 0xD7FF: // the surrogates are not code points
			rs[i] = 0xE000
		default:
			rs[i] = r + 1
		}
		return string(rs[:i+1])
	}
	return ""
}

// UpdateFunc changes a replicator in place inside UpdateReplicator.
type UpdateFunc = func(r *replicator.Replicator) error

// UpdateReplicator locks the account's replicator, checks that its
// currentVersion is version, applies fn and stores the result with a new
// currentVersion newVersion and the state fn left. fn may return an error to
// abort without change.
func (s *Store) UpdateReplicator(ctx context.Context, account, arn, version, newVersion string, fn UpdateFunc) (_ *replicator.Replicator, err error) {
	defer wrap(&err, "UpdateReplicator(%q)", arn)
	var out *replicator.Replicator
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		r, err := scanReplicator(tx.QueryRow(ctx,
			`SELECT `+replicatorColumns+` FROM replicators WHERE arn = $1 AND account_id = $2 FOR UPDATE`, arn, account), nil)
		if err != nil {
			return err
		}
		if r.CurrentVersion != version {
			return replicator.Invalid("currentVersion", "currentVersion %q does not match the replicator's current version", version)
		}
		before := r.State
		if err := fn(r); err != nil {
			return err
		}
		spec, err := fleet.EncodeSpec(r.Spec)
		if err != nil {
			return err
		}
		r.CurrentVersion = newVersion
		r.SpecVersion++
		_, err = tx.Exec(ctx, `UPDATE replicators SET spec = $2, state = $3, state_code = $4, state_message = $5,
				current_version = $6, spec_version = $7, updated_at = now(),
				state_changed_at = CASE WHEN state = $3 THEN state_changed_at ELSE now() END
			WHERE id = $1`,
			r.ARN.ID, spec, string(r.State), r.StateCode, r.StateMessage, r.CurrentVersion, r.SpecVersion)
		if err != nil {
			return err
		}
		if r.State != before {
			if err := recordEvent(ctx, tx, r.ARN.ID, r.State, r.StateCode, r.StateMessage); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	return out, err
}

// DeleteReplicator moves the account's replicator to DELETING. A non-empty
// version must match its currentVersion. Deleting twice is not an error.
func (s *Store) DeleteReplicator(ctx context.Context, account, arn, version string) (_ *replicator.Replicator, err error) {
	defer wrap(&err, "DeleteReplicator(%q)", arn)
	var out *replicator.Replicator
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		r, err := scanReplicator(tx.QueryRow(ctx,
			`SELECT `+replicatorColumns+` FROM replicators WHERE arn = $1 AND account_id = $2 FOR UPDATE`, arn, account), nil)
		if err != nil {
			return err
		}
		if version != "" && r.CurrentVersion != version {
			return replicator.Invalid("currentVersion", "currentVersion %q does not match the replicator's current version", version)
		}
		out = r
		if r.State == replicator.StateDeleting {
			return nil
		}
		r.State, r.StateCode, r.StateMessage = replicator.StateDeleting, "", ""
		if _, err := tx.Exec(ctx, `UPDATE replicators SET state = $2, state_code = '', state_message = '',
			updated_at = now(), state_changed_at = now() WHERE id = $1`, r.ARN.ID, string(r.State)); err != nil {
			return err
		}
		return recordEvent(ctx, tx, r.ARN.ID, r.State, "", "")
	})
	return out, err
}

// TagResource merges tags into the replicator's tags; the result may hold
// at most MaxTags keys.
func (s *Store) TagResource(ctx context.Context, account, arn string, tags map[string]string) (err error) {
	defer wrap(&err, "TagResource(%q)", arn)
	b, err := json.Marshal(nonNil(tags))
	if err != nil {
		return err
	}
	var n int
	err = s.pool.QueryRow(ctx, `WITH target AS (
			SELECT id, tags || $3::jsonb AS merged FROM replicators WHERE arn = $1 AND account_id = $2 FOR UPDATE
		), upd AS (
			UPDATE replicators r SET tags = t.merged
			FROM target t WHERE r.id = t.id AND (SELECT count(*) FROM jsonb_object_keys(t.merged)) <= $4
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM target) + (SELECT count(*) FROM upd)`, arn, account, b, MaxTags).Scan(&n)
	switch {
	case err != nil:
		return err
	case n == 0:
		return replicator.NotFound("resourceArn", "resource not found")
	case n == 1:
		return replicator.Invalid("tags", "a resource can have at most %d tags", MaxTags)
	}
	return nil
}

// UntagResource removes keys from the replicator's tags.
func (s *Store) UntagResource(ctx context.Context, account, arn string, keys []string) (err error) {
	defer wrap(&err, "UntagResource(%q)", arn)
	tag, err := s.pool.Exec(ctx, `UPDATE replicators SET tags = tags - $3::text[] WHERE arn = $1 AND account_id = $2`,
		arn, account, keys)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return replicator.NotFound("resourceArn", "resource not found")
	}
	return nil
}

// ListTags returns the replicator's tags.
func (s *Store) ListTags(ctx context.Context, account, arn string) (_ map[string]string, err error) {
	defer wrap(&err, "ListTags(%q)", arn)
	var b []byte
	err = s.pool.QueryRow(ctx, `SELECT tags FROM replicators WHERE arn = $1 AND account_id = $2`, arn, account).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, replicator.NotFound("resourceArn", "resource not found")
	}
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	return tags, json.Unmarshal(b, &tags)
}

// ReplicatorSpec returns what a worker needs to run a replicator's jobs.
func (s *Store) ReplicatorSpec(ctx context.Context, id string) (_ *fleet.ReplicatorSpec, err error) {
	defer wrap(&err, "ReplicatorSpec(%q)", id)
	r, err := scanReplicator(s.pool.QueryRow(ctx, `SELECT `+replicatorColumns+` FROM replicators WHERE id = $1`, id), s.specs)
	if err != nil {
		return nil, err
	}
	return &fleet.ReplicatorSpec{ID: r.ARN.ID, ARN: r.ARN.String(), Name: r.Name, AccountID: r.AccountID,
		SpecVersion: r.SpecVersion, State: r.State, Spec: r.Spec}, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
