package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// maxEventsKept is the bound the history of one replicator is expected to
// keep to (the newest events stay).
const maxEventsKept = 1000

// TestReplicatorHistoryIsBounded: notices (what jobs report) and discovery
// events go into replicator_events, in the PostgreSQL every tenant
// shares. What makes them is in a tenant's hands: a target topic deleted
// over and over, or a source whose metadata names a new topic ID at every
// discovery (every 500 ms by default: an event per topic each time). One
// replicator's history must stay bounded, the newest events kept.
func TestReplicatorHistoryIsBounded(t *testing.T) {
	t.Run("notices", func(t *testing.T) {
		f := newFleetDB(t)
		rid := f.create("noisy", replicator.StartEarliest)
		md := f.metadataLease("w1", rid)
		f.report(md, "w1", topic("t", "ID-T", 1, 10))
		var part fleet.Lease
		for _, l := range f.acquire("w1") {
			part = l
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		for round := range 80 {
			rep := report(part, 1, 1)
			for i := range fleet.MaxNoticesPerReport {
				rep.Notices = append(rep.Notices, fleet.Notice{Code: "TargetTopicRecreated", Message: "target topic src.t was not found (deleted?)",
					At: at.Add(time.Duration(round*fleet.MaxNoticesPerReport+i) * time.Millisecond)})
			}
			if hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{rep}, f.ttl); err != nil || len(hb.Renewed) != 1 {
				t.Fatalf("heartbeat: %+v %v", hb, err)
			}
		}
		if n := f.count(`SELECT count(*) FROM replicator_events WHERE replicator_id = $1`, rid); n > maxEventsKept {
			t.Fatalf("%d events kept for one replicator (1280 notices sent), want at most %d", n, maxEventsKept)
		}
		if evs := f.events(rid); len(evs) == 0 || !evs[0].At.Equal(at.Add(1279*time.Millisecond)) {
			t.Fatalf("the newest notice is not kept: %+v", evs[:min(1, len(evs))])
		}
	})
	t.Run("source topic IDs", func(t *testing.T) {
		f := newFleetDB(t)
		rid := f.create("flappy", replicator.StartEarliest)
		md := f.metadataLease("w1", rid)
		for round := range 60 {
			var topics []fleet.TopicInfo
			for i := range 25 {
				topics = append(topics, topic(fmt.Sprintf("t%02d", i), fmt.Sprintf("ID-%d-%d", i, round), 1, 10))
			}
			f.report(md, "w1", topics...)
		}
		if n := f.count(`SELECT count(*) FROM replicator_events WHERE replicator_id = $1`, rid); n > maxEventsKept {
			t.Fatalf("%d events kept for one replicator (1475 re-creations reported), want at most %d", n, maxEventsKept)
		}
	})
}
