// Offset translation: a committed source offset mapped through a
// replicator's mapping points, and where the group offset sync moves a
// group on the target.

package kafka

import (
	"slices"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// Translate maps a committed source offset to a target offset through
// the partition's mapping points (newest first): the target offset of the
// newest point whose source offset is at most s. Exact when s is a mapping
// point (a caught-up group); otherwise it re-reads, never skips.
func Translate(points []fleet.MappingPoint, s int64) (int64, bool) {
	for _, p := range points {
		if p.SourceOffset <= s {
			return p.TargetOffset, true
		}
	}
	return 0, false
}

// syncPos is what the group offset sync knows of one partition of a group
// on the target.
type syncPos struct {
	translated      int64 // the group's source offset, translated
	haveTranslation bool
	cur             int64 // the group's offset on the target now
	haveCur         bool
	start, end      int64 // the target partition's log
	haveBounds      bool
}

// next decides the group's new target offset, or ok=false to leave it. A
// translation is kept inside the target's log; an offset never moves
// backwards, except one beyond the log's end, which was committed for an
// earlier target topic of the same name (deleted since): it moves to the
// translation, or to the log's start when there is none yet (re-reading,
// never skipping).
func (p syncPos) next() (int64, bool) {
	at := p.translated
	if p.haveBounds {
		at = max(p.start, min(at, p.end))
	}
	switch {
	case p.haveCur && p.haveBounds && p.cur > p.end:
		if !p.haveTranslation {
			return p.start, true
		}
		return at, true
	case !p.haveTranslation:
		return 0, false
	case p.haveCur && p.cur >= at:
		return 0, false
	}
	return at, true
}

// targetTopics lists, once each, the target topics the mapping points
// count in.
func targetTopics(points []fleet.MappingPoint, flow *Flow) []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range points {
		if n := flow.TargetTopic(p.Topic); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// mappingIndex groups a replicator's mapping points by source partition,
// newest (highest source offset) first as Translate wants them, leaving
// out the points that count in an earlier target topic of the same name
// (one whose ID is not the target topic's now, ids: target topic → ID).
// A point or a topic without an ID is kept.
func mappingIndex(points []fleet.MappingPoint, flow *Flow, ids map[string]string) map[tp][]fleet.MappingPoint {
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
	return byTP
}
