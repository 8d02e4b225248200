package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// The read models of the fleet: what the status endpoint (Jobs, Events),
// GET /v1/workers (Workers), GET /metrics (Gauges) and a worker's offset
// translation (MappingPoints) are shown. Reads only; nothing here takes a
// lock.

// MappingPoints returns the newest mapping points (at most perPartition) of
// each of a replicator's partitions.
func (s *Store) MappingPoints(ctx context.Context, replicatorID string, perPartition int) (_ []fleet.MappingPoint, err error) {
	defer wrap(&err, "MappingPoints(%q)", replicatorID)
	rows, err := s.pool.Query(ctx, `SELECT topic, partition, source_offset, target_offset, target_topic_id FROM (
			SELECT m.topic, m.partition, m.source_offset, m.target_offset, m.target_topic_id,
				row_number() OVER (PARTITION BY topic, partition ORDER BY source_offset DESC) AS rn
			FROM offset_mappings m WHERE replicator_id = $1) x
		WHERE rn <= $2
		UNION
		SELECT topic, partition, next_offset, target_next_offset, target_topic_id FROM checkpoints
		WHERE replicator_id = $1 AND target_next_offset IS NOT NULL
		ORDER BY 1, 2, 3 DESC`, replicatorID, perPartition)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.MappingPoint, error) {
		var p fleet.MappingPoint
		err := row.Scan(&p.Topic, &p.Partition, &p.SourceOffset, &p.TargetOffset, &p.TargetTopicID)
		return p, err
	})
}

// Workers lists the workers seen within ttl and the leases they hold.
func (s *Store) Workers(ctx context.Context, ttl time.Duration) (_ []fleet.WorkerInfo, err error) {
	defer wrap(&err, "Workers")
	rows, err := s.pool.Query(ctx, `SELECT w.id, w.first_seen, w.last_seen, w.info,
			COALESCE(json_agg(json_build_object('jobId', j.id, 'replicatorId', j.replicator_id, 'replicatorName', r.name,
				'kind', j.kind, 'topic', j.topic, 'partition', j.partition, 'epoch', j.epoch, 'leaseExpiresAt', j.lease_expires_at)
				ORDER BY j.id) FILTER (WHERE j.id IS NOT NULL), '[]')
		FROM workers w
		LEFT JOIN jobs j ON j.owner = w.id AND j.lease_expires_at > statement_timestamp()
		LEFT JOIN replicators r ON r.id = j.replicator_id
		WHERE w.last_seen > statement_timestamp() - $1::interval
		GROUP BY w.id ORDER BY w.id`, interval(ttl))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.WorkerInfo, error) {
		var w fleet.WorkerInfo
		var info, jobs []byte
		if err := row.Scan(&w.ID, &w.FirstSeen, &w.LastSeen, &info, &jobs); err != nil {
			return w, err
		}
		_ = json.Unmarshal(info, &w.Info)
		return w, json.Unmarshal(jobs, &w.Jobs)
	})
}

// Jobs returns a replicator's jobs with their owners and latest reports.
func (s *Store) Jobs(ctx context.Context, replicatorID string) (_ []fleet.JobStatus, err error) {
	defer wrap(&err, "Jobs(%q)", replicatorID)
	rows, err := s.pool.Query(ctx, `SELECT j.id, j.kind, j.topic, j.partition,
			CASE WHEN j.lease_expires_at > statement_timestamp() THEN COALESCE(j.owner, '') ELSE '' END,
			j.epoch, CASE WHEN j.lease_expires_at > statement_timestamp() THEN j.lease_expires_at END, j.heartbeat_at, j.spec_version,
			j.status, j.progress, c.next_offset
		FROM jobs j LEFT JOIN checkpoints c ON c.replicator_id = j.replicator_id AND c.topic = j.topic AND c.partition = j.partition
		WHERE j.replicator_id = $1 ORDER BY j.kind, j.topic, j.partition`, replicatorID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.JobStatus, error) {
		var js fleet.JobStatus
		var status, progress []byte
		if err := row.Scan(&js.JobID, &js.Kind, &js.Topic, &js.Partition, &js.Owner, &js.Epoch, &js.LeaseExpiresAt,
			&js.HeartbeatAt, &js.SpecVersion, &status, &progress, &js.NextOffset); err != nil {
			return js, err
		}
		var e fleet.JobError
		if json.Unmarshal(status, &e) == nil && e.Code != "" {
			js.Error = &e
		}
		var p fleet.PartitionProgress
		if len(progress) > 2 && json.Unmarshal(progress, &p) == nil {
			js.Progress = &p
		}
		return js, nil
	})
}

// Gauges reads the fleet figures. A replicator's lag is capped at the
// largest int64: the lags come from high watermarks a tenant's cluster
// states, and a sum past it must not fail every tenant's gauges.
func (s *Store) Gauges(ctx context.Context, ttl time.Duration) (_ fleet.FleetGauges, err error) {
	defer wrap(&err, "Gauges")
	g := fleet.FleetGauges{HeartbeatAge: map[string]float64{}}
	rows, err := s.pool.Query(ctx, `SELECT id, EXTRACT(EPOCH FROM statement_timestamp() - last_seen)::float8
		FROM workers WHERE last_seen > statement_timestamp() - $1::interval`, interval(ttl))
	if err != nil {
		return g, err
	}
	for rows.Next() {
		var id string
		var age float64
		if err := rows.Scan(&id, &age); err != nil {
			rows.Close()
			return g, err
		}
		g.HeartbeatAge[id] = age
	}
	rows.Close()
	rows, err = s.pool.Query(ctx, `SELECT r.name, r.account_id,
			LEAST(COALESCE(sum(GREATEST((j.progress->>'lag')::bigint, 0)), 0), 9223372036854775807)::bigint, count(j.id)
		FROM replicators r JOIN jobs j ON j.replicator_id = r.id AND j.kind = 'partition'
		WHERE r.state <> 'DELETING' GROUP BY r.id`)
	if err != nil {
		return g, err
	}
	g.Lag, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.ReplicatorLag, error) {
		var l fleet.ReplicatorLag
		return l, row.Scan(&l.Name, &l.AccountID, &l.Lag, &l.Partitions)
	})
	return g, err
}

// Events returns the replicator's most recent events, newest first.
func (s *Store) Events(ctx context.Context, id string, limit int) (_ []fleet.Event, err error) {
	defer wrap(&err, "Events(%q)", id)
	rows, err := s.pool.Query(ctx, `SELECT at, state, code, message, kind FROM replicator_events
		WHERE replicator_id = $1 ORDER BY id DESC LIMIT $2`, id, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.Event, error) {
		var e fleet.Event
		var st string
		err := row.Scan(&e.At, &st, &e.Code, &e.Message, &e.Kind)
		e.State = replicator.State(st)
		return e, err
	})
}
