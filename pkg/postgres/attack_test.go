package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestNULInOneReportCostsNoOtherLease: the text of a report (an error
// message, a notice, the target topic of the progress) comes in part from
// the clusters a tenant controls: a broker's error message, a topic name
// from the source's metadata. PostgreSQL refuses U+0000 in text and jsonb,
// so one report carrying it must not make the whole heartbeat fail: the
// other reports of the request (other replicators' jobs, other accounts')
// must still renew their leases.
func TestNULInOneReportCostsNoOtherLease(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(r *fleet.JobReport)
	}{
		{"error message", func(r *fleet.JobReport) {
			r.Error = &fleet.JobError{Code: "SourceUnreachable", Message: "broker said \x00 bye", Since: time.Now()}
		}},
		{"error code", func(r *fleet.JobReport) {
			r.Error = &fleet.JobError{Code: "X\x00", Message: "m", Since: time.Now()}
		}},
		{"notice message", func(r *fleet.JobReport) {
			r.Notices = []fleet.Notice{{Code: "TargetTopicRecreated", Message: "topic a\x00b re-created", At: time.Now()}}
		}},
		{"progress target topic", func(r *fleet.JobReport) {
			r.Progress = &fleet.PartitionProgress{TargetTopic: "src.a\x00b", LastOffset: 1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleetDB(t)
			victim := f.create("victim", replicator.StartEarliest)
			hostile := f.create("hostile", replicator.StartEarliest)
			var vl, hl fleet.Lease
			for _, l := range f.acquire("w1") {
				switch l.ReplicatorID {
				case victim:
					vl = l
				case hostile:
					hl = l
				}
			}
			if vl.JobID == 0 || hl.JobID == 0 {
				t.Fatal("metadata jobs not granted")
			}
			bad := md2report(hl)
			tc.set(&bad)
			hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{md2report(vl), bad}, f.ttl)
			if err != nil {
				t.Fatalf("one report with a NUL failed the whole heartbeat (every lease in it is lost): %v", err)
			}
			renewed := false
			for _, id := range hb.Renewed {
				if id == vl.JobID {
					renewed = true
				}
			}
			if !renewed {
				t.Fatalf("the other replicator's lease was not renewed: %+v", hb)
			}
		})
	}
}

// TestHugeLagsDoNotBreakFleetGauges: a partition's lag is the source's
// high watermark minus the checkpoint, and the high watermark is what the
// tenant's source cluster says (a fake broker can say 2^63-1). The sum of
// a replicator's lags must not overflow into an error that takes every
// tenant's fleet gauges (replicator_fleet_message_lag, the workers'
// heartbeat ages) off /metrics.
func TestHugeLagsDoNotBreakFleetGauges(t *testing.T) {
	f := newFleetDB(t)
	hostile := f.create("hostile-lag", replicator.StartEarliest)
	f.create("other-lag", replicator.StartEarliest)
	for _, md := range f.acquire("w1") {
		f.report(md, "w1", topic("t", "ID-"+md.ReplicatorID[:8], 2, 10))
	}
	var reps []fleet.JobReport
	for _, l := range f.acquire("w1") {
		if l.Kind != fleet.KindPartition {
			continue
		}
		rep := report(l, 0, 0)
		lag := int64(5)
		if l.ReplicatorID == hostile {
			lag = 1<<63 - 1
		}
		rep.Progress = &fleet.PartitionProgress{TargetTopic: "src.t", HighWatermark: lag, Lag: lag}
		reps = append(reps, rep)
	}
	if len(reps) != 4 {
		t.Fatalf("%d partition leases", len(reps))
	}
	if hb, err := f.s.Heartbeat(f.ctx, "w1", reps, f.ttl); err != nil || len(hb.Renewed) != 4 {
		t.Fatalf("heartbeat: %+v %v", hb, err)
	}
	g, err := f.s.Gauges(f.ctx, f.ttl)
	if err != nil {
		t.Fatalf("the fleet gauges of every tenant fail because of one replicator's lag: %v", err)
	}
	for _, l := range g.Lag {
		if l.Name == "other-lag" && l.Lag != 10 {
			t.Fatalf("other replicator's lag %d, want 10", l.Lag)
		}
		if l.Name == "hostile-lag" && l.Lag < 0 {
			t.Fatalf("hostile replicator's lag wrapped to %d", l.Lag)
		}
	}
}

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
