package fleetbench

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/workers"
)

// recordsPerReport is how far a simulated partition advances between two
// reports.
const recordsPerReport = 100

// simWorker is a simulated worker: it speaks the real worker API through
// the real client (workers.Client) and keeps, for each lease it holds, a
// checkpoint that advances with every report, like a busy partition.
type simWorker struct {
	id       string
	cp       *workers.Client
	owners   *ownerTable
	mappings bool

	mu     sync.Mutex
	held   map[int64]*heldJob
	lastHB time.Time
	// acquires and their time since the last answered heartbeat, to
	// explain lost leases
	acqSinceHB   int
	acqTimeSince time.Duration

	// acquireAfter is when the worker may ask for jobs again after the
	// control plane shed an acquire (503 with Retry-After), as
	// workers.Worker does.
	acquireAfter time.Time

	dead atomic.Bool
	// onLost, if set, hears of the leases a heartbeat found lost (called
	// with w.mu held).
	onLost func(w *simWorker, lost []*heldJob, sent time.Time)
}

type heldJob struct {
	lease        fleet.Lease
	next, target int64     // next source offset to copy, next target offset
	renewedAt    time.Time // when the request that last granted or renewed it was sent
}

func newSimWorker(id string, cp *workers.Client, owners *ownerTable, mappings bool) *simWorker {
	return &simWorker{id: id, cp: cp, owners: owners, mappings: mappings, held: map[int64]*heldJob{}}
}

func (w *simWorker) heldCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.held)
}

func (w *simWorker) heldIDs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int64, 0, len(w.held))
	for id := range w.held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// reportLocked is what a Kafka-engine task reports about a job: for a
// partition, its checkpoint (and the matching target offset) and its
// progress figures; for a metadata job, nothing but the spec version.
func (w *simWorker) reportLocked(h *heldJob, advance bool) fleet.JobReport {
	r := fleet.JobReport{JobID: h.lease.JobID, Epoch: h.lease.Epoch, Token: h.lease.Token, SpecVersion: h.lease.SpecVersion}
	if h.lease.Kind != fleet.KindPartition {
		return r
	}
	if advance {
		h.next += recordsPerReport
		h.target += recordsPerReport
	}
	cp, tcp := h.next, h.target
	r.Checkpoint = &cp
	if w.mappings {
		r.TargetCheckpoint = &tcp
	}
	r.Progress = &fleet.PartitionProgress{TargetTopic: "src." + h.lease.Topic, LastOffset: cp - 1, HighWatermark: cp + 50,
		Lag: 50, LatencyMillis: 4.2, BytesPerSec: 102400, RecordsPerSec: 100, Records: cp, Bytes: cp * 1024}
	return r
}

// heartbeatOutcome is what one heartbeat request did.
type heartbeatOutcome struct {
	renewed, lost, revoked int
	latency                time.Duration
	err                    error
}

// heartbeat renews every lease the worker holds and reports on each; with
// none it only says the worker is alive. Lost leases are dropped; revoked
// ones are given back, as a real worker does once it has drained them.
func (w *simWorker) heartbeat(ctx context.Context) heartbeatOutcome {
	w.mu.Lock()
	reps := make([]fleet.JobReport, 0, len(w.held))
	for _, h := range w.held {
		reps = append(reps, w.reportLocked(h, true))
	}
	w.mu.Unlock()
	start := time.Now()
	resp, err := w.cp.Heartbeat(ctx, fleet.HeartbeatRequest{WorkerID: w.id, Jobs: reps})
	out := heartbeatOutcome{latency: time.Since(start), err: err}
	if err != nil {
		return out
	}
	w.mu.Lock()
	w.lastHB = start
	for _, id := range resp.Renewed {
		if h, ok := w.held[id]; ok {
			h.renewedAt = start
		}
	}
	var lost []*heldJob
	for _, id := range resp.Lost {
		if h, ok := w.held[id]; ok {
			delete(w.held, id)
			w.owners.drop(id, w.id)
			lost = append(lost, h)
		}
	}
	if len(lost) > 0 && w.onLost != nil {
		w.onLost(w, lost, start)
	}
	w.acqSinceHB, w.acqTimeSince = 0, 0
	w.mu.Unlock()
	out.renewed, out.lost, out.revoked = len(resp.Renewed), len(resp.Lost), len(resp.Revoke)
	if len(resp.Revoke) > 0 {
		_ = w.release(ctx, resp.Revoke, false)
	}
	return out
}

// errShed is what acquire returns when the control plane shed the request
// (503 with Retry-After): not an error of the protocol, load shedding.
var errShed = errors.New("acquire shed by the control plane (503, Retry-After)")

// acquireDue says whether the worker may ask for jobs (no shed acquire
// asked it to wait).
func (w *simWorker) acquireDue() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !time.Now().Before(w.acquireAfter)
}

// acquire asks for jobs (up to the worker's share) and starts them. A shed
// request returns errShed and defers the next one by Retry-After (spread
// by up to half of it), as workers.Worker does.
func (w *simWorker) acquire(ctx context.Context) (granted int, latency time.Duration, err error) {
	start := time.Now()
	resp, err := w.cp.Acquire(ctx, fleet.AcquireRequest{WorkerID: w.id})
	latency = time.Since(start)
	var se *workers.StatusError
	if errors.As(err, &se) && se.Status == http.StatusServiceUnavailable && se.RetryAfter > 0 {
		w.mu.Lock()
		w.acqSinceHB++
		w.acqTimeSince += latency
		w.acquireAfter = time.Now().Add(se.RetryAfter + rand.N(se.RetryAfter/2+1))
		w.mu.Unlock()
		return 0, latency, errShed
	}
	if err != nil {
		return 0, latency, err
	}
	now := time.Now()
	w.mu.Lock()
	w.acqSinceHB++
	w.acqTimeSince += latency
	for _, l := range resp.Leases {
		next := max(l.StartOffset, 0)
		w.held[l.JobID] = &heldJob{lease: l, next: next, target: next, renewedAt: start}
		w.owners.grant(l.JobID, w.id, now)
	}
	w.mu.Unlock()
	return len(resp.Leases), latency, nil
}

// release gives back the named jobs with their final checkpoints.
func (w *simWorker) release(ctx context.Context, ids []int64, leaving bool) error {
	w.mu.Lock()
	reps := make([]fleet.JobReport, 0, len(ids))
	for _, id := range ids {
		if h, ok := w.held[id]; ok {
			reps = append(reps, w.reportLocked(h, false))
			delete(w.held, id)
			w.owners.drop(id, w.id)
		}
	}
	w.mu.Unlock()
	if len(reps) == 0 && !leaving {
		return nil
	}
	return w.cp.Release(ctx, fleet.ReleaseRequest{WorkerID: w.id, Jobs: reps, Leaving: leaving})
}

// ownerTable is the benchmark's view of who holds which job, from the
// grants the simulated workers received.
type ownerTable struct {
	mu sync.Mutex
	m  map[int64]grantInfo
}

type grantInfo struct {
	worker string
	at     time.Time
}

func newOwnerTable() *ownerTable { return &ownerTable{m: map[int64]grantInfo{}} }

func (o *ownerTable) grant(id int64, worker string, at time.Time) {
	o.mu.Lock()
	o.m[id] = grantInfo{worker: worker, at: at}
	o.mu.Unlock()
}

func (o *ownerTable) drop(id int64, worker string) {
	o.mu.Lock()
	if g, ok := o.m[id]; ok && g.worker == worker {
		delete(o.m, id)
	}
	o.mu.Unlock()
}

func (o *ownerTable) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// lastMove returns when the last of ids was granted to a worker other than
// from, and whether all of them were.
func (o *ownerTable) lastMove(ids []int64, from string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var last time.Time
	for _, id := range ids {
		g, ok := o.m[id]
		if !ok || g.worker == from {
			return time.Time{}, false
		}
		if g.at.After(last) {
			last = g.at
		}
	}
	return last, true
}

// heartbeatDue says whether the worker's last heartbeat is every ago.
func (w *simWorker) heartbeatDue(every time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.lastHB) >= every
}

func jsonSize(v any) (int, error) {
	b, err := json.Marshal(v)
	return len(b), err
}
