package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// The fenced statements of the lease protocol (described in package
// fleet): acquire, heartbeat (renewal, progress, checkpoints, notices) and
// release; the topology report is in topology.go. Every statement that
// acts under a lease checks (owner, epoch, token) and an unexpired lease
// (leaseFence); a zero-row update means the lease is lost. Lease times use
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

// Acquire grants the worker free jobs up to its share of each replicator's
// jobs (ceil(jobs / live workers)) and at most max in total (0: no cap).
func (s *Store) Acquire(ctx context.Context, worker string, info map[string]string, max int, ttl time.Duration) (_ []fleet.Lease, _ fleet.AcquireStats, err error) {
	defer wrap(&err, "Acquire(%q)", worker)
	var (
		out   []fleet.Lease
		stats fleet.AcquireStats
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
	err = s.inTx(ctx, func(tx pgx.Tx) error {
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
func (s *Store) Heartbeat(ctx context.Context, worker string, reports []fleet.JobReport, ttl time.Duration) (_ fleet.HeartbeatResult, err error) {
	defer wrap(&err, "Heartbeat(%q)", worker)
	res := fleet.HeartbeatResult{Renewed: []int64{}, Lost: []int64{}, Revoke: []int64{}, SpecVersions: map[string]int64{}}
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
	err = func() error {
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

// Release stores the final checkpoints and notices of the worker's jobs
// and frees them at once. Only reports under the job's current lease
// (owner, epoch, token) count; the others are ignored. A leaving worker is
// forgotten, so that it no longer counts when jobs are shared out.
func (s *Store) Release(ctx context.Context, worker string, reports []fleet.JobReport, leaving bool) (_ int, err error) {
	defer wrap(&err, "Release(%q)", worker)
	reports, _ = validReports(reports)
	var ids, epochs []int64
	var tokens []string
	for _, r := range reports {
		ids, epochs, tokens = append(ids, r.JobID), append(epochs, r.Epoch), append(tokens, r.Token)
	}
	cp, nt := checkpointArgs(reports), noticeArgs(reports)
	n := 0
	err = pgx.BeginFunc(ctx, s.leasePool(), func(tx pgx.Tx) error {
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

// newLeaseToken returns a lease secret: 128 random bits.
func newLeaseToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
