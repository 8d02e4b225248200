package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// A replicator's history (replicator_events): state changes, recorded with
// the change (recordEvent), and notices, recorded by heartbeats, releases
// and topology reports. It is bounded per replicator. Events reads it
// (status.go).

// MaxEventsPerReplicator is how many events of its history a replicator
// keeps (the newest). Notices and discovery events are made by what a
// tenant does to its clusters (a target topic deleted over and over, a
// source naming a new topic ID at every discovery), and the table is
// every tenant's.
const MaxEventsPerReplicator = 1000

// trimEventsSQL keeps the newest $2 events of the replicators of the jobs
// in $1 (the cut of each is computed once: MATERIALIZED).
const trimEventsSQL = `WITH c AS MATERIALIZED (
		SELECT r.rid, (SELECT x.id FROM replicator_events x WHERE x.replicator_id = r.rid ORDER BY x.id DESC OFFSET $2 LIMIT 1) AS cut
		FROM (SELECT DISTINCT replicator_id AS rid FROM jobs WHERE id = ANY($1::bigint[])) r
	)
	DELETE FROM replicator_events e USING c WHERE e.replicator_id = c.rid AND e.id <= c.cut`

// trimReplicatorEventsSQL keeps the newest $2 events of replicator $1.
const trimReplicatorEventsSQL = `DELETE FROM replicator_events WHERE replicator_id = $1 AND id <=
	(SELECT x.id FROM replicator_events x WHERE x.replicator_id = $1 ORDER BY x.id DESC OFFSET $2 LIMIT 1)`

func recordEvent(ctx context.Context, tx pgx.Tx, id string, st replicator.State, code, msg string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO replicator_events (replicator_id, state, code, message) VALUES ($1, $2, $3, $4)`,
		id, string(st), code, msg); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, trimReplicatorEventsSQL, id, MaxEventsPerReplicator)
	return err
}
