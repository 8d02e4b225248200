// Package simengine is a fleet.Engine that copies nothing: its metadata
// jobs report a topology the test sets, and its partition jobs advance a
// synthetic offset. Tests and the fleet benchmark use it to exercise
// leases, heartbeats and rebalancing without Kafka; it also records which
// jobs run where, so tests can prove no job ran twice at once.
package simengine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// Engine is shared by all simulated workers of a test.
type Engine struct {
	// Topology returns the topics a replicator's source has.
	Topology func(replicatorName string) []fleet.TopicInfo
	// RecordsPerReport is how far a partition's offset moves per report.
	RecordsPerReport int64

	mu         sync.Mutex
	active     map[int64]string // job → worker running it
	violations []string
	starts     int
}

// New returns an engine whose sources have the given topology.
func New(topology func(replicatorName string) []fleet.TopicInfo) *Engine {
	return &Engine{Topology: topology, RecordsPerReport: 10, active: map[int64]string{}}
}

// Violations lists every time a job started while another worker still ran
// it.
func (e *Engine) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.violations...)
}

// Active returns job → worker for the jobs running now.
func (e *Engine) Active() map[int64]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[int64]string, len(e.active))
	for k, v := range e.active {
		out[k] = v
	}
	return out
}

// Starts counts job starts.
func (e *Engine) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// Forget marks every job of worker as no longer running (the worker
// process died).
func (e *Engine) Forget(worker string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for j, w := range e.active {
		if w == worker {
			delete(e.active, j)
		}
	}
}

func (e *Engine) begin(job int64, worker string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.starts++
	if other, ok := e.active[job]; ok && other != worker {
		e.violations = append(e.violations, fmt.Sprintf("job %d started on %s while %s still runs it", job, worker, other))
	}
	e.active[job] = worker
}

func (e *Engine) end(job int64, worker string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[job] == worker {
		delete(e.active, job)
	}
}

// Start implements fleet.Engine.
func (e *Engine) Start(ctx context.Context, l fleet.Lease, spec *fleet.ReplicatorSpec, env fleet.TaskEnv) (fleet.Task, error) {
	e.begin(l.JobID, env.WorkerID)
	t := &task{e: e, lease: l, worker: env.WorkerID, version: spec.SpecVersion, next: max(l.StartOffset, 0), name: spec.Name}
	if l.Kind == fleet.KindMetadata {
		go t.discover(ctx, env)
	}
	return t, nil
}

type task struct {
	e      *Engine
	lease  fleet.Lease
	worker string
	name   string

	mu      sync.Mutex
	version int64
	next    int64
	stopped bool
	kick    chan struct{}
}

func (t *task) discover(ctx context.Context, env fleet.TaskEnv) {
	reported := int64(-1)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		v, stopped := t.version, t.stopped
		t.mu.Unlock()
		if stopped {
			return
		}
		if v != reported {
			if err := env.ReportTopology(ctx, v, t.e.Topology(t.name)); err == nil {
				reported = v
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *task) Report() fleet.JobReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := fleet.JobReport{SpecVersion: t.version}
	if t.lease.Kind == fleet.KindPartition {
		if !t.stopped {
			t.next += t.e.RecordsPerReport
		}
		cp := t.next
		r.Checkpoint = &cp
		r.Progress = &fleet.PartitionProgress{LastOffset: cp - 1, HighWatermark: cp + 5, Lag: 5, LatencyMillis: 3,
			RecordsPerSec: float64(t.e.RecordsPerReport), Records: cp}
	}
	return r
}

func (t *task) UpdateSpec(spec *fleet.ReplicatorSpec) {
	t.mu.Lock()
	t.version = spec.SpecVersion
	t.mu.Unlock()
}

func (t *task) Drain(context.Context) error {
	t.stop()
	return nil
}

func (t *task) Abort() { t.stop() }

func (t *task) stop() {
	t.mu.Lock()
	already := t.stopped
	t.stopped = true
	t.mu.Unlock()
	if !already {
		t.e.end(t.lease.JobID, t.worker)
	}
}
