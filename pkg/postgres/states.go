package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// What the state machine of package maintenance reads (Health) and writes
// (SetState).

// Health returns every replicator that is not being deleted, with counts of
// its jobs and of those leased, heartbeating and on the current spec, and
// its oldest unresolved job error. One pass over jobs, one over
// replicators; the error details are looked up only for failing ones.
func (s *Store) Health(ctx context.Context) (_ []fleet.ReplicatorHealth, err error) {
	defer wrap(&err, "Health")
	rows, err := s.pool.Query(ctx, `WITH j AS (
			SELECT j.replicator_id, count(*) AS jobs,
				count(*) FILTER (WHERE j.owner IS NOT NULL AND j.lease_expires_at > statement_timestamp()
					AND j.heartbeat_at IS NOT NULL AND j.spec_version = r.spec_version) AS running,
				min((j.status->>'since')::timestamptz) FILTER (WHERE j.status ? 'code' AND j.owner IS NOT NULL
					AND j.lease_expires_at > statement_timestamp()) AS since,
				COALESCE(bool_or(j.status->>'fatal' = 'true') FILTER (WHERE j.status ? 'code' AND j.owner IS NOT NULL
					AND j.lease_expires_at > statement_timestamp()), false) AS fatal
			FROM jobs j JOIN replicators r ON r.id = j.replicator_id
			GROUP BY j.replicator_id
		)
		SELECT r.id::text, r.name, r.account_id, r.state, r.state_code, r.state_message, r.spec_version, r.topology_version,
			COALESCE(j.jobs, 0), COALESCE(j.running, 0), j.since, COALESCE(j.fatal, false)
		FROM replicators r LEFT JOIN j ON j.replicator_id = r.id
		WHERE r.state <> 'DELETING'`)
	if err != nil {
		return nil, err
	}
	hs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.ReplicatorHealth, error) {
		var h fleet.ReplicatorHealth
		var st string
		err := row.Scan(&h.ID, &h.Name, &h.AccountID, &st, &h.StateCode, &h.StateMsg, &h.SpecVersion, &h.TopoVer,
			&h.Jobs, &h.Running, &h.FailingSince, &h.Fatal)
		h.State = replicator.State(st)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	for i := range hs {
		h := &hs[i]
		if h.FailingSince == nil {
			continue
		}
		// A fatal error explains the state first, then the oldest.
		err := s.pool.QueryRow(ctx, `SELECT status->>'code', status->>'message' FROM jobs
			WHERE replicator_id = $1 AND status ? 'code' AND owner IS NOT NULL AND lease_expires_at > statement_timestamp()
			ORDER BY status->>'fatal' = 'true' DESC NULLS LAST, (status->>'since')::timestamptz LIMIT 1`, h.ID).Scan(&h.FailCode, &h.FailMessage)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
	}
	return hs, nil
}

// SetState moves a replicator from state from (at spec version
// specVersion) to st with the given info, recording the change. It changes
// nothing, and reports false, if the replicator moved on meanwhile (an
// update, a delete or another scheduler got there first).
func (s *Store) SetState(ctx context.Context, id string, from replicator.State, specVersion int64, st replicator.State, code, msg string) (_ bool, err error) {
	defer wrap(&err, "SetState(%q, %s)", id, st)
	changed := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE replicators SET state = $2, state_code = $3, state_message = $4,
				updated_at = now(), state_changed_at = CASE WHEN state = $2 THEN state_changed_at ELSE now() END
			WHERE id = $1 AND state = $5 AND spec_version = $6
				AND (state, state_code, state_message) IS DISTINCT FROM ($2, $3, $4)`,
			id, string(st), code, msg, string(from), specVersion)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		changed = true
		return recordEvent(ctx, tx, id, st, code, msg)
	})
	return changed, err
}
