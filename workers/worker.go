// Package workers is the replication worker: it holds leases on
// replication jobs from the control plane, runs each job with an Engine,
// heartbeats progress and checkpoints, and gives jobs back when asked or
// when it stops. The lease protocol is described in package fleet, and so
// are the interfaces an engine implements (fleet.Engine, fleet.Task): the
// worker runs jobs without knowing how records are copied.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/logx"
)

// ControlPlane is the worker API as the worker uses it (*Client).
type ControlPlane interface {
	Acquire(ctx context.Context, req fleet.AcquireRequest) (fleet.AcquireResponse, error)
	Heartbeat(ctx context.Context, req fleet.HeartbeatRequest) (fleet.HeartbeatResponse, error)
	Release(ctx context.Context, req fleet.ReleaseRequest) error
	ReportTopology(ctx context.Context, t fleet.Topology) (fleet.TopologyResponse, error)
	Spec(ctx context.Context, replicatorID string) (*fleet.ReplicatorSpec, error)
}

// Config configures a worker.
type Config struct {
	ID           string
	ControlPlane ControlPlane
	Engine       fleet.Engine
	Info         map[string]string
	// AcquireInterval is how often the worker asks for jobs (500ms).
	AcquireInterval time.Duration
	// HeartbeatInterval is how often it renews and reports (1s, at most
	// a third of the lease TTL).
	HeartbeatInterval time.Duration
	// DrainTimeout bounds a graceful stop (10s).
	DrainTimeout time.Duration
	Logger       *slog.Logger
	Registry     prometheus.Registerer
}

// DefaultID is the host name and process ID.
func DefaultID() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "worker"
	}
	return h + "-" + itoa(os.Getpid())
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

type running struct {
	lease  fleet.Lease
	task   fleet.Task
	cancel context.CancelFunc
	// renewed is the send time of the last request that granted or
	// renewed the lease, as monotonic nanoseconds since the worker's t0
	// (read without the worker's lock by LeaseFresh).
	renewed  atomic.Int64
	draining bool
	// topoErr is the condition the control plane answered to the metadata
	// job's last topology report (nil: none).
	topoErr atomic.Pointer[fleet.JobError]
}

// Worker runs jobs for the control plane.
type Worker struct {
	cfg   Config
	log   *slog.Logger
	ttl   atomic.Int64 // lease TTL in nanoseconds, as the control plane last said
	t0    time.Time    // monotonic origin of running.renewed
	mu    sync.Mutex
	tasks map[int64]*running
	specs map[string]*fleet.ReplicatorSpec
	kick  chan struct{}
	m     workerMetrics
	// acquireAfter is when the acquire loop may ask again after a shed
	// acquire (used by that loop only).
	acquireAfter time.Time
	// logs limits repeated failures (a control plane that is down) to one
	// line per interval with a count.
	logs *logx.Limiter
}

type workerMetrics struct {
	jobs       *prometheus.GaugeVec
	hbFailures prometheus.Counter
	lost       prometheus.Counter
	shed       prometheus.Counter
}

// New returns a worker.
func New(cfg Config) *Worker {
	if cfg.ID == "" {
		cfg.ID = DefaultID()
	}
	if cfg.AcquireInterval <= 0 {
		cfg.AcquireInterval = 500 * time.Millisecond
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg, log: cfg.Logger.With("worker", cfg.ID),
		tasks: map[int64]*running{}, specs: map[string]*fleet.ReplicatorSpec{}, kick: make(chan struct{}, 1),
		logs: logx.New(30*time.Second, nil)}
	w.ttl.Store(int64(10 * time.Second))
	w.t0 = time.Now()
	w.m = workerMetrics{
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_worker_jobs",
			Help: "Jobs this worker holds, by kind."}, []string{"kind"}),
		hbFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_worker_heartbeat_failures_total",
			Help: "Heartbeats that did not reach the control plane."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_worker_leases_lost_total",
			Help: "Leases this worker lost (fenced or expired) and stopped at once."}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_worker_acquires_deferred_total",
			Help: "Acquire requests the control plane shed (503 with Retry-After); the worker asked again after the time it said."}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(w.m.jobs, w.m.hbFailures, w.m.lost, w.m.shed)
	}
	return w
}

// ID returns the worker's ID.
func (w *Worker) ID() string { return w.cfg.ID }

// Run works until ctx ends, then drains its jobs, checkpoints and releases
// them. Acquiring and heartbeating run on their own goroutines, so a slow
// acquire can never delay a heartbeat (and cost the worker its leases).
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("worker: started")
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(w.cfg.AcquireInterval)
		defer t.Stop()
		for {
			w.acquire(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	wg.Go(func() {
		t := time.NewTimer(w.heartbeatInterval())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			case <-t.C:
			}
			w.heartbeat(ctx)
			t.Reset(w.heartbeatInterval())
		}
	})
	wg.Wait()
	return w.shutdown(context.WithoutCancel(ctx))
}

func (w *Worker) leaseTTL() time.Duration { return time.Duration(w.ttl.Load()) }

// sinceRenewal is the time since r's lease was last granted or renewed
// (measured from the request's send time, which is never later than the
// control plane's own renewal).
func (w *Worker) sinceRenewal(r *running) time.Duration {
	return time.Since(w.t0) - time.Duration(r.renewed.Load())
}

func (w *Worker) heartbeatInterval() time.Duration {
	return min(w.cfg.HeartbeatInterval, w.leaseTTL()/4)
}

func (w *Worker) acquire(ctx context.Context) {
	if time.Now().Before(w.acquireAfter) {
		return
	}
	sent := time.Now()
	resp, err := w.cfg.ControlPlane.Acquire(ctx, fleet.AcquireRequest{WorkerID: w.cfg.ID, Info: w.cfg.Info})
	if err != nil {
		var se *StatusError
		switch {
		case ctx.Err() != nil:
		case errors.As(err, &se) && se.Status == http.StatusServiceUnavailable && se.RetryAfter > 0:
			// Shed: the control plane is busy; ask again after the time it
			// said, spread so that the fleet does not come back at once.
			w.m.shed.Inc()
			w.acquireAfter = time.Now().Add(se.RetryAfter + rand.N(se.RetryAfter/2+1))
			w.log.Debug("worker: acquire shed by the control plane; asking again later", "retry_after", se.RetryAfter)
		default:
			w.logs.Log(w.log, slog.LevelWarn, "acquire", "worker: acquire failed", "err", err)
		}
		return
	}
	if resp.LeaseTTLMillis > 0 {
		w.ttl.Store(int64(time.Duration(resp.LeaseTTLMillis) * time.Millisecond))
	}
	for _, l := range resp.Leases {
		if err := w.start(ctx, l, sent); err != nil {
			w.log.Error("worker: job could not start; releasing it", "job", l.JobID, "err", err)
			_ = w.cfg.ControlPlane.Release(ctx, fleet.ReleaseRequest{WorkerID: w.cfg.ID,
				Jobs: []fleet.JobReport{{JobID: l.JobID, Epoch: l.Epoch, Token: l.Token}}})
		}
	}
	if len(resp.Leases) > 0 {
		w.updateGauges()
		// Report at once, so the replicator can count the jobs as running.
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *Worker) spec(ctx context.Context, rid string, version int64) (*fleet.ReplicatorSpec, error) {
	w.mu.Lock()
	s := w.specs[rid]
	w.mu.Unlock()
	if s != nil && s.SpecVersion >= version {
		return s, nil
	}
	s, err := w.cfg.ControlPlane.Spec(ctx, rid)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.specs[rid] = s
	w.mu.Unlock()
	return s, nil
}

func (w *Worker) start(ctx context.Context, l fleet.Lease, sent time.Time) error {
	spec, err := w.spec(ctx, l.ReplicatorID, l.SpecVersion)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{lease: l, cancel: cancel}
	r.renewed.Store(int64(sent.Sub(w.t0)))
	env := fleet.TaskEnv{WorkerID: w.cfg.ID, Logger: w.log.With("job", l.JobID, "replicator", spec.Name),
		ReportTopology: func(ctx context.Context, v int64, topics []fleet.TopicInfo) error {
			resp, err := w.cfg.ControlPlane.ReportTopology(ctx, fleet.Topology{WorkerID: w.cfg.ID, JobID: l.JobID, Epoch: l.Epoch,
				Token: l.Token, SpecVersion: v, Topics: topics})
			if err != nil {
				return err
			}
			if resp.Error != nil {
				e := *resp.Error
				r.topoErr.Store(&e)
				return &fleet.TopologyError{Job: e}
			}
			r.topoErr.Store(nil)
			return nil
		},
		LeaseFresh: func() bool { return w.sinceRenewal(r) < w.leaseTTL()/fleet.FreshFraction },
	}
	task, err := w.cfg.Engine.Start(tctx, l, spec, env)
	if err != nil {
		cancel()
		return err
	}
	r.task = task
	w.mu.Lock()
	w.tasks[l.JobID] = r
	w.mu.Unlock()
	w.log.Info("worker: job started", "job", l.JobID, "kind", l.Kind, "topic", l.Topic, "partition", l.Partition,
		"epoch", l.Epoch, "start_offset", l.StartOffset)
	return nil
}

// report is a job's report as the worker sends it: under the job's lease
// (ID, epoch, token), within the protocol's limits, with the control
// plane's topology condition if any.
func (w *Worker) report(id int64, r *running) fleet.JobReport {
	rep := r.task.Report()
	rep.JobID, rep.Epoch, rep.Token = id, r.lease.Epoch, r.lease.Token
	if te := r.topoErr.Load(); te != nil && (rep.Error == nil || !rep.Error.Fatal) {
		rep.Error = te
	}
	return *rep.Bound()
}

func (w *Worker) reports() []fleet.JobReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]fleet.JobReport, 0, len(w.tasks))
	for id, r := range w.tasks {
		out = append(out, w.report(id, r))
	}
	return out
}

// chunkReports splits reports into requests of at most
// fleet.MaxReportsPerRequest reports and about fleet.MaxRequestBytes of
// JSON, so that no replicator's size (or one job's report) can push a
// request over the control plane's body limit.
func chunkReports(reps []fleet.JobReport) [][]fleet.JobReport {
	var out [][]fleet.JobReport
	var cur []fleet.JobReport
	size := 0
	for _, r := range reps {
		b, _ := json.Marshal(r)
		if len(cur) > 0 && (len(cur) >= fleet.MaxReportsPerRequest || size+len(b)+1 > fleet.MaxRequestBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur = append(cur, r)
		size += len(b) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// heartbeatParallel is how many heartbeat requests of one round a worker
// has in flight at once.
const heartbeatParallel = 4

type heartbeatCall struct {
	reps []fleet.JobReport
	sent time.Time
	resp fleet.HeartbeatResponse
	err  error
}

func (w *Worker) heartbeat(ctx context.Context) {
	reps := w.reports()
	if len(reps) == 0 {
		return
	}
	chunks := chunkReports(reps)
	calls := make([]heartbeatCall, len(chunks))
	sem := make(chan struct{}, heartbeatParallel)
	var wg sync.WaitGroup
	for i, c := range chunks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			calls[i] = heartbeatCall{reps: c, sent: time.Now()}
			calls[i].resp, calls[i].err = w.cfg.ControlPlane.Heartbeat(ctx, fleet.HeartbeatRequest{WorkerID: w.cfg.ID, Jobs: c})
		})
	}
	wg.Wait()
	w.log.Debug("worker: heartbeat round", "reports", len(reps), "requests", len(chunks), "took_ms", time.Since(calls[0].sent).Milliseconds())
	failed := false
	specs := map[string]int64{}
	var lost, revoke []*running
	type ack struct {
		t    fleet.NoticeAcker
		upTo time.Time
	}
	var acks []ack
	for _, c := range calls {
		if c.err != nil {
			if ctx.Err() != nil {
				return
			}
			failed = true
			w.m.hbFailures.Inc()
			w.logs.Log(w.log, slog.LevelWarn, "heartbeat", "worker: heartbeat failed", "reports", len(c.reps), "err", c.err)
			continue
		}
		if c.resp.LeaseTTLMillis > 0 {
			w.ttl.Store(int64(time.Duration(c.resp.LeaseTTLMillis) * time.Millisecond))
		}
		maps.Copy(specs, c.resp.SpecVersions)
		renewed := make(map[int64]bool, len(c.resp.Renewed))
		w.mu.Lock()
		for _, id := range c.resp.Renewed {
			renewed[id] = true
			if r := w.tasks[id]; r != nil {
				r.renewed.Store(int64(c.sent.Sub(w.t0)))
			}
		}
		for _, id := range c.resp.Lost {
			if r := w.tasks[id]; r != nil {
				lost = append(lost, r)
				delete(w.tasks, id)
			}
		}
		for _, id := range c.resp.Revoke {
			if r := w.tasks[id]; r != nil && !r.draining {
				r.draining = true
				revoke = append(revoke, r)
			}
		}
		// The notices of renewed jobs are stored: the tasks may forget them.
		for _, rep := range c.reps {
			if len(rep.Notices) == 0 || !renewed[rep.JobID] {
				continue
			}
			r := w.tasks[rep.JobID]
			if r == nil || r.lease.Epoch != rep.Epoch {
				continue
			}
			if a, ok := r.task.(fleet.NoticeAcker); ok {
				upTo := rep.Notices[0].At
				for _, n := range rep.Notices[1:] {
					if n.At.After(upTo) {
						upTo = n.At
					}
				}
				acks = append(acks, ack{a, upTo})
			}
		}
		w.mu.Unlock()
	}
	for _, a := range acks {
		a.t.AckNotices(a.upTo)
	}
	for _, r := range lost {
		w.m.lost.Inc()
		w.log.Warn("worker: lease lost; job stopped", "job", r.lease.JobID, "epoch", r.lease.Epoch)
		r.task.Abort()
		r.cancel()
	}
	for _, r := range revoke {
		go w.giveBack(ctx, r)
	}
	if failed {
		w.selfFence()
	}
	w.applySpecs(ctx, specs)
	if len(lost) > 0 {
		w.updateGauges()
	}
}

// selfFence stops every job whose lease may have expired: a worker that
// cannot renew must not go on writing.
func (w *Worker) selfFence() {
	ttl := w.leaseTTL()
	margin := max(ttl/10, 500*time.Millisecond)
	w.mu.Lock()
	var expired []*running
	for id, r := range w.tasks {
		if w.sinceRenewal(r) > ttl-margin {
			expired = append(expired, r)
			delete(w.tasks, id)
		}
	}
	w.mu.Unlock()
	for _, r := range expired {
		w.m.lost.Inc()
		w.log.Warn("worker: lease could not be renewed in time; job stopped", "job", r.lease.JobID)
		r.task.Abort()
		r.cancel()
	}
	if len(expired) > 0 {
		w.updateGauges()
	}
}

func (w *Worker) applySpecs(ctx context.Context, versions map[string]int64) {
	for rid, v := range versions {
		w.mu.Lock()
		cached := w.specs[rid]
		w.mu.Unlock()
		if cached != nil && cached.SpecVersion >= v {
			continue
		}
		spec, err := w.spec(ctx, rid, v)
		if err != nil {
			w.log.Warn("worker: could not fetch the new spec", "replicator", rid, "err", err)
			continue
		}
		w.mu.Lock()
		var tasks []fleet.Task
		for _, r := range w.tasks {
			if r.lease.ReplicatorID == rid {
				tasks = append(tasks, r.task)
			}
		}
		w.mu.Unlock()
		for _, t := range tasks {
			t.UpdateSpec(spec)
		}
		w.log.Info("worker: running a new spec version", "replicator", spec.Name, "spec_version", spec.SpecVersion)
	}
}

// giveBack drains a revoked job, releases it with its final checkpoint and
// forgets it.
func (w *Worker) giveBack(ctx context.Context, r *running) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DrainTimeout)
	defer cancel()
	if err := r.task.Drain(dctx); err != nil {
		w.log.Warn("worker: drain failed", "job", r.lease.JobID, "err", err)
	}
	rep := w.report(r.lease.JobID, r)
	if err := w.cfg.ControlPlane.Release(dctx, fleet.ReleaseRequest{WorkerID: w.cfg.ID, Jobs: []fleet.JobReport{rep}}); err != nil {
		w.log.Warn("worker: release failed; the lease will expire", "job", r.lease.JobID, "err", err)
	}
	r.cancel()
	w.log.Info("worker: job given back", "job", r.lease.JobID)
	w.mu.Lock()
	if w.tasks[r.lease.JobID] == r {
		delete(w.tasks, r.lease.JobID)
	}
	w.mu.Unlock()
	w.updateGauges()
}

// shutdown drains every job and releases them all in one call, so that
// they move to other workers at once.
func (w *Worker) shutdown(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, w.cfg.DrainTimeout)
	defer cancel()
	w.mu.Lock()
	all := make([]*running, 0, len(w.tasks))
	for _, r := range w.tasks {
		all = append(all, r)
	}
	w.mu.Unlock()
	w.log.Info("worker: stopping; draining jobs", "jobs", len(all))
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Go(func() {
			if err := r.task.Drain(dctx); err != nil {
				w.log.Warn("worker: drain failed", "job", r.lease.JobID, "err", err)
			}
		})
	}
	wg.Wait()
	reps := make([]fleet.JobReport, 0, len(all))
	for _, r := range all {
		reps = append(reps, w.report(r.lease.JobID, r))
	}
	// In requests of bounded size, like heartbeats; the last one says the
	// worker leaves (with no jobs, one request says just that).
	chunks := chunkReports(reps)
	if len(chunks) == 0 {
		chunks = [][]fleet.JobReport{nil}
	}
	var err error
	for i, c := range chunks {
		if e := w.cfg.ControlPlane.Release(dctx, fleet.ReleaseRequest{WorkerID: w.cfg.ID, Jobs: c, Leaving: i == len(chunks)-1}); e != nil {
			err = e
		}
	}
	for _, r := range all {
		r.cancel()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		w.log.Warn("worker: release at stop failed; leases will expire", "err", err)
	}
	w.log.Info("worker: stopped", "released", len(reps))
	return nil
}

func (w *Worker) updateGauges() {
	w.mu.Lock()
	counts := map[string]int{fleet.KindMetadata: 0, fleet.KindPartition: 0}
	for _, r := range w.tasks {
		counts[r.lease.Kind]++
	}
	w.mu.Unlock()
	for k, n := range counts {
		w.m.jobs.WithLabelValues(k).Set(float64(n))
	}
}

// Held returns the IDs and epochs of the jobs the worker runs (for tests
// and the worker's own status page).
func (w *Worker) Held() map[int64]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int64]int64, len(w.tasks))
	for id, r := range w.tasks {
		out[id] = r.lease.Epoch
	}
	return out
}

// Leases returns the leases of the jobs the worker runs (for tests), token
// included.
func (w *Worker) Leases() []fleet.Lease {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]fleet.Lease, 0, len(w.tasks))
	for _, r := range w.tasks {
		out = append(out, r.lease)
	}
	return out
}
