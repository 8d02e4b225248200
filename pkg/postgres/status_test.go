package postgres_test

import (
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

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

// TestStatusReadModels: what the status endpoint (Jobs, Events), GET
// /v1/workers (Workers) and GET /metrics (Gauges) are shown: each job with
// its owner and lease while the lease is valid, its checkpoint and latest
// report; the live workers with the leases they hold; the newest events
// first; each live worker's heartbeat age and each replicator's lag.
func TestStatusReadModels(t *testing.T) {
	f := newFleetDB(t)
	rid, md, parts := f.started("status", "w1", 2)
	p0, p1 := parts[0], parts[1]
	r0, r1 := report(p0, 5, 5), report(p1, 6, 6)
	r0.Progress = &fleet.PartitionProgress{TargetTopic: "src.orders", Lag: 3, Records: 5}
	r1.Error = &fleet.JobError{Code: "TargetUnreachable", Message: "no broker", Since: time.Now()}
	if _, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{md2report(md), r0, r1}, f.ttl); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.Acquire(f.ctx, "w2", map[string]string{"host": "h2"}, 0, f.ttl); err != nil {
		t.Fatal(err)
	}
	f.exec(`INSERT INTO workers (id, last_seen) VALUES ('gone', now() - interval '1 hour')`)
	f.exec(`UPDATE jobs SET lease_expires_at = now() - interval '1 millisecond' WHERE id = $1`, p1.JobID)

	jobs, err := f.s.Jobs(f.ctx, rid)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	md0, j0, j1 := jobs[0], jobs[1], jobs[2]
	if md0.Kind != fleet.KindMetadata || md0.Owner != "w1" || md0.NextOffset != nil {
		t.Fatalf("metadata job %+v", md0)
	}
	if j0.Owner != "w1" || j0.LeaseExpiresAt == nil || j0.HeartbeatAt == nil || j0.NextOffset == nil || *j0.NextOffset != 5 ||
		j0.Progress == nil || j0.Progress.Lag != 3 || j0.Error != nil || j0.SpecVersion != 1 {
		t.Fatalf("partition 0 %+v", j0)
	}
	if j1.Owner != "" || j1.LeaseExpiresAt != nil || j1.Error == nil || j1.Error.Code != "TargetUnreachable" || *j1.NextOffset != 6 {
		t.Fatalf("partition 1 (lease expired) %+v", j1)
	}

	ws, err := f.s.Workers(f.ctx, f.ttl)
	if err != nil || len(ws) != 2 || ws[0].ID != "w1" || len(ws[0].Jobs) != 2 || ws[1].ID != "w2" || len(ws[1].Jobs) != 0 || ws[1].Info["host"] != "h2" {
		t.Fatalf("workers %+v %v", ws, err)
	}
	if j := ws[0].Jobs[1]; j.JobID != p0.JobID || j.ReplicatorName != "status" || j.Topic != "orders" || j.Epoch != p0.Epoch {
		t.Fatalf("w1's lease %+v", j)
	}

	if _, err := f.s.SetState(f.ctx, rid, replicator.StateCreating, 1, replicator.StateRunning, "", ""); err != nil {
		t.Fatal(err)
	}
	evs, err := f.s.Events(f.ctx, rid, 1)
	if err != nil || len(evs) != 1 || evs[0].State != replicator.StateRunning || evs[0].Kind != "state" {
		t.Fatalf("newest event %+v %v", evs, err)
	}

	g, err := f.s.Gauges(f.ctx, f.ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.HeartbeatAge["gone"]; ok || len(g.HeartbeatAge) != 2 || g.HeartbeatAge["w1"] < 0 {
		t.Fatalf("heartbeat ages %v", g.HeartbeatAge)
	}
	if len(g.Lag) != 1 || g.Lag[0] != (fleet.ReplicatorLag{Name: "status", AccountID: account, Lag: 3, Partitions: 2}) {
		t.Fatalf("lags %+v", g.Lag)
	}
}
