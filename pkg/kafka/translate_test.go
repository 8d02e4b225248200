// Table tests of offset translation (translate.go).

package kafka

import (
	"slices"
	"testing"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// TestTranslate: a committed source offset maps to the target offset of
// the newest mapping point at or before it: exactly at a point (a group
// caught up with a replicator that is caught up), re-reading what lies
// between a point and the offset otherwise, never skipping; an offset
// before every point has no translation.
func TestTranslate(t *testing.T) {
	// Newest first, as mappingIndex orders them: source 0..99 went to
	// target 500..599, then (a target topic with earlier records, or
	// aborted transactions on the source) source 100..149 to 620..669.
	points := []fleet.MappingPoint{
		{SourceOffset: 150, TargetOffset: 670},
		{SourceOffset: 100, TargetOffset: 600},
		{SourceOffset: 40, TargetOffset: 540},
	}
	for _, c := range []struct {
		name   string
		points []fleet.MappingPoint
		s      int64
		at     int64
		ok     bool
	}{
		{"no points", nil, 10, 0, false},
		{"before every point", points, 39, 0, false},
		{"at the oldest point", points, 40, 540, true},
		{"between points: from the point before (re-reads 40..69)", points, 70, 540, true},
		{"just before a point", points, 99, 540, true},
		{"at a point", points, 100, 600, true},
		{"caught up: the newest point", points, 150, 670, true},
		{"beyond the newest point", points, 1000, 670, true},
		{"offsets that differ by a gap on the target", []fleet.MappingPoint{{SourceOffset: 10, TargetOffset: 0}}, 10, 0, true},
	} {
		at, ok := Translate(c.points, c.s)
		if at != c.at || ok != c.ok {
			t.Errorf("%s: Translate(%d) = %d, %v; want %d, %v", c.name, c.s, at, ok, c.at, c.ok)
		}
	}
}

// TestSyncedGroupOffset: the group offset sync keeps translations inside
// the target's log, never moves an offset backwards, and replaces an
// offset beyond the log's end (committed for a target topic deleted and
// created again since) even with none or a smaller translation.
func TestSyncedGroupOffset(t *testing.T) {
	for _, c := range []struct {
		name string
		p    syncPos
		at   int64
		ok   bool
	}{
		{"first sync", syncPos{translated: 40, haveTranslation: true, start: 0, end: 100, haveBounds: true}, 40, true},
		{"forward", syncPos{translated: 40, haveTranslation: true, cur: 30, haveCur: true, end: 100, haveBounds: true}, 40, true},
		{"never backwards", syncPos{translated: 40, haveTranslation: true, cur: 50, haveCur: true, end: 100, haveBounds: true}, 0, false},
		{"equal", syncPos{translated: 40, haveTranslation: true, cur: 40, haveCur: true, end: 100, haveBounds: true}, 0, false},
		{"no translation", syncPos{cur: 30, haveCur: true, end: 100, haveBounds: true}, 0, false},
		{"below the log start", syncPos{translated: 5, haveTranslation: true, start: 10, end: 100, haveBounds: true}, 10, true},
		{"past the log end", syncPos{translated: 120, haveTranslation: true, end: 100, haveBounds: true}, 100, true},
		{"stale offset of a deleted target topic, translated", syncPos{translated: 298, haveTranslation: true, cur: 18992, haveCur: true, end: 300, haveBounds: true}, 298, true},
		{"stale offset, no translation yet: re-read from the start", syncPos{cur: 18992, haveCur: true, start: 0, end: 300, haveBounds: true}, 0, true},
		{"bounds unknown: as before", syncPos{translated: 40, haveTranslation: true, cur: 18992, haveCur: true}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			at, ok := c.p.next()
			if at != c.at || ok != c.ok {
				t.Fatalf("next() = %d, %v; want %d, %v", at, ok, c.at, c.ok)
			}
		})
	}
}

// TestMappingIndex: points are grouped by source partition, newest first,
// without those of an earlier target topic of the same name.
func TestMappingIndex(t *testing.T) {
	flow := &Flow{SourceAlias: "src", TargetAlias: "dst"}
	pt := func(topic string, p int32, s, d int64, id string) fleet.MappingPoint {
		return fleet.MappingPoint{Topic: topic, Partition: p, SourceOffset: s, TargetOffset: d, TargetTopicID: id}
	}
	points := []fleet.MappingPoint{
		pt("a", 0, 10, 10, "A2"),
		pt("a", 0, 30, 5, "A2"),  // the first record in the new target topic
		pt("a", 0, 20, 20, "A1"), // counts in the deleted one
		pt("a", 1, 7, 7, ""),     // from before target topic IDs
		pt("b", 0, 3, 3, "B1"),   // target topic ID unknown now
		pt("a", 0, 25, 25, ""),
	}
	ids := map[string]string{"src.a": "A2"}
	got := mappingIndex(points, flow, ids)
	want := map[tp][]fleet.MappingPoint{
		{"a", 0}: {pt("a", 0, 30, 5, "A2"), pt("a", 0, 25, 25, ""), pt("a", 0, 10, 10, "A2")},
		{"a", 1}: {pt("a", 1, 7, 7, "")},
		{"b", 0}: {pt("b", 0, 3, 3, "B1")},
	}
	if len(got) != len(want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%v: %+v, want %+v", k, got[k], w)
		}
	}
	if at, ok := Translate(got[tp{"a", 0}], 27); !ok || at != 25 {
		t.Errorf("source 27 of a[0] translates to %d, %v; want 25 (never through the deleted topic's 20)", at, ok)
	}
	if names := targetTopics(points, flow); !slices.Equal(names, []string{"src.a", "src.b"}) {
		t.Errorf("target topics %v", names)
	}
}
