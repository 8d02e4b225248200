package workers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/simengine"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/workers"
)

// hookEngine is the simulated engine with a hook on every report, and
// tasks that take notice acknowledgements (fleet.NoticeAcker).
type hookEngine struct {
	*simengine.Engine
	mu    sync.Mutex
	hook  func(l fleet.Lease, r *fleet.JobReport)
	acked map[int64]time.Time
}

func newHookEngine(sim *simengine.Engine) *hookEngine {
	return &hookEngine{Engine: sim, acked: map[int64]time.Time{}}
}

func (e *hookEngine) setHook(h func(l fleet.Lease, r *fleet.JobReport)) {
	e.mu.Lock()
	e.hook = h
	e.mu.Unlock()
}

func (e *hookEngine) ackedAt(job int64) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.acked[job]
	return t, ok
}

func (e *hookEngine) Start(ctx context.Context, l fleet.Lease, spec *fleet.ReplicatorSpec, env fleet.TaskEnv) (fleet.Task, error) {
	t, err := e.Engine.Start(ctx, l, spec, env)
	if err != nil {
		return nil, err
	}
	return &hookTask{Task: t, e: e, l: l}, nil
}

type hookTask struct {
	fleet.Task
	e *hookEngine
	l fleet.Lease
}

func (t *hookTask) Report() fleet.JobReport {
	r := t.Task.Report()
	t.e.mu.Lock()
	h := t.e.hook
	t.e.mu.Unlock()
	if h != nil {
		h(t.l, &r)
	}
	return r
}

func (t *hookTask) AckNotices(upTo time.Time) {
	t.e.mu.Lock()
	t.e.acked[t.l.JobID] = upTo
	t.e.mu.Unlock()
}

// epochs returns job → epoch of the leases valid now.
func (f *fleetEnv) epochs() map[int64]int64 {
	f.t.Helper()
	rows, err := f.store.Pool().Query(context.Background(), `SELECT id, epoch FROM jobs WHERE owner IS NOT NULL AND lease_expires_at > now()`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, e int64
		if err := rows.Scan(&id, &e); err != nil {
			f.t.Fatal(err)
		}
		out[id] = e
	}
	return out
}

// holdsSteady checks that every lease in before is still valid under the
// same epoch (never lost and re-granted) for a while: at least two TTLs.
func (f *fleetEnv) holdsSteady(before map[int64]int64) {
	f.t.Helper()
	deadline := time.Now().Add(2*f.ttl + time.Second)
	for time.Now().Before(deadline) {
		now := f.epochs()
		for id, e := range before {
			if now[id] != e {
				f.t.Fatalf("job %d: lease under epoch %d lost (now epoch %d, 0: not leased)", id, e, now[id])
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHugeJobReportCostsNoOtherLease (finding 5): one job reporting a huge
// error (2 MiB) made the worker's whole heartbeat fail (bodies are capped
// at 1 MiB), so every lease of that worker, other replicators' included,
// was lost and granted again. The message is now cut to the protocol's
// limit on the worker and on the server, and nobody loses a lease.
func TestHugeJobReportCostsNoOtherLease(t *testing.T) {
	f := newFleet(t, 2*time.Second, 4)
	eng := newHookEngine(f.sim)
	huge := strings.Repeat("x", 2<<20)
	eng.setHook(func(l fleet.Lease, r *fleet.JobReport) {
		if l.Kind == fleet.KindPartition && l.Partition == 0 {
			r.Error = &fleet.JobError{Code: "Boom", Message: huge, Since: time.Now()}
		}
	})
	f.startWorkerWith("w1", eng)
	f.create("loud")
	eventually(t, 5*time.Second, "all 5 jobs leased", func() bool { return len(f.owners()) == 5 })
	eventually(t, 3*time.Second, "the error reported", func() bool {
		var n int
		_ = f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE status->>'code' = 'Boom'`).Scan(&n)
		return n == 1
	})
	f.holdsSteady(f.epochs())
	var size int
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT length(status->>'message') FROM jobs WHERE status->>'code' = 'Boom'`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size > fleet.MaxMessageBytes {
		t.Fatalf("stored message of %d bytes", size)
	}
}

// TestBigReplicatorCostsNoOneTheirLeases (finding 5): a replicator with
// 6,000 partitions on one worker made every heartbeat of that worker
// larger than the worker API's 1 MiB cap, so every lease on it (another
// tenant's included) was lost and granted again every TTL. Heartbeats are
// now sent in chunks of at most 256 reports.
func TestBigReplicatorCostsNoOneTheirLeases(t *testing.T) {
	// A TTL long enough for a busy test machine: what is measured is the
	// size of the requests, not their speed.
	f := newFleetWith(t, 6*time.Second, func(name string) []fleet.TopicInfo {
		n := 3
		if name == "wide" {
			n = 6000
		}
		ti := fleet.TopicInfo{Name: name + "-topic"}
		for p := range n {
			ti.Partitions = append(ti.Partitions, fleet.PartitionInfo{Partition: int32(p), Latest: 100})
		}
		return []fleet.TopicInfo{ti}
	}, nil)
	f.startWorker("w1")
	small := f.create("small")
	eventually(t, 10*time.Second, "small RUNNING", func() bool { return f.state(small) == types.ReplicatorStateRunning })
	wide := f.create("wide")
	eventually(t, 60*time.Second, "wide RUNNING", func() bool { return f.state(wide) == types.ReplicatorStateRunning })
	before := f.epochs()
	if len(before) != 6005 {
		t.Fatalf("%d leases, want 6,005", len(before))
	}
	f.holdsSteady(before)
	if s := f.state(small); s != types.ReplicatorStateRunning {
		t.Fatalf("small %s", s)
	}
}

// TestFatalJobErrorFailsAtOnce: a fatal job error (a record the target
// refuses, a quota) turns the replicator FAILED at once, not after the
// failure threshold (30 s here), and it recovers when the error clears.
func TestFatalJobErrorFailsAtOnce(t *testing.T) {
	f := newFleet(t, 3*time.Second, 2)
	eng := newHookEngine(f.sim)
	var fatal atomic.Bool
	eng.setHook(func(l fleet.Lease, r *fleet.JobReport) {
		if fatal.Load() && l.Kind == fleet.KindPartition && l.Partition == 1 {
			r.Error = &fleet.JobError{Code: "RecordTooLarge", Message: "record at offset 7 is over the target's limit", Since: time.Now(), Fatal: true}
		}
	})
	f.startWorkerWith("w1", eng)
	arn := f.create("fatal")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	fatal.Store(true)
	eventually(t, 5*time.Second, "FAILED at once", func() bool { return f.state(arn) == types.ReplicatorStateFailed })
	d, err := f.sdk.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil || d.StateInfo == nil || *d.StateInfo.Code != "RecordTooLarge" {
		t.Fatalf("stateInfo %+v %v", d.StateInfo, err)
	}
	fatal.Store(false)
	eventually(t, 5*time.Second, "RUNNING again", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
}

// lossy loses the answer to the first heartbeat that carries a notice:
// the control plane did the work, the worker does not know.
type lossy struct {
	workers.ControlPlane
	lost atomic.Bool
}

func (l *lossy) Heartbeat(ctx context.Context, r fleet.HeartbeatRequest) (fleet.HeartbeatResponse, error) {
	resp, err := l.ControlPlane.Heartbeat(ctx, r)
	for _, j := range r.Jobs {
		if len(j.Notices) > 0 && l.lost.CompareAndSwap(false, true) {
			return fleet.HeartbeatResponse{}, errors.New("answer lost")
		}
	}
	return resp, err
}

// TestNoticesReachHistoryOnce: a job's notices become events of its
// replicator's history (what the status endpoint shows); the worker sends a
// notice until a heartbeat carrying it was answered, then acknowledges it
// to the task; a notice sent again after a lost answer is recorded once.
func TestNoticesReachHistoryOnce(t *testing.T) {
	f := newFleet(t, 3*time.Second, 1)
	eng := newHookEngine(f.sim)
	at := time.Now().UTC().Truncate(time.Millisecond)
	eng.setHook(func(l fleet.Lease, r *fleet.JobReport) {
		if l.Kind != fleet.KindPartition {
			return
		}
		if acked, ok := eng.ackedAt(l.JobID); !ok || acked.Before(at) {
			r.Notices = append(r.Notices, fleet.Notice{Code: "TargetTopicRecreated", Message: "target topic src.orders was deleted; created again", At: at})
		}
	})
	c, err := workers.NewClient(f.url, token)
	if err != nil {
		t.Fatal(err)
	}
	cp := &lossy{ControlPlane: c}
	w := workers.New(workers.Config{ID: "w1", ControlPlane: cp, Engine: eng})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	arn := f.create("notices")
	eventually(t, 10*time.Second, "notice acknowledged", func() bool {
		for _, l := range w.Leases() {
			if _, ok := eng.ackedAt(l.JobID); ok && l.Kind == fleet.KindPartition {
				return true
			}
		}
		return false
	})
	if !cp.lost.Load() {
		t.Fatal("no answer was lost")
	}
	var rid string
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT id::text FROM replicators WHERE arn = $1`, arn).Scan(&rid); err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.Events(context.Background(), rid, 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Code == "TargetTopicRecreated" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d TargetTopicRecreated events, want 1: %+v", n, evs)
	}
}

// TestForgedReleaseWithoutLeaseTokenChangesNothing (finding 9): with only
// the shared worker token, a forged release naming the holder, the job and
// its epoch, with a checkpoint, freed the job and moved its checkpoint (a
// partition copied again from the start, or records skipped). Without the
// lease's token it changes nothing, and neither does a forged heartbeat.
func TestForgedReleaseWithoutLeaseTokenChangesNothing(t *testing.T) {
	f := newFleet(t, 3*time.Second, 2)
	f.startWorker("w1")
	arn := f.create("victim")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	ctx := context.Background()
	var job, epoch int64
	if err := f.store.Pool().QueryRow(ctx, `SELECT id, epoch FROM jobs WHERE kind = 'partition' AND owner = 'w1' ORDER BY id LIMIT 1`).Scan(&job, &epoch); err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("forged %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(b))
	}
	forged := fmt.Sprintf(`{"workerId":"w1","jobs":[{"jobId":%d,"epoch":%d,"specVersion":1,"checkpoint":999999,"targetCheckpoint":999999}]}`, job, epoch)
	post("/internal/v1/release", forged)
	post("/internal/v1/heartbeat", forged)
	before := f.epochs()
	if before[job] != epoch {
		t.Fatalf("job %d: epoch %d after the forgeries, want %d (still w1's lease)", job, before[job], epoch)
	}
	var n int
	if err := f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM checkpoints WHERE next_offset = 999999`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("forged checkpoint stored (%d, %v)", n, err)
	}
	f.holdsSteady(before)
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
}

// blockingAcquire holds every acquire until released, to fill the control
// plane's admission slots.
type blockingAcquire struct {
	*postgres.Store
	in   chan struct{}
	gate chan struct{}
}

func (b *blockingAcquire) Acquire(ctx context.Context, worker string, info map[string]string, max int, ttl time.Duration) ([]fleet.Lease, fleet.AcquireStats, error) {
	b.in <- struct{}{}
	<-b.gate
	return b.Store.Acquire(ctx, worker, info, max, ttl)
}

// TestAcquiresShedHeartbeatsAnswered (finding 6): the control plane serves
// a bounded number of acquires at once; the excess is answered at once with
// a retryable 503 ServiceUnavailableException and Retry-After (counted in a
// metric) instead of queueing in front of the heartbeats, which are always
// answered.
func TestAcquiresShedHeartbeatsAnswered(t *testing.T) {
	var slow *blockingAcquire
	f := newFleetWith(t, 3*time.Second, func(string) []fleet.TopicInfo { return nil }, func(c *api.Config) {
		slow = &blockingAcquire{Store: c.Fleet.(*postgres.Store), in: make(chan struct{}, 1), gate: make(chan struct{})}
		c.Fleet, c.MaxConcurrentAcquires = slow, 1
	})
	c, err := workers.NewClient(f.url, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() {
		_, err := c.Acquire(ctx, fleet.AcquireRequest{WorkerID: "w1"})
		first <- err
	}()
	<-slow.in
	_, err = c.Acquire(ctx, fleet.AcquireRequest{WorkerID: "w2"})
	var se *workers.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Type != "ServiceUnavailableException" || se.RetryAfter != time.Second {
		t.Fatalf("second acquire: %v (%+v), want a 503 ServiceUnavailableException with Retry-After 1", err, se)
	}
	if _, err := c.Heartbeat(ctx, fleet.HeartbeatRequest{WorkerID: "w3"}); err != nil {
		t.Fatalf("heartbeat while acquires are shed: %v", err)
	}
	close(slow.gate)
	if err := <-first; err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	resp, err := http.Get(f.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !metricAtLeast(string(b), "replicator_worker_acquires_shed_total", 1) {
		t.Fatal("shed acquire not counted")
	}
}

// shedding is a control plane that sheds every acquire.
type shedding struct {
	workers.ControlPlane
	acquires atomic.Int64
}

func (s *shedding) Acquire(context.Context, fleet.AcquireRequest) (fleet.AcquireResponse, error) {
	s.acquires.Add(1)
	return fleet.AcquireResponse{}, &workers.StatusError{Status: 503, Type: "ServiceUnavailableException", RetryAfter: time.Second}
}

func (s *shedding) Release(context.Context, fleet.ReleaseRequest) error { return nil }

// TestWorkerBacksOffShedAcquires: a shed worker asks again only after
// Retry-After (not at its acquire interval).
func TestWorkerBacksOffShedAcquires(t *testing.T) {
	cp := &shedding{}
	w := workers.New(workers.Config{ID: "w1", ControlPlane: cp, Engine: simengine.New(nil), AcquireInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_ = w.Run(ctx)
	if n := cp.acquires.Load(); n < 1 || n > 2 {
		t.Fatalf("%d acquires in 1.5 s with Retry-After 1 s (interval 10 ms)", n)
	}
}

// TestDiscoveryOverQuotaFailsAtOnce (finding 5): a source with more topics
// than the replicator's quota gets jobs for the first topics in name order
// only, and the replicator turns FAILED at once with QuotaExceeded (the
// control plane's answer, which the worker reports for the metadata job).
// The report is over 1 MiB (5,000 topics with long names): topology
// reports have a larger body limit.
func TestDiscoveryOverQuotaFailsAtOnce(t *testing.T) {
	f := newFleetWith(t, 3*time.Second, func(string) []fleet.TopicInfo {
		var ts []fleet.TopicInfo
		for i := range 5000 {
			ts = append(ts, fleet.TopicInfo{Name: fmt.Sprintf("%04d-%s", i, strings.Repeat("t", 230)), ID: fmt.Sprintf("id-%d", i),
				Partitions: []fleet.PartitionInfo{{Partition: 0}}})
		}
		return ts
	}, func(c *api.Config) { c.QuotaTopics = 3 })
	f.startWorker("w1")
	arn := f.create("greedy")
	eventually(t, 10*time.Second, "FAILED at once", func() bool { return f.state(arn) == types.ReplicatorStateFailed })
	d, err := f.sdk.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil || d.StateInfo == nil || *d.StateInfo.Code != "QuotaExceeded" || !strings.Contains(*d.StateInfo.Message, "4997 topics are not copied (0003-") {
		t.Fatalf("stateInfo %+v %v", d.StateInfo, err)
	}
	var n int
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE kind = 'partition'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d partition jobs, want 3 (%v)", n, err)
	}
}
