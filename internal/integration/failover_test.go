//go:build integration

package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/scenario"
)

// owners returns, per worker ID, the jobs of a replicator it holds, and
// whether every partition job's checkpoint reached want[partition].
func owners(h *scenario.T, arn string, want map[int32]int64) (map[string]int, bool) {
	h.Helper()
	out := map[string]int{}
	caughtUp := true
	jobs, _ := h.Status(arn)["jobs"].([]any)
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		owner, _ := job["owner"].(string)
		out[owner]++
		if job["kind"] == "metadata" || want == nil {
			continue
		}
		p, ok := job["partition"].(float64)
		if !ok {
			continue
		}
		cp, ok := job["checkpoint"].(float64)
		if !ok || int64(cp) < want[int32(p)] {
			caughtUp = false
		}
	}
	return out, caughtUp
}

// TestWorkerFailover kills a worker with SIGKILL: its jobs move to the
// other worker after the lease TTL and resume from their checkpoints, so
// every record arrives, exactly once when the checkpoints were current.
// Then a worker that stops with SIGTERM hands its jobs over at once.
// Both workers are running again when the test ends. (Real processes
// only: it kills them. Deadlines are in-process sizes, stretched ×6.)
func TestWorkerFailover(t *testing.T) {
	h := newT(t, "failover")
	t.Cleanup(func() {
		for i := range numWorkers {
			if suite.workers[i].Exited() {
				if _, err := startWorker(i); err != nil {
					t.Errorf("restarting %s: %v", workerID(i), err)
				}
			}
		}
	})
	src, dst := h.Sys.Source(), h.Sys.Target()
	topic := h.Unique("stream")
	const parts = 4
	h.CreateTopic(src, parts, nil, topic)
	target := src.Alias() + "." + topic
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seq := 0
	batch := func(n int) {
		var rs []*kgo.Record
		for range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(seq % parts), Value: []byte(fmt.Sprintf("r%05d", seq))})
			seq++
		}
		h.Produce(prod, rs...)
	}
	batch(200)
	arn := h.Create(scenario.Spec{Name: "failover", Earliest: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	h.ReadAll(dst, target, 200, 10*time.Second)

	// Both workers hold jobs, and every checkpoint is at the end.
	ends, _ := h.EndOffsets(src, topic)
	var before map[string]int
	h.Eventually(5*time.Second, "jobs spread over both workers, checkpoints current", func() error {
		o, ok := owners(h, arn, ends)
		before = o
		if o[workerID(0)] == 0 || o[workerID(1)] == 0 || !ok {
			return fmt.Errorf("owners %v, checkpoints current %v", o, ok)
		}
		return nil
	})
	t.Logf("jobs before: %v", before)

	// kill -9 worker 2: no release, its leases expire.
	victim := suite.workers[1]
	victim.Kill()
	killed := time.Now()
	batch(200)
	took := h.Eventually(10*time.Second, "worker 1 holds every job", func() error {
		o, _ := owners(h, arn, nil)
		if o[workerID(0)] != total(before) {
			return fmt.Errorf("owners %v", o)
		}
		return nil
	})
	t.Logf("jobs moved %s after SIGKILL (lease TTL 5s)", took.Round(100*time.Millisecond))
	got := h.ReadAll(dst, target, 400, 10*time.Second)
	checkExactlyInOrder(t, got, 400, parts)
	t.Logf("all 400 records on the target %s after SIGKILL", time.Since(killed).Round(100*time.Millisecond))

	// Worker 2 comes back and gets a share again.
	if _, err := startWorker(1); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, "jobs spread again", func() error {
		o, _ := owners(h, arn, nil)
		if o[workerID(0)] == 0 || o[workerID(1)] == 0 {
			return fmt.Errorf("owners %v", o)
		}
		return nil
	})

	// SIGTERM worker 1: it releases its leases, so they move well within
	// the lease TTL.
	ends, _ = h.EndOffsets(src, topic)
	h.Eventually(5*time.Second, "checkpoints current", func() error {
		if _, ok := owners(h, arn, ends); !ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	suite.workers[0].Stop(stopGrace)
	stopped := time.Now()
	took = h.Eventually(10*time.Second, "worker 2 holds every job", func() error {
		o, _ := owners(h, arn, nil)
		if o[workerID(1)] != total(before) {
			return fmt.Errorf("owners %v", o)
		}
		return nil
	})
	t.Logf("jobs moved %s after SIGTERM", took.Round(100*time.Millisecond))
	batch(100)
	got = h.ReadAll(dst, target, 500, 10*time.Second)
	checkExactlyInOrder(t, got, 500, parts)
	t.Logf("all 500 records on the target %s after SIGTERM", time.Since(stopped).Round(100*time.Millisecond))
	if _, err := startWorker(0); err != nil {
		t.Fatal(err)
	}
	if d := h.Describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("replicator %s after the failovers", scenario.StateString(d))
	}
}

// total counts the jobs in an owners map.
func total(o map[string]int) int {
	n := 0
	for _, c := range o {
		n += c
	}
	return n
}

// checkExactlyInOrder checks that the target holds records r00000.. once
// each, in source order within each partition (record i in partition
// i % parts).
func checkExactlyInOrder(t *testing.T, got []*kgo.Record, n, parts int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	var dups, missing []string
	for i := range n {
		v := fmt.Sprintf("r%05d", i)
		switch c := seen[v]; {
		case c == 0:
			missing = append(missing, v)
		case c > 1:
			dups = append(dups, fmt.Sprintf("%s×%d", v, c))
		}
	}
	if len(missing) > 0 || len(dups) > 0 || len(got) != n {
		t.Fatalf("%d records on the target, want %d: missing %v, duplicated %v", len(got), n, missing, dups)
	}
	for p, rs := range scenario.ByPartition(got) {
		for i, r := range rs {
			if want := fmt.Sprintf("r%05d", i*parts+int(p)); string(r.Value) != want {
				t.Fatalf("partition %d position %d holds %s, want %s", p, i, r.Value, want)
			}
		}
	}
}
