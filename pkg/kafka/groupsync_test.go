package kafka

import "testing"

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
