package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// The lease protocol is described in package fleet. Every statement that
// acts under a lease checks (owner, epoch) and an unexpired lease; a
// zero-row update means the lease is lost. Lease times use
// statement_timestamp(), not now(): now() is when the transaction began,
// which can be before a lease that the statement sees expired.

func interval(d time.Duration) string { return fmt.Sprintf("%d milliseconds", d.Milliseconds()) }

// liveWindow is how recently a worker must have been seen to count as live
// when jobs are shared out: the lease TTL. A dead worker stops counting
// when its leases expire (it was last seen at its last renewal); a worker
// that stops gracefully is forgotten at once (Release with leaving). A
// shorter window made the count collapse after any pause longer than it,
// and the first worker to ask took everything.
func liveWindow(ttl time.Duration) time.Duration { return ttl }

// AcquireStats says what an acquire did, for metrics.
type AcquireStats struct{ Granted, Moved int }

// Acquire grants the worker free jobs up to its share of each replicator's
// jobs (ceil(jobs / live workers)) and at most max in total (0: no cap).
func (s *Store) Acquire(ctx context.Context, worker string, info map[string]string, max int, ttl time.Duration) ([]fleet.Lease, AcquireStats, error) {
	var (
		out   []fleet.Lease
		stats AcquireStats
	)
	// At most half of the connections acquire at once: the rest stay free
	// for the API and the scheduler (heartbeats have their own; the worker
	// API sheds the excess before it gets here, see api).
	if s.acquiring != nil {
		select {
		case s.acquiring <- struct{}{}:
			defer func() { <-s.acquiring }()
		case <-ctx.Done():
			return nil, stats, ctx.Err()
		}
	}
	infoJSON, _ := json.Marshal(info)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO workers (id, info) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET last_seen = statement_timestamp(), info = CASE WHEN $2::jsonb = 'null' THEN workers.info ELSE $2::jsonb END`,
			worker, infoJSON); err != nil {
			return err
		}
		// Cheap check first: most polls find nothing to take.
		var free bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE owner IS NULL)
			OR EXISTS (SELECT 1 FROM jobs WHERE owner IS NOT NULL AND lease_expires_at < statement_timestamp())`).Scan(&free); err != nil || !free {
			return err
		}
		quota := map[string]int{}
		rows, err := tx.Query(ctx, `WITH live AS (SELECT count(*) AS n FROM workers WHERE last_seen > statement_timestamp() - $2::interval)
			SELECT j.replicator_id::text,
				ceil(count(*)::numeric / GREATEST((SELECT n FROM live), 1))::int
				- count(*) FILTER (WHERE j.owner = $1 AND j.lease_expires_at > statement_timestamp())
			FROM jobs j JOIN replicators r ON r.id = j.replicator_id
			WHERE r.state <> 'DELETING'
			GROUP BY j.replicator_id
			HAVING count(*) FILTER (WHERE j.owner IS NULL OR j.lease_expires_at < statement_timestamp()) > 0`, worker, interval(liveWindow(ttl)))
		if err != nil {
			return err
		}
		var rids []string
		total := 0
		for rows.Next() {
			var rid string
			var q int
			if err := rows.Scan(&rid, &q); err != nil {
				return err
			}
			if q > 0 {
				quota[rid] = q
				rids = append(rids, rid)
				total += q
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if max > 0 && total > max {
			total = max
		}
		if total == 0 {
			return nil
		}
		// Each replicator's free jobs up to its quota, locked in one
		// statement; jobs other acquirers hold locks on are skipped.
		quotas := make([]int32, len(rids))
		for i, rid := range rids {
			quotas[i] = int32(quota[rid])
		}
		rows, err = tx.Query(ctx, `SELECT f.id FROM unnest($1::uuid[], $2::int[]) AS q(rid, n),
			LATERAL (SELECT id FROM jobs
				WHERE replicator_id = q.rid AND (owner IS NULL OR lease_expires_at < statement_timestamp())
				ORDER BY kind, id LIMIT q.n FOR UPDATE SKIP LOCKED) f
			LIMIT $3`, rids, quotas, total)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		// Every grant gets a new secret (see fleet.Lease.Token).
		tokens := make([]string, len(ids))
		for i := range tokens {
			tokens[i] = newLeaseToken()
		}
		rows, err = tx.Query(ctx, `UPDATE jobs j SET
				last_owner = COALESCE(j.owner, j.last_owner), owner = $1, epoch = j.epoch + 1, lease_token = u.token,
				lease_expires_at = statement_timestamp() + $3::interval, granted_at = statement_timestamp(), revoke = false, heartbeat_at = NULL,
				status = '{}'
			FROM unnest($2::bigint[], $4::text[]) AS u(id, token), replicators r
			WHERE j.id = u.id AND r.id = j.replicator_id
			RETURNING j.id, j.epoch, j.replicator_id::text, j.kind, j.topic, j.partition, r.spec_version, j.lease_expires_at,
				COALESCE(j.last_owner, '') <> '' AND j.last_owner <> $1,
				COALESCE((SELECT c.next_offset FROM checkpoints c WHERE c.replicator_id = j.replicator_id AND c.topic = j.topic AND c.partition = j.partition), -2),
				j.topic_id, j.lease_token`,
			worker, ids, interval(ttl), tokens)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.Lease, error) {
			var l fleet.Lease
			var moved bool
			err := row.Scan(&l.JobID, &l.Epoch, &l.ReplicatorID, &l.Kind, &l.Topic, &l.Partition, &l.SpecVersion, &l.ExpiresAt, &moved, &l.StartOffset,
				&l.TopicID, &l.Token)
			if moved {
				stats.Moved++
			}
			return l, err
		})
		stats.Granted = len(out)
		return err
	})
	return out, stats, err
}

// HeartbeatResult is the answer to a heartbeat.
type HeartbeatResult struct {
	Renewed, Lost, Revoke []int64
	SpecVersions          map[string]int64
	// ExpiresAt is the new lease expiry of the renewed jobs.
	ExpiresAt time.Time
	// Refused says why reports were refused (their jobs are in Lost),
	// by job ID.
	Refused map[int64]string
}

// checkReport returns why a job report cannot be stored, or "". Such a
// report renews nothing (its job is lost); the others in the same request
// are not affected.
func checkReport(r *fleet.JobReport) string {
	switch {
	case r.JobID <= 0:
		return "jobId must be positive"
	case r.Token == "":
		return "the lease token is missing"
	case r.Checkpoint != nil && *r.Checkpoint < 0:
		return "checkpoint must not be negative"
	case r.TargetCheckpoint != nil && *r.TargetCheckpoint < 0:
		return "targetCheckpoint must not be negative"
	}
	return ""
}

// validReports keeps the first report of each job that checkReport
// accepts, bounded to the protocol's limits (fleet.JobReport.Bound); the
// others are refused.
func validReports(reports []fleet.JobReport) (ok []fleet.JobReport, refused map[int64]string) {
	seen := make(map[int64]bool, len(reports))
	ok = make([]fleet.JobReport, 0, len(reports))
	for _, r := range reports {
		if seen[r.JobID] {
			continue
		}
		seen[r.JobID] = true
		if why := checkReport(&r); why != "" {
			if refused == nil {
				refused = map[int64]string{}
			}
			refused[r.JobID] = why
			continue
		}
		ok = append(ok, *r.Bound())
	}
	return ok, refused
}

// Heartbeat renews the worker's leases named in reports, stores their
// progress, status, checkpoints and notices, and says which leases are
// lost and which the worker should give back. A report renews its lease
// only with the lease's (owner, epoch, token) and before it expired; a
// report that is not valid renews nothing and changes nothing, without
// affecting the others. Everything runs as one implicit transaction on the
// connections reserved for leases: the renewal first (job rows locked in
// id order, as every statement that locks several jobs does), then the
// checkpoints and notices under the same fence.
func (s *Store) Heartbeat(ctx context.Context, worker string, reports []fleet.JobReport, ttl time.Duration) (HeartbeatResult, error) {
	res := HeartbeatResult{Renewed: []int64{}, Lost: []int64{}, Revoke: []int64{}, SpecVersions: map[string]int64{}}
	reports, res.Refused = validReports(reports)
	for id := range res.Refused {
		res.Lost = append(res.Lost, id)
	}
	n := len(reports)
	ids, epochs, versions := make([]int64, n), make([]int64, n), make([]int64, n)
	tokens, statuses, progresses := make([]string, n), make([]string, n), make([]string, n)
	for i, r := range reports {
		ids[i], epochs[i], versions[i], tokens[i] = r.JobID, r.Epoch, r.SpecVersion, r.Token
		statuses[i], progresses[i] = "{}", "{}"
		if r.Error != nil {
			b, _ := json.Marshal(r.Error)
			statuses[i] = string(b)
		}
		if r.Progress != nil {
			b, _ := json.Marshal(r.Progress)
			progresses[i] = string(b)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO workers (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET last_seen = statement_timestamp()`, worker)
	batch.Queue(`WITH u AS (
			SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::jsonb[], $8::text[]) AS u(id, epoch, spec_version, status, progress, token)
		), locked AS (
			SELECT j.id FROM jobs j JOIN u ON u.id = j.id
			WHERE j.owner = $1 AND j.epoch = u.epoch AND j.lease_token = u.token AND j.lease_expires_at > statement_timestamp()
			ORDER BY j.id FOR UPDATE OF j
		)
		UPDATE jobs j SET lease_expires_at = statement_timestamp() + $7::interval, heartbeat_at = statement_timestamp(),
			spec_version = u.spec_version, status = u.status, progress = u.progress
		FROM u, locked, replicators r
		WHERE j.id = locked.id AND u.id = j.id AND j.owner = $1 AND j.epoch = u.epoch AND j.lease_token = u.token AND r.id = j.replicator_id
		RETURNING j.id, j.revoke OR r.state = 'DELETING', r.id::text, r.spec_version, j.lease_expires_at`,
		worker, ids, epochs, versions, statuses, progresses, interval(ttl), tokens)
	cp := checkpointArgs(reports)
	if len(cp.ids) > 0 {
		batch.Queue(checkpointSQL, worker, cp.ids, cp.epochs, cp.tokens, cp.offsets, cp.targets, cp.targetIDs)
	}
	if nt := noticeArgs(reports); len(nt.ids) > 0 {
		batch.Queue(noticeSQL, worker, nt.ids, nt.epochs, nt.tokens, nt.at, nt.codes, nt.messages)
		batch.Queue(trimEventsSQL, nt.ids, MaxEventsPerReplicator)
	}
	// A batch without BEGIN runs as one implicit transaction: one round
	// trip.
	err := func() error {
		br := s.leasePool().SendBatch(ctx, batch)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		renewed := map[int64]bool{}
		for rows.Next() {
			var id, v int64
			var revoke bool
			var rid string
			if err := rows.Scan(&id, &revoke, &rid, &v, &res.ExpiresAt); err != nil {
				rows.Close()
				return err
			}
			renewed[id] = true
			res.Renewed = append(res.Renewed, id)
			if revoke {
				res.Revoke = append(res.Revoke, id)
			}
			res.SpecVersions[rid] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for range batch.Len() - 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if !renewed[id] {
				res.Lost = append(res.Lost, id)
			}
		}
		return br.Close()
	}()
	return res, err
}

// leaseFence is the condition under which a statement may act for the job
// j under a report u: the report's lease is j's current one and has not
// expired.
const leaseFence = `j.owner = $1 AND j.epoch = u.epoch AND j.lease_token = u.token AND j.lease_expires_at > statement_timestamp()`

// checkpointSQL stores checkpoints of partition jobs the worker still holds
// (leaseFence), and records a mapping point of a partition at most every 5
// seconds (the checkpoint row itself is always the newest point), and the
// first point in a new target topic (another target topic ID) at once. $6 holds
// the target offsets (-1: none reported) and $7 the target topic IDs they
// count in. A checkpoint of another
// incarnation of the topic (topic_id) is never written.
const checkpointSQL = `WITH u AS (
		SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[]) AS u(id, epoch, token, next_offset, target_next, target_id)
	), upd AS (
		UPDATE checkpoints c SET next_offset = u.next_offset, updated_at = statement_timestamp(),
			target_next_offset = CASE WHEN u.target_next >= 0 THEN u.target_next ELSE c.target_next_offset END,
			target_topic_id = CASE WHEN u.target_next >= 0 THEN u.target_id ELSE c.target_topic_id END,
			mapping_at = CASE WHEN u.target_next >= 0 AND (u.target_id <> c.target_topic_id OR u.next_offset <> c.next_offset
				AND c.mapping_at < statement_timestamp() - interval '5 seconds') THEN statement_timestamp() ELSE c.mapping_at END
		FROM u, jobs j
		WHERE j.id = u.id AND ` + leaseFence + `
			AND c.replicator_id = j.replicator_id AND c.topic = j.topic AND c.partition = j.partition AND c.topic_id = j.topic_id
		RETURNING c.replicator_id, c.topic, c.partition, c.next_offset, u.target_next, u.target_id, c.mapping_at = statement_timestamp() AS record
	)
	INSERT INTO offset_mappings (replicator_id, topic, partition, source_offset, target_offset, target_topic_id)
	SELECT replicator_id, topic, partition, next_offset, target_next, target_id FROM upd WHERE record
	ON CONFLICT (replicator_id, topic, partition, source_offset)
	DO UPDATE SET target_offset = EXCLUDED.target_offset, target_topic_id = EXCLUDED.target_topic_id, recorded_at = statement_timestamp()`

type checkpointCols struct {
	ids, epochs, offsets, targets []int64
	tokens, targetIDs             []string
}

// checkpointArgs collects the checkpoints of reports as checkpointSQL's
// arguments.
func checkpointArgs(reports []fleet.JobReport) (c checkpointCols) {
	for _, r := range reports {
		if r.Checkpoint == nil {
			continue
		}
		t := int64(-1)
		if r.TargetCheckpoint != nil {
			t = *r.TargetCheckpoint
		}
		c.ids, c.epochs, c.tokens = append(c.ids, r.JobID), append(c.epochs, r.Epoch), append(c.tokens, r.Token)
		c.offsets, c.targets = append(c.offsets, *r.Checkpoint), append(c.targets, t)
		c.targetIDs = append(c.targetIDs, r.TargetTopicID)
	}
	return c
}

// noticeSQL records the notices of jobs the worker still holds
// (leaseFence) in their replicator's history, with the replicator's state
// at the time; a notice already recorded (resent after a lost answer) is
// recorded once.
const noticeSQL = `WITH u AS (
		SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[]) WITH ORDINALITY
			AS u(id, epoch, token, at, code, message, n)
	)
	INSERT INTO replicator_events (replicator_id, at, state, code, message, kind)
	SELECT j.replicator_id, u.at, r.state, u.code, u.message, 'notice'
	FROM u JOIN jobs j ON j.id = u.id AND ` + leaseFence + `
	JOIN replicators r ON r.id = j.replicator_id
	ORDER BY u.at, u.n
	ON CONFLICT DO NOTHING`

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

type noticeCols struct {
	ids, epochs             []int64
	tokens, codes, messages []string
	at                      []time.Time
}

func noticeArgs(reports []fleet.JobReport) (c noticeCols) {
	for _, r := range reports {
		for _, n := range r.Notices {
			if n.Code == "" {
				continue
			}
			at := n.At
			if at.IsZero() {
				at = time.Now()
			}
			c.ids, c.epochs, c.tokens = append(c.ids, r.JobID), append(c.epochs, r.Epoch), append(c.tokens, r.Token)
			c.at, c.codes, c.messages = append(c.at, at), append(c.codes, n.Code), append(c.messages, n.Message)
		}
	}
	return c
}

// MappingPoints returns the newest mapping points (at most perPartition) of
// each of a replicator's partitions.
func (s *Store) MappingPoints(ctx context.Context, replicatorID string, perPartition int) ([]fleet.MappingPoint, error) {
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

// PruneMappings removes mapping points older than maxAge. The newest point
// of every partition is its checkpoint row, which stays.
func (s *Store) PruneMappings(ctx context.Context, maxAge time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM offset_mappings WHERE recorded_at < statement_timestamp() - $1::interval`, interval(maxAge))
	return int(tag.RowsAffected()), err
}

// Release stores the final checkpoints and notices of the worker's jobs
// and frees them at once. Only reports under the job's current lease
// (owner, epoch, token) count; the others are ignored. A leaving worker is
// forgotten, so that it no longer counts when jobs are shared out.
func (s *Store) Release(ctx context.Context, worker string, reports []fleet.JobReport, leaving bool) (int, error) {
	reports, _ = validReports(reports)
	var ids, epochs []int64
	var tokens []string
	for _, r := range reports {
		ids, epochs, tokens = append(ids, r.JobID), append(epochs, r.Epoch), append(tokens, r.Token)
	}
	cp, nt := checkpointArgs(reports), noticeArgs(reports)
	n := 0
	err := pgx.BeginFunc(ctx, s.leasePool(), func(tx pgx.Tx) error {
		// Job rows first, in id order (as heartbeats and topology reports
		// lock them), then checkpoints.
		if _, err := tx.Exec(ctx, `SELECT j.id FROM jobs j JOIN unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(id, epoch, token) ON u.id = j.id
			WHERE `+leaseFence+` ORDER BY j.id FOR UPDATE OF j`, worker, ids, epochs, tokens); err != nil {
			return err
		}
		if len(cp.ids) > 0 {
			if _, err := tx.Exec(ctx, checkpointSQL, worker, cp.ids, cp.epochs, cp.tokens, cp.offsets, cp.targets, cp.targetIDs); err != nil {
				return err
			}
		}
		if len(nt.ids) > 0 {
			if _, err := tx.Exec(ctx, noticeSQL, worker, nt.ids, nt.epochs, nt.tokens, nt.at, nt.codes, nt.messages); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, trimEventsSQL, nt.ids, MaxEventsPerReplicator); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE jobs j SET owner = NULL, last_owner = j.owner, lease_expires_at = NULL, lease_token = NULL, revoke = false
			FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(id, epoch, token)
			WHERE j.id = u.id AND j.owner = $1 AND j.epoch = u.epoch AND j.lease_token = u.token`, worker, ids, epochs, tokens)
		n = int(tag.RowsAffected())
		if err != nil || !leaving {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM workers WHERE id = $1`, worker)
		return err
	})
	return n, err
}

// ErrLeaseLost is returned when an action under a lease finds the lease
// gone.
var ErrLeaseLost = errors.New("lease lost")

// ReplicatorSpec returns what a worker needs to run a replicator's jobs.
func (s *Store) ReplicatorSpec(ctx context.Context, id string) (*fleet.ReplicatorSpec, error) {
	r, err := scanReplicator(s.pool.QueryRow(ctx, `SELECT `+replicatorColumns+` FROM replicators WHERE id = $1`, id), s.specs)
	if err != nil {
		return nil, err
	}
	return &fleet.ReplicatorSpec{ID: r.ARN.ID, ARN: r.ARN.String(), Name: r.Name, AccountID: r.AccountID,
		SpecVersion: r.SpecVersion, State: r.State, Spec: r.Spec}, nil
}

// TryLead takes or renews the leader lease of role for holder and reports
// whether holder leads.
func (s *Store) TryLead(ctx context.Context, role, holder string, ttl time.Duration) (bool, error) {
	var term int64
	err := s.pool.QueryRow(ctx, `INSERT INTO leaders (role, holder, term, expires_at) VALUES ($1, $2, 1, statement_timestamp() + $3::interval)
		ON CONFLICT (role) DO UPDATE SET holder = $2, expires_at = statement_timestamp() + $3::interval,
			term = CASE WHEN leaders.holder = $2 THEN leaders.term ELSE leaders.term + 1 END
		WHERE leaders.holder = $2 OR leaders.expires_at < statement_timestamp()
		RETURNING term`, role, holder, interval(ttl)).Scan(&term)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ExpireLeases frees jobs whose lease has expired and returns how many.
func (s *Store) ExpireLeases(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET last_owner = owner, owner = NULL, lease_expires_at = NULL, lease_token = NULL, revoke = false
		WHERE id IN (SELECT id FROM jobs WHERE owner IS NOT NULL AND lease_expires_at < statement_timestamp()
			ORDER BY id FOR UPDATE SKIP LOCKED)`)
	return int(tag.RowsAffected()), err
}

// Rebalance asks workers that hold more than their share of a replicator's
// jobs (ceil(jobs / live workers)) to give back the excess, keeping the
// metadata job and the oldest grants. It returns how many jobs it revoked.
func (s *Store) Rebalance(ctx context.Context, ttl time.Duration) (int, error) {
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

// ReplicatorHealth is a replicator's state and what its jobs say, for the
// scheduler's state machine.
type ReplicatorHealth struct {
	ID, Name, AccountID   string
	State                 replicator.State
	StateCode, StateMsg   string
	SpecVersion, TopoVer  int64
	Jobs, Running         int
	FailingSince          *time.Time
	FailCode, FailMessage string
	// Fatal says a leased job reports a fatal error (fleet.JobError.Fatal):
	// the replicator fails at once, without the failure threshold.
	Fatal bool
}

// Health returns every replicator that is not being deleted, with counts of
// its jobs and of those leased, heartbeating and on the current spec, and
// its oldest unresolved job error. One pass over jobs, one over
// replicators; the error details are looked up only for failing ones.
func (s *Store) Health(ctx context.Context) ([]ReplicatorHealth, error) {
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
	hs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReplicatorHealth, error) {
		var h ReplicatorHealth
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

// RevokeDeleting asks the holders of a deleting replicator's jobs to give
// them back.
func (s *Store) RevokeDeleting(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET revoke = true WHERE id IN (
		SELECT j.id FROM jobs j JOIN replicators r ON r.id = j.replicator_id
		WHERE r.state = 'DELETING' AND j.owner IS NOT NULL AND NOT j.revoke ORDER BY j.id FOR UPDATE OF j SKIP LOCKED)`)
	return int(tag.RowsAffected()), err
}

// Workers lists the workers seen within ttl and the leases they hold.
func (s *Store) Workers(ctx context.Context, ttl time.Duration) ([]fleet.WorkerInfo, error) {
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

// JobStatus is one job as the status endpoint shows it.
type JobStatus struct {
	JobID          int64
	Kind           string
	Topic          string
	Partition      int32
	Owner          string
	Epoch          int64
	LeaseExpiresAt *time.Time
	HeartbeatAt    *time.Time
	SpecVersion    int64
	Error          *fleet.JobError
	Progress       *fleet.PartitionProgress
	NextOffset     *int64
}

// Jobs returns a replicator's jobs with their owners and latest reports.
func (s *Store) Jobs(ctx context.Context, replicatorID string) ([]JobStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT j.id, j.kind, j.topic, j.partition,
			CASE WHEN j.lease_expires_at > statement_timestamp() THEN COALESCE(j.owner, '') ELSE '' END,
			j.epoch, CASE WHEN j.lease_expires_at > statement_timestamp() THEN j.lease_expires_at END, j.heartbeat_at, j.spec_version,
			j.status, j.progress, c.next_offset
		FROM jobs j LEFT JOIN checkpoints c ON c.replicator_id = j.replicator_id AND c.topic = j.topic AND c.partition = j.partition
		WHERE j.replicator_id = $1 ORDER BY j.kind, j.topic, j.partition`, replicatorID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (JobStatus, error) {
		var js JobStatus
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

// FleetGauges are the fleet figures the control plane exports at scrape
// time: each live worker's heartbeat age, and each replicator's lag as its
// workers last reported it.
type FleetGauges struct {
	HeartbeatAge map[string]float64 // worker → seconds since it was last heard from
	Lag          []ReplicatorLag
}

// ReplicatorLag is a replicator's total lag in records.
type ReplicatorLag struct {
	Name, AccountID string
	Lag             int64
	Partitions      int
}

// Gauges reads the fleet figures. A replicator's lag is capped at the
// largest int64: the lags come from high watermarks a tenant's cluster
// states, and a sum past it must not fail every tenant's gauges.
func (s *Store) Gauges(ctx context.Context, ttl time.Duration) (FleetGauges, error) {
	g := FleetGauges{HeartbeatAge: map[string]float64{}}
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
	g.Lag, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReplicatorLag, error) {
		var l ReplicatorLag
		return l, row.Scan(&l.Name, &l.AccountID, &l.Lag, &l.Partitions)
	})
	return g, err
}

// newLeaseToken returns a lease secret: 128 random bits.
func newLeaseToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
