package fleetbench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestQuantile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.95, 10}, {0.9, 9}, {1, 10}, {0, 1}} {
		if got := quantile(d, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if quantile(nil, .5) != 0 {
		t.Error("quantile of nothing should be 0")
	}
}

// TestRunSmall runs every phase at a tiny scale against a test database.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole benchmark at a tiny scale (about 15 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	res, err := Run(ctx, Config{Jobs: 60, Workers: 6, Replicators: 3, TTL: 2 * time.Second, Duration: time.Second,
		Warmup: 200 * time.Millisecond, Kills: 1, SmallLeases: 2, Mappings: true, Vacuum: true,
		DatabaseURL: pgtest.URL(t), Command: "test", Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	// 3 replicators of 20 jobs over 6 workers: a share of ceil(20/6) = 4 of
	// each, 12 in all, so some workers may end up with fewer.
	if g := res.Grant; !g.Complete || g.DBLeased != 60 || g.MaxHeld > 12 {
		t.Errorf("grant: complete %v, %d leased, held %d..%d; want all 60 leased, at most 12 each", g.Complete, g.DBLeased, g.MinHeld, g.MaxHeld)
	}
	if h := res.Full; h.Requests == 0 || h.Renewals < h.Requests {
		t.Errorf("full heartbeats: %d requests, %d renewals", h.Requests, h.Renewals)
	}
	if h := res.Small; h == nil || h.Leases == 0 || h.Leases > 12 || h.Requests == 0 {
		t.Errorf("small heartbeats: none, or leases not trimmed to 2 per worker")
	}
	if res.Regrant == nil || !res.Regrant.Complete {
		t.Errorf("re-grant did not lease every job")
	}
	fo := res.Failover
	if fo == nil || len(fo.Kills) != 1 || fo.Kills[0].TimedOut || fo.Kills[0].Failover <= 0 {
		t.Fatal("failover: want one kill measured that did not time out")
	}
	if k := fo.Kills[0]; k.Failover > 2*time.Second+3*time.Second {
		t.Errorf("failover took %s with a 2 s TTL", k.Failover)
	}
	if errs, lost := res.errorTotals(); errs != 0 || lost != 0 {
		t.Errorf("%d errors, %d lost leases: %v", errs, lost, res.Errors)
	}
	md := res.Markdown()
	for _, want := range []string{"| metric | measured | goal | met? |", "heartbeat requests/s at 2 leases/worker", "failover p95"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
