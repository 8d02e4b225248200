package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// The topology report: the fenced statement by which a metadata job turns
// what it sees of the source into partition jobs.

// quotaLimits returns the quotas with "no limit" as the largest int.
func quotaLimits(q fleet.TopologyQuotas) fleet.TopologyQuotas {
	for _, v := range []*int{&q.Topics, &q.Partitions, &q.AccountPartitions} {
		if *v <= 0 {
			*v = math.MaxInt
		}
	}
	return q
}

// storedTopic is what the database holds of one source topic of a
// replicator.
type storedTopic struct {
	id       string          // its topic ID ("" if none was reported)
	hasEmpty bool            // some row of it has no topic ID yet
	jobs     map[int32]int64 // partition → job ID
	cps      map[int32]bool  // partitions with a checkpoint
}

// reportedTopic is one topic of a report, partitions deduplicated and in
// order.
type reportedTopic struct {
	name, id string
	parts    []fleet.PartitionInfo
}

// ReportTopology turns a metadata job's view of the source into partition
// jobs, under the metadata job's lease (owner, epoch, token):
//
//   - a topic whose reported ID differs from the stored one was deleted and
//     created again: it is a new topic. Its checkpoints and offset mappings
//     are deleted, its jobs start over at the earliest offset (whatever the
//     spec's starting position) and an event SourceTopicRecreated is
//     recorded. A job row is kept and retired in place (new epoch, no
//     token, same lease expiry), so its old holder loses the lease at its
//     next heartbeat and nobody else is granted it before that lease would
//     have expired: two workers never copy the partition at once. A stored
//     empty ID adopts the reported one;
//   - partitions that disappear lose their jobs, checkpoints and mappings,
//     with an event SourcePartitionsRemoved;
//   - every partition that has no job gets one and a checkpoint, within the
//     quotas: existing jobs are kept, new partitions of topics already
//     copied are added while they fit, then new topics in name order until
//     one does not fit; the rest get nothing and the result's Error says
//     so (QuotaExceeded, fatal);
//   - topics no longer reported lose their jobs (their checkpoints stay).
//
// The first report of a replicator starts partitions at their latest
// offset when the spec says LATEST; every later one starts new partitions
// at the start of their log.
//
// A report under a lease that is not the job's current one (another epoch
// or token, or expired) changes nothing and fails with fleet.ErrLeaseLost.
func (s *Store) ReportTopology(ctx context.Context, t fleet.Topology, quotas fleet.TopologyQuotas) (_ fleet.TopologyResult, err error) {
	defer wrap(&err, "ReportTopology(%q, job %d)", t.WorkerID, t.JobID)
	q := quotaLimits(quotas)
	var res fleet.TopologyResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		res = fleet.TopologyResult{}
		var rid, account, state string
		var specVersion, topoVersion int64
		var specJSON []byte
		// FOR NO KEY UPDATE: serialises reports and spec updates of the
		// replicator without blocking the inserts (events) that reference
		// it.
		err := tx.QueryRow(ctx, `SELECT r.id::text, r.account_id, r.spec_version, r.topology_version, r.state, r.spec
			FROM jobs j JOIN replicators r ON r.id = j.replicator_id
			WHERE j.id = $1 AND j.owner = $2 AND j.epoch = $3 AND j.lease_token = $4 AND j.lease_expires_at > statement_timestamp()
				AND j.kind = 'metadata'
			FOR NO KEY UPDATE OF r`, t.JobID, t.WorkerID, t.Epoch, t.Token).Scan(&rid, &account, &specVersion, &topoVersion, &state, &specJSON)
		if errors.Is(err, pgx.ErrNoRows) {
			return fleet.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if state == string(replicator.StateDeleting) || t.SpecVersion != specVersion {
			return nil // stale spec: the worker reports again with the new one
		}
		spec, err := fleet.DecodeSpec(specJSON)
		if err != nil {
			return err
		}
		latestFirst := topoVersion == 0 && len(spec.ReplicationInfo) > 0 && spec.ReplicationInfo[0].Topics.StartingPosition == replicator.StartLatest

		stored, err := loadStoredTopics(ctx, tx, rid)
		if err != nil {
			return err
		}
		reported := normalizeTopics(t.Topics)

		// The account's quota is shared by its replicators: their reports
		// take turns.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('replicator-quota:' || $1, 0))`, account); err != nil {
			return err
		}
		var others int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs j JOIN replicators r ON r.id = j.replicator_id
			WHERE r.account_id = $1 AND r.id <> $2 AND r.state <> 'DELETING' AND j.kind = 'partition'`, account, rid).Scan(&others); err != nil {
			return err
		}

		var (
			plan       topologyPlan
			lockIDs    []int64
			usedTopics int
			usedParts  int
		)
		plan.rid = rid
		// Existing jobs are kept; count them first.
		type growth struct {
			topic string
			p     fleet.PartitionInfo
		}
		var grow []growth
		var newTopics []reportedTopic
		reportedNames := map[string]bool{}
		for _, rt := range reported {
			reportedNames[rt.name] = true
			st := stored[rt.name]
			recreated := st != nil && st.id != "" && rt.id != "" && st.id != rt.id
			if recreated {
				plan.recreate(rt, st)
			} else if st != nil && rt.id != "" && st.hasEmpty {
				plan.adopt = append(plan.adopt, [2]string{rt.name, rt.id})
			}
			if st == nil || len(st.jobs) == 0 {
				newTopics = append(newTopics, rt)
				if st != nil && !recreated {
					plan.dropGone(rt, st) // checkpoints of partitions gone meanwhile
				}
				continue
			}
			usedTopics++
			exists := map[int32]bool{}
			for _, p := range rt.parts {
				exists[p.Partition] = true
				if _, ok := st.jobs[p.Partition]; ok {
					usedParts++
					if recreated {
						plan.retire = append(plan.retire, st.jobs[p.Partition])
						plan.addCheckpoint(rt, p, fleet.OffsetEarliest)
					}
				} else {
					grow = append(grow, growth{rt.name, p})
				}
			}
			if !recreated {
				plan.dropGone(rt, st)
			}
			for p, id := range st.jobs {
				if !exists[p] {
					plan.deleteJobs = append(plan.deleteJobs, id)
				}
			}
		}
		for name, st := range stored {
			if !reportedNames[name] {
				for _, id := range st.jobs {
					plan.deleteJobs = append(plan.deleteJobs, id)
				}
			}
		}
		// New partitions of topics already copied, then new topics in name
		// order, while they fit.
		var leftParts []string
		var leftTopics []reportedTopic
		fits := func(n int) bool { return usedParts+n <= q.Partitions && others+usedParts+n <= q.AccountPartitions }
		ids := map[string]string{}
		for _, rt := range reported {
			ids[rt.name] = rt.id
		}
		for _, g := range grow {
			if !fits(1) {
				leftParts = append(leftParts, fmt.Sprintf("%s/%d", g.topic, g.p.Partition))
				continue
			}
			usedParts++
			start := fleet.OffsetEarliest
			plan.addJob(g.topic, ids[g.topic], g.p, start)
		}
		for i, rt := range newTopics {
			if usedTopics+1 > q.Topics || !fits(len(rt.parts)) {
				leftTopics = newTopics[i:]
				break
			}
			usedTopics++
			usedParts += len(rt.parts)
			_, wasRecreated := plan.recreated[rt.name]
			for _, p := range rt.parts {
				start := fleet.OffsetEarliest
				if latestFirst && !wasRecreated {
					start = p.Latest
				}
				plan.addJob(rt.name, rt.id, p, start)
			}
		}
		lockIDs = append(append(lockIDs, plan.retire...), plan.deleteJobs...)
		if err := plan.apply(ctx, tx, lockIDs, state); err != nil {
			return err
		}
		res.Added, res.Removed, res.Recreated = plan.added, plan.removed, plan.recreatedNames
		if len(leftParts)+len(leftTopics) > 0 {
			res.Error = quotaError(q, reported, others, leftTopics, leftParts)
		}
		_, err = tx.Exec(ctx, `UPDATE replicators SET topology_version = $2 WHERE id = $1`, rid, specVersion)
		return err
	})
	return res, err
}

// loadStoredTopics reads a replicator's partition jobs and checkpoints.
func loadStoredTopics(ctx context.Context, tx pgx.Tx, rid string) (map[string]*storedTopic, error) {
	stored := map[string]*storedTopic{}
	get := func(name string) *storedTopic {
		st := stored[name]
		if st == nil {
			st = &storedTopic{jobs: map[int32]int64{}, cps: map[int32]bool{}}
			stored[name] = st
		}
		return st
	}
	note := func(st *storedTopic, id string) {
		if id == "" {
			st.hasEmpty = true
		} else if st.id == "" {
			st.id = id
		}
	}
	rows, err := tx.Query(ctx, `SELECT topic, partition, topic_id, id FROM jobs WHERE replicator_id = $1 AND kind = 'partition'`, rid)
	if err != nil {
		return nil, err
	}
	var (
		topic, id string
		part      int32
		jobID     int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&topic, &part, &id, &jobID}, func() error {
		st := get(topic)
		st.jobs[part] = jobID
		note(st, id)
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT topic, partition, topic_id FROM checkpoints WHERE replicator_id = $1`, rid)
	if err != nil {
		return nil, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&topic, &part, &id}, func() error {
		st := get(topic)
		st.cps[part] = true
		note(st, id)
		return nil
	}); err != nil {
		return nil, err
	}
	return stored, nil
}

// normalizeTopics returns the reported topics in name order, each once
// (the first report of a name wins), with their partitions in order, each
// once.
func normalizeTopics(in []fleet.TopicInfo) []reportedTopic {
	seen := map[string]bool{}
	out := make([]reportedTopic, 0, len(in))
	for _, ti := range in {
		if seen[ti.Name] {
			continue
		}
		seen[ti.Name] = true
		rt := reportedTopic{name: ti.Name, id: ti.ID}
		if strings.Trim(rt.id, "A=") == "" {
			rt.id = "" // the all-zero ID of a source without topic IDs ("AAAAAAAAAAAAAAAAAAAAAA==")
		}
		ps := map[int32]bool{}
		for _, p := range ti.Partitions {
			if !ps[p.Partition] {
				ps[p.Partition] = true
				rt.parts = append(rt.parts, p)
			}
		}
		slices.SortFunc(rt.parts, func(a, b fleet.PartitionInfo) int { return int(a.Partition) - int(b.Partition) })
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b reportedTopic) int { return strings.Compare(a.name, b.name) })
	return out
}

// topologyPlan is what a report changes, applied in one go.
type topologyPlan struct {
	rid string
	// jobs to retire in place (a re-created topic's partitions that still
	// exist) and to delete
	retire, deleteJobs []int64
	// recreated: topic → (old ID, new ID)
	recreated      map[string][2]string
	recreatedNames []string
	recreatedParts map[string]int
	adopt          [][2]string // (topic, ID) for rows without an ID
	// partitions that disappeared: their checkpoints and mappings go
	goneTopics []string
	goneParts  []int32
	goneJobs   map[string][]int32 // partitions that had a job, for the event
	// new checkpoints and jobs
	cpTopics, cpIDs   []string
	cpParts           []int32
	cpStarts          []int64
	jobTopics, jobIDs []string
	jobParts          []int32

	added, removed int
}

func (p *topologyPlan) recreate(rt reportedTopic, st *storedTopic) {
	if p.recreated == nil {
		p.recreated, p.recreatedParts = map[string][2]string{}, map[string]int{}
	}
	p.recreated[rt.name] = [2]string{st.id, rt.id}
	p.recreatedNames = append(p.recreatedNames, rt.name)
	p.recreatedParts[rt.name] = len(rt.parts)
}

// dropGone plans the removal of a topic's checkpoints (and mappings) of
// partitions it no longer has. A partition cannot come back as the same
// partition: Kafka never shrinks a topic, so it went with its topic.
func (p *topologyPlan) dropGone(rt reportedTopic, st *storedTopic) {
	exists := map[int32]bool{}
	for _, pi := range rt.parts {
		exists[pi.Partition] = true
	}
	var gone []int32
	for part := range st.cps {
		if !exists[part] {
			gone = append(gone, part)
		}
	}
	for part := range st.jobs {
		if !exists[part] && !st.cps[part] {
			gone = append(gone, part)
		}
	}
	slices.Sort(gone)
	for _, part := range gone {
		p.goneTopics, p.goneParts = append(p.goneTopics, rt.name), append(p.goneParts, part)
		if _, ok := st.jobs[part]; ok {
			if p.goneJobs == nil {
				p.goneJobs = map[string][]int32{}
			}
			p.goneJobs[rt.name] = append(p.goneJobs[rt.name], part)
		}
	}
}

func (p *topologyPlan) addCheckpoint(rt reportedTopic, pi fleet.PartitionInfo, start int64) {
	p.cpTopics, p.cpIDs, p.cpParts, p.cpStarts = append(p.cpTopics, rt.name), append(p.cpIDs, rt.id), append(p.cpParts, pi.Partition), append(p.cpStarts, start)
}

func (p *topologyPlan) addJob(topic, id string, pi fleet.PartitionInfo, start int64) {
	p.addCheckpoint(reportedTopic{name: topic, id: id}, pi, start)
	p.jobTopics, p.jobIDs, p.jobParts = append(p.jobTopics, topic), append(p.jobIDs, id), append(p.jobParts, pi.Partition)
}

// apply runs the plan. Job rows are locked first, in id order (as
// heartbeats, releases and the scheduler lock them), then checkpoints are
// changed: the same order as everywhere, so no deadlock.
func (p *topologyPlan) apply(ctx context.Context, tx pgx.Tx, lockIDs []int64, state string) error {
	if len(lockIDs) > 0 {
		if _, err := tx.Exec(ctx, `SELECT id FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE`, lockIDs); err != nil {
			return err
		}
	}
	event := func(code, msg string) error {
		_, err := tx.Exec(ctx, `INSERT INTO replicator_events (replicator_id, state, code, message, kind) VALUES ($1, $2, $3, $4, 'notice')
			ON CONFLICT DO NOTHING`, p.rid, state, code, fleet.Truncate(msg, fleet.MaxMessageBytes))
		return err
	}
	if len(p.recreatedNames) > 0 {
		names := p.recreatedNames
		if _, err := tx.Exec(ctx, `DELETE FROM offset_mappings WHERE replicator_id = $1 AND topic = ANY($2)`, p.rid, names); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM checkpoints WHERE replicator_id = $1 AND topic = ANY($2)`, p.rid, names); err != nil {
			return err
		}
		newIDs := make([]string, len(names))
		for i, n := range names {
			newIDs[i] = p.recreated[n][1]
		}
		// Retired in place: the holder's (epoch, token) no longer match, and
		// the lease expiry stays, so the job is granted again (at the
		// earliest offset) only once the old lease would have expired.
		if len(p.retire) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE jobs j SET topic_id = u.topic_id, epoch = j.epoch + 1, lease_token = NULL, heartbeat_at = NULL,
					revoke = false, status = '{}', progress = '{}'
				FROM unnest($2::text[], $3::text[]) AS u(topic, topic_id)
				WHERE j.id = ANY($1) AND j.topic = u.topic`, p.retire, names, newIDs); err != nil {
				return err
			}
		}
		for _, n := range names {
			ids := p.recreated[n]
			if err := event(fleet.EventSourceTopicRecreated, fmt.Sprintf(
				"source topic %s was deleted and created again (topic ID %s, was %s): it is copied as a new topic from the earliest offset of its %d partitions; the old topic's checkpoints and offset mappings are retired",
				n, ids[1], ids[0], p.recreatedParts[n])); err != nil {
				return err
			}
		}
	}
	if len(p.adopt) > 0 {
		var topics, ids []string
		for _, a := range p.adopt {
			topics, ids = append(topics, a[0]), append(ids, a[1])
		}
		for _, table := range []string{"checkpoints", "jobs"} {
			if _, err := tx.Exec(ctx, `UPDATE `+table+` t SET topic_id = u.topic_id FROM unnest($2::text[], $3::text[]) AS u(topic, topic_id)
				WHERE t.replicator_id = $1 AND t.topic = u.topic AND t.topic_id = ''`, p.rid, topics, ids); err != nil {
				return err
			}
		}
	}
	if len(p.goneTopics) > 0 {
		for _, table := range []string{"offset_mappings", "checkpoints"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` t USING unnest($2::text[], $3::int[]) AS u(topic, partition)
				WHERE t.replicator_id = $1 AND t.topic = u.topic AND t.partition = u.partition`, p.rid, p.goneTopics, p.goneParts); err != nil {
				return err
			}
		}
		names := make([]string, 0, len(p.goneJobs))
		for n := range p.goneJobs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := event(fleet.EventSourcePartitionsRemoved, fmt.Sprintf(
				"source topic %s no longer has partitions %s: they are no longer copied, and their checkpoints and offset mappings are removed",
				n, partList(p.goneJobs[n]))); err != nil {
				return err
			}
		}
	}
	if len(p.recreatedNames) > 0 || len(p.goneJobs) > 0 {
		if _, err := tx.Exec(ctx, trimReplicatorEventsSQL, p.rid, MaxEventsPerReplicator); err != nil {
			return err
		}
	}
	if len(p.deleteJobs) > 0 {
		tag, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = ANY($1)`, p.deleteJobs)
		if err != nil {
			return err
		}
		p.removed = int(tag.RowsAffected())
	}
	if len(p.cpTopics) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO checkpoints (replicator_id, topic, partition, next_offset, topic_id)
			SELECT $1::uuid, u.topic, u.partition, u.start, u.topic_id FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[]) AS u(topic, partition, start, topic_id)
			ON CONFLICT DO NOTHING`, p.rid, p.cpTopics, p.cpParts, p.cpStarts, p.cpIDs); err != nil {
			return err
		}
	}
	if len(p.jobTopics) > 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO jobs (replicator_id, kind, topic, partition, topic_id)
			SELECT $1::uuid, 'partition', u.topic, u.partition, u.topic_id FROM unnest($2::text[], $3::int[], $4::text[]) AS u(topic, partition, topic_id)
			ON CONFLICT DO NOTHING`, p.rid, p.jobTopics, p.jobParts, p.jobIDs)
		if err != nil {
			return err
		}
		p.added = int(tag.RowsAffected())
	}
	return nil
}

func partList(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

// quotaError says which quota the matched topics exceed and what is left
// out.
func quotaError(q fleet.TopologyQuotas, reported []reportedTopic, others int, leftTopics []reportedTopic, leftParts []string) *fleet.JobError {
	parts := 0
	for _, rt := range reported {
		parts += len(rt.parts)
	}
	var b strings.Builder
	limit := func(n int) string {
		if n == math.MaxInt {
			return "any number of"
		}
		return fmt.Sprintf("at most %d", n)
	}
	fmt.Fprintf(&b, "the source has %d topics with %d partitions that this replicator copies, over its quotas (%s topics and %s partitions per replicator, %s partitions per account, of which other replicators of the account use %d):",
		len(reported), parts, limit(q.Topics), limit(q.Partitions), limit(q.AccountPartitions), others)
	if len(leftTopics) > 0 {
		names := make([]string, 0, 5)
		for _, rt := range leftTopics[:min(5, len(leftTopics))] {
			names = append(names, rt.name)
		}
		more := ""
		if len(leftTopics) > 5 {
			more = ", …"
		}
		fmt.Fprintf(&b, " %d topics are not copied (%s%s);", len(leftTopics), strings.Join(names, ", "), more)
	}
	if len(leftParts) > 0 {
		more := ""
		if len(leftParts) > 5 {
			more = ", …"
		}
		fmt.Fprintf(&b, " %d new partitions of copied topics are not copied (%s%s);", len(leftParts), strings.Join(leftParts[:min(5, len(leftParts))], ", "), more)
	}
	b.WriteString(" narrow the replicator's topic patterns or raise the quotas")
	return &fleet.JobError{Code: fleet.CodeQuotaExceeded, Message: fleet.Truncate(b.String(), fleet.MaxMessageBytes), Since: time.Now().UTC(), Fatal: true}
}
