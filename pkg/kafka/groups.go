package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// syncGroups translates the committed offsets of matching source groups
// through the mapping points and commits them on the target for groups
// with no active members there. It never moves a target offset backwards.
func (t *metaTask) syncGroups(ctx context.Context, cl *clients, flow *Flow, detectNew bool) error {
	listed, err := cl.srcAdm.ListGroups(ctx)
	if err != nil {
		return err
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
	name, account := t.r.labels()
	t.r.e.cfg.Metrics.groups.WithLabelValues(name, account).Set(float64(len(groups)))
	if len(groups) == 0 || t.r.e.cfg.Checkpoints == nil {
		return nil
	}
	points, err := t.r.e.cfg.Checkpoints(ctx, t.r.id)
	if err != nil {
		return err
	}
	// The target topics as they are now: their IDs (points of an earlier
	// topic of the same name count in other offsets) and their logs' start
	// and end (a group is never moved outside them).
	var targetNames []string
	seen := map[string]bool{}
	for _, p := range points {
		if n := flow.TargetTopic(p.Topic); !seen[n] {
			seen[n] = true
			targetNames = append(targetNames, n)
		}
	}
	var ids map[string]string
	var starts, ends kadm.ListedOffsets
	if len(targetNames) > 0 {
		td, err := cl.dstAdm.ListTopics(ctx, targetNames...)
		if err != nil {
			return err
		}
		ids = map[string]string{}
		for n, d := range td {
			if d.Err == nil && d.ID != (kadm.TopicID{}) {
				ids[n] = d.ID.String()
			}
		}
		if starts, err = cl.dstAdm.ListStartOffsets(ctx, targetNames...); err != nil {
			return err
		}
		if ends, err = cl.dstAdm.ListEndOffsets(ctx, targetNames...); err != nil {
			return err
		}
	}
	byTP := map[tp][]fleet.MappingPoint{}
	for _, p := range points {
		if id := ids[flow.TargetTopic(p.Topic)]; p.TargetTopicID != "" && id != "" && p.TargetTopicID != id {
			continue // counts in a target topic deleted since
		}
		byTP[tp{p.Topic, p.Partition}] = append(byTP[tp{p.Topic, p.Partition}], p)
	}
	for k := range byTP {
		slices.SortFunc(byTP[k], func(a, b fleet.MappingPoint) int { return int(b.SourceOffset - a.SourceOffset) })
	}
	bounds := func(topic string, p int32) (start, end int64, ok bool) {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			return 0, 0, false
		}
		return s.Offset, e.Offset, true
	}
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
		src := fetched[g]
		if src.Err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, src.Err))
			continue
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
			at, ok := Translate(byTP[tp{o.Topic, o.Partition}], o.At)
			cands = append(cands, cand{flow.TargetTopic(o.Topic), o.Partition, at, ok})
		})
		if len(cands) == 0 {
			continue
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
			now.start, now.end, now.haveBounds = bounds(c.topic, c.partition)
			now.translated, now.haveTranslation = c.at, c.ok
			if at, ok := now.next(); ok {
				out.Add(kadm.Offset{Topic: c.topic, Partition: c.partition, At: at, LeaderEpoch: -1})
			}
		}
		if len(out) == 0 {
			continue
		}
		resp, err := cl.dstAdm.CommitOffsets(ctx, g, out)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
		}
	}
	return errors.Join(errs...)
}
