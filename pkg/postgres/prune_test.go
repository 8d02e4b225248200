package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// TestPruneMappings removes the mapping points older than the age given;
// the newest point of each partition, its checkpoint row, stays.
func TestPruneMappings(t *testing.T) {
	f := newFleetDB(t)
	rid, _, parts := f.started("prune", "w1", 1)
	part := parts[0]
	// The first checkpoint is recorded as a point; the second, within 5
	// seconds, only in the checkpoint row.
	for _, cp := range [][2]int64{{10, 20}, {30, 40}} {
		if hb, err := f.s.Heartbeat(f.ctx, "w1", []fleet.JobReport{report(part, cp[0], cp[1])}, f.ttl); err != nil || len(hb.Renewed) != 1 {
			t.Fatalf("heartbeat: %+v %v", hb, err)
		}
	}
	f.exec(`UPDATE offset_mappings SET recorded_at = now() - interval '2 hours'`)
	f.exec(`INSERT INTO offset_mappings (replicator_id, topic, partition, source_offset, target_offset) VALUES ($1, 'orders', 0, 25, 35)`, rid)
	n, err := f.s.PruneMappings(f.ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("PruneMappings: %d %v, want 1", n, err)
	}
	points, err := f.s.MappingPoints(f.ctx, rid, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(points), "[{orders 0 30 40 } {orders 0 25 35 }]"; got != want {
		t.Fatalf("points %s, want %s", got, want)
	}
}
