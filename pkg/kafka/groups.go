// Consumer group offset sync, a step of the metadata job: the committed
// offsets of source groups, translated (translate.go), committed on the
// target.

package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// syncGroups translates the committed offsets of matching source groups
// through the mapping points and commits them on the target for groups
// with no active members there. It never moves a target offset backwards.
// What each offset becomes is decided in translate.go.
func (t *metaTask) syncGroups(ctx context.Context, cl *clients, flow *Flow, detectNew bool) error {
	groups, err := t.groupsToSync(ctx, cl, flow, detectNew)
	if err != nil {
		return err
	}
	name, account := t.r.labels()
	t.r.e.cfg.Metrics.groups.WithLabelValues(name, account).Set(float64(len(groups)))
	if len(groups) == 0 || t.r.e.cfg.Checkpoints == nil {
		return nil
	}
	points, err := t.r.e.cfg.Checkpoints(ctx, t.r.id)
	if err != nil {
		return err
	}
	logs, err := readTargetLogs(ctx, cl, targetTopics(points, flow))
	if err != nil {
		return err
	}
	index := mappingIndex(points, flow, logs.ids)
	described, err := cl.dstAdm.DescribeGroups(ctx, groups...)
	if err != nil {
		return err
	}
	fetched := cl.srcAdm.FetchManyOffsets(ctx, groups...)
	var errs []error
	for _, g := range groups {
		if d, ok := described[g]; ok && d.Err == nil && len(d.Members) > 0 {
			continue // consumers are active on the target: leave the group alone
		}
		if err := syncGroup(ctx, cl, flow, g, fetched[g], index, logs); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

// groupsToSync lists the source's groups the flow copies: with
// detectNew, all of them; without, only those there at the job's first
// sync.
func (t *metaTask) groupsToSync(ctx context.Context, cl *clients, flow *Flow, detectNew bool) ([]string, error) {
	listed, err := cl.srcAdm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var groups []string
	first := t.knownGroups == nil
	if first {
		t.knownGroups = map[string]bool{}
	}
	for _, g := range listed.Groups() {
		if !flow.CopiesGroup(g) {
			continue
		}
		if first {
			t.knownGroups[g] = true
		}
		if !detectNew && !t.knownGroups[g] {
			continue
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// targetLogs are the target topics as they are now: their IDs (points of
// an earlier topic of the same name count in other offsets) and their
// logs' start and end (a group is never moved outside them).
type targetLogs struct {
	ids          map[string]string
	starts, ends kadm.ListedOffsets
}

// readTargetLogs reads the IDs and log bounds of the target topics names.
func readTargetLogs(ctx context.Context, cl *clients, names []string) (targetLogs, error) {
	var l targetLogs
	if len(names) == 0 {
		return l, nil
	}
	td, err := cl.dstAdm.ListTopics(ctx, names...)
	if err != nil {
		return l, err
	}
	l.ids = map[string]string{}
	for n, d := range td {
		if d.Err == nil && d.ID != (kadm.TopicID{}) {
			l.ids[n] = d.ID.String()
		}
	}
	if l.starts, err = cl.dstAdm.ListStartOffsets(ctx, names...); err != nil {
		return l, err
	}
	if l.ends, err = cl.dstAdm.ListEndOffsets(ctx, names...); err != nil {
		return l, err
	}
	return l, nil
}

// bounds returns the start and end of a target partition's log, ok=false
// when either is unknown.
func (l targetLogs) bounds(topic string, p int32) (start, end int64, ok bool) {
	s, ok1 := l.starts.Lookup(topic, p)
	e, ok2 := l.ends.Lookup(topic, p)
	if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
		return 0, 0, false
	}
	return s.Offset, e.Offset, true
}

// syncGroup commits on the target the translation of group g's committed
// source offsets (src), where syncPos.next moves them.
func syncGroup(ctx context.Context, cl *clients, flow *Flow, g string, src kadm.FetchOffsetsResponse, index map[tp][]fleet.MappingPoint, logs targetLogs) error {
	if src.Err != nil {
		return src.Err
	}
	type cand struct {
		topic     string
		partition int32
		at        int64
		ok        bool
	}
	var cands []cand
	src.Fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 || !flow.CopiesTopic(o.Topic) {
			return
		}
		at, ok := Translate(index[tp{o.Topic, o.Partition}], o.At)
		cands = append(cands, cand{flow.TargetTopic(o.Topic), o.Partition, at, ok})
	})
	if len(cands) == 0 {
		return nil
	}
	cur, curErr := cl.dstAdm.FetchOffsets(ctx, g)
	out := kadm.Offsets{}
	for _, c := range cands {
		var now syncPos
		if curErr == nil {
			if o, ok := cur.Lookup(c.topic, c.partition); ok && o.Err == nil && o.At >= 0 {
				now.cur, now.haveCur = o.At, true
			}
		}
		now.start, now.end, now.haveBounds = logs.bounds(c.topic, c.partition)
		now.translated, now.haveTranslation = c.at, c.ok
		if at, ok := now.next(); ok {
			out.Add(kadm.Offset{Topic: c.topic, Partition: c.partition, At: at, LeaderEpoch: -1})
		}
	}
	if len(out) == 0 {
		return nil
	}
	resp, err := cl.dstAdm.CommitOffsets(ctx, g, out)
	if err == nil {
		err = resp.Error()
	}
	return err
}
