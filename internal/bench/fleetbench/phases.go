package fleetbench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
)

// fleetRun is the simulated fleet and what the phases share.
type fleetRun struct {
	cfg     *Config
	env     *env
	workers []*simWorker
	owners  *ownerTable
	hbEvery time.Duration // a real worker's heartbeat interval: min(1s, TTL/4)
	errs    *errorLog
}

// errorLog keeps the first few error messages for the report.
type errorLog struct {
	mu      sync.Mutex
	n       int
	samples []string
}

func (l *errorLog) add(phase string, err error) { l.addN(phase, err, 1) }

// addN records n errors (or lost leases) with one message.
func (l *errorLog) addN(phase string, err error, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n += n
	if len(l.samples) < 5 {
		l.samples = append(l.samples, phase+": "+err.Error())
	}
}

// lost records a lease a live worker lost, with how long before the
// heartbeat that found it lost the lease was last renewed.
func (f *fleetRun) lost(w *simWorker, lost []*heldJob, sent time.Time) {
	h := lost[0]
	f.errs.addN("lost leases", fmt.Errorf("%s lost %d leases (e.g. job %d, epoch %d): heartbeat sent %s after their last renewal or grant; "+
		"%d acquire requests taking %s in all since its previous heartbeat",
		w.id, len(lost), h.lease.JobID, h.lease.Epoch, secs(sent.Sub(h.renewedAt)), w.acqSinceHB, secs(w.acqTimeSince)), len(lost))
}

func (f *fleetRun) live() []*simWorker {
	var out []*simWorker
	for _, w := range f.workers {
		if !w.dead.Load() {
			out = append(out, w)
		}
	}
	return out
}

// share is a worker's share of the jobs when all live workers take theirs:
// the sum over replicators of ceil(jobs / live workers), as Acquire grants.
func (f *fleetRun) share(ctx context.Context) (int, error) {
	counts, err := f.env.jobCounts(ctx)
	if err != nil {
		return 0, err
	}
	n := len(f.live())
	s := 0
	for _, c := range counts {
		s += (c + n - 1) / n
	}
	return s, nil
}

// asWorkers runs fn with the profiler label side=workers, which the
// goroutines it starts (the HTTP client's among them) inherit.
func asWorkers(ctx context.Context, fn func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("side", "workers"), fn)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// register has every worker say it is alive (an empty heartbeat), so that
// the first acquires already share the jobs among all of them.
func (f *fleetRun) register(ctx context.Context) error {
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, w := range f.workers {
		wg.Go(func() {
			if o := w.heartbeat(ctx); o.err != nil {
				failed.Add(1)
				f.errs.add("register", o.err)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d workers could not register (%s)", n, f.errs.samples[0])
	}
	return ctx.Err()
}

// GrantResult is the outcome of a grant phase: every worker asks for jobs
// in a closed loop until every job is leased.
type GrantResult struct {
	Name       string
	Target     int           // jobs that must end up leased
	Granted    int64         // leases granted (acquire answers)
	Requests   int64         // acquire requests
	Elapsed    time.Duration // until every job was leased
	Complete   bool
	Latency    *bench.Histogram // acquire latency
	Heartbeats int64            // heartbeats sent meanwhile (leases must not expire)
	Errors     int64            // non-2xx answers and transport errors
	Shed       int64            // acquires the control plane shed (503, Retry-After)
	Lost       int64
	Revoked    int64
	MinHeld    int
	MaxHeld    int
	DBLeased   int
	CPU        cpuUse
	Tables     []tableStat
	TopSQL     []sqlStat
}

func (f *fleetRun) grant(ctx context.Context, name string) (*GrantResult, error) {
	share, err := f.share(ctx)
	if err != nil {
		return nil, err
	}
	// Every worker says it is alive first: after a pause longer than the
	// live window, the first worker to ask would otherwise count as the only
	// live one and take (nearly) every job.
	if err := f.register(ctx); err != nil {
		return nil, err
	}
	target := f.cfg.Jobs
	res := &GrantResult{Name: name, Target: target}
	already := f.owners.count()
	progress(f.cfg, "[%s] %d workers ask for jobs until all %s are leased (share %d each; %d leased now)",
		name, len(f.live()), bench.Thousands(int64(target)), share, already)
	var (
		lat                                               bench.Recorder
		granted, requests, hbs, errs, shed, lost, revoked atomic.Int64
		doneAt                                            atomic.Int64
	)
	gctx, cancel := context.WithTimeout(ctx, f.cfg.GrantTimeout)
	defer cancel()
	f.env.resetSQLStats(ctx)
	tables0 := f.env.tableStats(ctx)
	cpu0 := f.env.cpu.Snap()
	start := time.Now()
	stop := f.ticker(gctx, 2*time.Second, func(el time.Duration) {
		progress(f.cfg, "[%s] %s: %s/%s leased, leases granted %s", name, secs(el),
			bench.Thousands(int64(f.owners.count())), bench.Thousands(int64(target)), rate(granted.Load(), el))
	})
	var wg sync.WaitGroup
	for _, w := range f.live() {
		wg.Go(func() {
			asWorkers(gctx, func(ctx context.Context) {
				for ctx.Err() == nil && f.owners.count() < target {
					if w.heldCount() > 0 && w.heartbeatDue(f.hbEvery) {
						o := w.heartbeat(ctx)
						hbs.Add(1)
						lost.Add(int64(o.lost))
						revoked.Add(int64(o.revoked))
						if o.err != nil && ctx.Err() == nil {
							errs.Add(1)
							f.errs.add(name, o.err)
						}
					}
					if w.heldCount() >= share || !w.acquireDue() {
						sleep(ctx, 20*time.Millisecond)
						continue
					}
					n, d, err := w.acquire(ctx)
					if errors.Is(err, errShed) {
						shed.Add(1)
						continue
					}
					if err != nil {
						if ctx.Err() == nil {
							requests.Add(1)
							errs.Add(1)
							f.errs.add(name, err)
							sleep(ctx, 50*time.Millisecond)
						}
						continue
					}
					requests.Add(1)
					lat.Record(d)
					granted.Add(int64(n))
					if f.owners.count() >= target {
						doneAt.CompareAndSwap(0, int64(time.Since(start)))
					}
					if n == 0 {
						sleep(ctx, 50*time.Millisecond)
					}
				}
			})
		})
	}
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.CPU = f.env.cpuSince(cpu0)
	res.TopSQL = f.env.topSQL(ctx, 6)
	res.Tables = tableDelta(tables0, f.env.tableStats(ctx))
	res.Complete = f.owners.count() >= target
	res.Elapsed = time.Duration(doneAt.Load())
	if !res.Complete || res.Elapsed == 0 {
		res.Elapsed = time.Since(start)
	}
	res.Granted, res.Requests, res.Heartbeats = granted.Load(), requests.Load(), hbs.Load()
	res.Errors, res.Shed, res.Lost, res.Revoked = errs.Load(), shed.Load(), lost.Load(), revoked.Load()
	res.Latency = lat.Histogram()
	res.MinHeld, res.MaxHeld = f.spread()
	if res.DBLeased, err = f.env.leasedNow(ctx); err != nil {
		return nil, err
	}
	progress(f.cfg, "[%s] %s leases granted in %s (%s; %s acquire requests, p50 %s, p99 %s; %s shed); each worker holds %d to %d; database: %s leased",
		name, bench.Thousands(res.Granted), secs(res.Elapsed), rate(res.Granted, res.Elapsed), bench.Thousands(res.Requests),
		ms(res.Latency.Quantile(.5)), ms(res.Latency.Quantile(.99)), bench.Thousands(res.Shed), res.MinHeld, res.MaxHeld, bench.Thousands(int64(res.DBLeased)))
	if !res.Complete {
		return res, fmt.Errorf("%s: only %d of %d jobs leased within %s", name, f.owners.count(), target, f.cfg.GrantTimeout)
	}
	return res, nil
}

func (f *fleetRun) spread() (lo, hi int) {
	lo = -1
	for _, w := range f.live() {
		n := w.heldCount()
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return max(lo, 0), hi
}

// HeartbeatResult is the outcome of a closed-loop heartbeat phase: every
// worker heartbeats all its leases back to back.
type HeartbeatResult struct {
	Name      string
	Workers   int
	Leases    int // held when the phase began
	Window    time.Duration
	Requests  int64 // heartbeat requests answered in the window
	Renewals  int64 // leases renewed in the window
	Errors    int64 // whole phase, warm-up included
	Lost      int64
	Revoked   int64
	Latency   *bench.Histogram
	CPU       cpuUse
	TopSQL    []sqlStat
	Profile   string
	BodyBytes int // request body size of one heartbeat, for an average worker
	Tables    []tableStat
}

func (r *HeartbeatResult) PerWorker() float64 {
	if r.Workers == 0 {
		return 0
	}
	return float64(r.Leases) / float64(r.Workers)
}

func (f *fleetRun) heartbeats(ctx context.Context, name, profile string) (*HeartbeatResult, error) {
	ws := f.live()
	res := &HeartbeatResult{Name: name, Workers: len(ws)}
	for _, w := range ws {
		res.Leases += w.heldCount()
	}
	res.BodyBytes = f.bodySize(ws)
	progress(f.cfg, "[%s] %d workers heartbeat %s leases (%.1f each) back to back: %s warm-up, %s measured",
		name, res.Workers, bench.Thousands(int64(res.Leases)), res.PerWorker(), f.cfg.Warmup, f.cfg.Duration)
	var (
		recording                               atomic.Bool
		lat                                     bench.Recorder
		requests, renewals, errs, lost, revoked atomic.Int64
	)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			asWorkers(hctx, func(ctx context.Context) {
				for ctx.Err() == nil {
					o := w.heartbeat(ctx)
					if o.err != nil {
						if ctx.Err() == nil {
							errs.Add(1)
							f.errs.add(name, o.err)
							sleep(ctx, 50*time.Millisecond)
						}
						continue
					}
					lost.Add(int64(o.lost))
					revoked.Add(int64(o.revoked))
					if recording.Load() {
						requests.Add(1)
						renewals.Add(int64(o.renewed))
						lat.Record(o.latency)
					}
				}
			})
		})
	}
	if !sleep(ctx, f.cfg.Warmup) {
		cancel()
		wg.Wait()
		return nil, ctx.Err()
	}
	f.env.resetSQLStats(ctx)
	var prof *os.File
	if profile != "" {
		var err error
		if prof, err = os.Create(profile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			prof.Close()
			return nil, err
		}
		res.Profile = profile
	}
	tables0 := f.env.tableStats(ctx)
	cpu0 := f.env.cpu.Snap()
	start := time.Now()
	recording.Store(true)
	var lastN int64
	last := start
	stop := f.ticker(ctx, 5*time.Second, func(el time.Duration) {
		n, now := requests.Load(), time.Now()
		progress(f.cfg, "[%s] %s: heartbeats %s (last 5 s), renewals %s (overall), errors %d",
			name, secs(el), rate(n-lastN, now.Sub(last)), rate(renewals.Load(), el), errs.Load())
		lastN, last = n, now
	})
	sleep(ctx, f.cfg.Duration)
	recording.Store(false)
	res.Window = time.Since(start)
	stop()
	res.CPU = f.env.cpuSince(cpu0)
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	cancel()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.TopSQL = f.env.topSQL(ctx, 8)
	res.Tables = tableDelta(tables0, f.env.tableStats(ctx))
	res.Requests, res.Renewals = requests.Load(), renewals.Load()
	res.Errors, res.Lost, res.Revoked = errs.Load(), lost.Load(), revoked.Load()
	res.Latency = lat.Histogram()
	progress(f.cfg, "[%s] heartbeats %s, lease renewals %s, p50 %s, p99 %s; errors %d, lost leases %d; CPU: %s",
		name, rate(res.Requests, res.Window), rate(res.Renewals, res.Window), ms(res.Latency.Quantile(.5)),
		ms(res.Latency.Quantile(.99)), res.Errors, res.Lost, res.CPU)
	return res, nil
}

// bodySize is the JSON size of a heartbeat of a worker holding the average
// number of leases.
func (f *fleetRun) bodySize(ws []*simWorker) int {
	total, n := 0, 0
	for _, w := range ws {
		w.mu.Lock()
		for _, h := range w.held {
			b, _ := jsonSize(w.reportLocked(h, false))
			total += b
			n++
		}
		w.mu.Unlock()
	}
	if n == 0 || len(ws) == 0 {
		return 0
	}
	return total / len(ws)
}

// TrimResult is the release step between the two heartbeat phases.
type TrimResult struct {
	Keep     int
	Released int
	Requests int
	Errors   int64
	Took     time.Duration
}

// trim has every worker give back (POST /internal/v1/release, with final
// checkpoints) all but keep of its leases.
func (f *fleetRun) trim(ctx context.Context, keep int) (*TrimResult, error) {
	res := &TrimResult{Keep: keep}
	var released, requests, errs atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range f.live() {
		ids := w.heldIDs()
		if len(ids) <= keep {
			continue
		}
		wg.Go(func() {
			asWorkers(ctx, func(ctx context.Context) {
				requests.Add(1)
				released.Add(int64(len(ids) - keep))
				if err := w.release(ctx, ids[keep:], false); err != nil && ctx.Err() == nil {
					errs.Add(1)
					f.errs.add("release", err)
				}
			})
		})
	}
	wg.Wait()
	res.Took = time.Since(start)
	res.Released, res.Requests, res.Errors = int(released.Load()), int(requests.Load()), errs.Load()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	progress(f.cfg, "[release] workers gave back %s leases in %d requests (%s), keeping %d each",
		bench.Thousands(int64(res.Released)), res.Requests, secs(res.Took), keep)
	return res, nil
}

// KillResult is one worker's death and its jobs' failover.
type KillResult struct {
	Worker string
	Jobs   int
	// Expired is when the last of the dead worker's leases expired, after
	// the kill (from lease_expires_at).
	Expired time.Duration
	// Failover is when every job it held was leased by another worker,
	// after the kill (database polled every 50 ms).
	Failover time.Duration
	// LastGrant is when the last of them was granted, as the workers saw it.
	LastGrant time.Duration
	TimedOut  bool
}

// FailoverResult is the failover phase: workers at their normal cadence,
// and one killed at a time.
type FailoverResult struct {
	Kills      []KillResult
	Failovers  []time.Duration // sorted; a timed-out kill counts as its timeout
	Heartbeats int64
	Acquires   int64
	Granted    int64
	HBLatency  *bench.Histogram
	AcqLatency *bench.Histogram
	Errors     int64
	Shed       int64 // acquires the control plane shed (503, Retry-After)
	Lost       int64
	Revoked    int64
	Workers    int
	CPU        cpuUse
	Tables     []tableStat
}

// failover runs every worker like workers.Worker does (heartbeat every
// min(1s, TTL/4), acquire every 500 ms, heartbeat at once after a grant),
// then kills workers one at a time, abruptly (no release), and measures how
// long until all of a dead worker's jobs are leased by others.
func (f *fleetRun) failover(ctx context.Context) (*FailoverResult, error) {
	res := &FailoverResult{Workers: len(f.live())}
	var (
		hbLat, acqLat                                 bench.Recorder
		hbs, acqs, granted, errs, shed, lost, revoked atomic.Int64
	)
	progress(f.cfg, "[failover] %d workers at their normal cadence (heartbeat every %s, acquire every 500 ms); %d kills, one at a time",
		res.Workers, f.hbEvery, f.cfg.Kills)
	fctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	cancels := map[*simWorker]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, w := range f.live() {
		wctx, cancel := context.WithCancel(fctx)
		cancels[w] = cancel
		wg.Go(func() {
			asWorkers(wctx, func(ctx context.Context) {
				heartbeat := func() {
					o := w.heartbeat(ctx)
					if o.err != nil {
						if ctx.Err() == nil {
							errs.Add(1)
							f.errs.add("failover", o.err)
						}
						return
					}
					hbs.Add(1)
					hbLat.Record(o.latency)
					lost.Add(int64(o.lost))
					revoked.Add(int64(o.revoked))
				}
				// Spread the workers over the intervals, as independent
				// processes would be.
				if !sleep(ctx, rand.N(500*time.Millisecond)) {
					return
				}
				acq := time.NewTicker(500 * time.Millisecond)
				defer acq.Stop()
				hb := time.NewTimer(rand.N(f.hbEvery))
				defer hb.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-acq.C:
						if !w.acquireDue() {
							continue
						}
						n, d, err := w.acquire(ctx)
						if errors.Is(err, errShed) {
							shed.Add(1)
							continue
						}
						if err != nil {
							if ctx.Err() == nil {
								errs.Add(1)
								f.errs.add("failover", err)
							}
							continue
						}
						acqs.Add(1)
						acqLat.Record(d)
						granted.Add(int64(n))
						if n > 0 {
							heartbeat() // report at once, as workers.Worker does
							hb.Reset(f.hbEvery)
						}
					case <-hb.C:
						heartbeat()
						hb.Reset(f.hbEvery)
					}
				}
			})
		})
	}
	defer wg.Wait()
	defer cancelAll()

	tables0 := f.env.tableStats(ctx)
	cpu0 := f.env.cpu.Snap()
	if !sleep(ctx, 2*f.hbEvery+time.Second) {
		return nil, ctx.Err()
	}
	timeout := 3*f.cfg.TTL + 10*time.Second
	for k := range f.cfg.Kills {
		// A random moment relative to the victim's heartbeats.
		if !sleep(ctx, f.hbEvery+rand.N(f.hbEvery)) {
			return nil, ctx.Err()
		}
		var candidates []*simWorker
		for _, w := range f.live() {
			if w.heldCount() > 0 {
				candidates = append(candidates, w)
			}
		}
		if len(candidates) < 2 {
			progress(f.cfg, "[failover] no worker left to kill")
			break
		}
		victim := candidates[rand.N(len(candidates))]
		ids := victim.heldIDs()
		victim.dead.Store(true)
		cancels[victim]()
		killed := time.Now()
		kr := KillResult{Worker: victim.id, Jobs: len(ids)}
		var lastExpiry time.Time
		for {
			var moved int
			var exp *time.Time
			err := f.env.conn.QueryRow(ctx, `SELECT
					count(*) FILTER (WHERE owner IS NOT NULL AND owner <> $2 AND lease_expires_at > statement_timestamp()),
					max(lease_expires_at) FILTER (WHERE owner = $2)
				FROM jobs WHERE id = ANY($1)`, ids, victim.id).Scan(&moved, &exp)
			if err != nil {
				return nil, err
			}
			if exp != nil && exp.After(lastExpiry) {
				lastExpiry = *exp
			}
			if moved == len(ids) {
				kr.Failover = time.Since(killed)
				break
			}
			if time.Since(killed) > timeout {
				kr.Failover, kr.TimedOut = time.Since(killed), true
				break
			}
			if !sleep(ctx, 50*time.Millisecond) {
				return nil, ctx.Err()
			}
		}
		if !lastExpiry.IsZero() {
			kr.Expired = lastExpiry.Sub(killed)
		}
		if at, ok := f.owners.lastMove(ids, victim.id); ok {
			kr.LastGrant = at.Sub(killed)
		}
		res.Kills = append(res.Kills, kr)
		status := "all running elsewhere after " + secs(kr.Failover)
		if kr.TimedOut {
			status = "NOT all running elsewhere after " + secs(kr.Failover)
		}
		progress(f.cfg, "[failover] kill %d/%d: %s held %d jobs; its leases expired %s after the kill; %s (last grant seen by a worker at %s)",
			k+1, f.cfg.Kills, victim.id, len(ids), secs(kr.Expired), status, secs(kr.LastGrant))
	}
	res.CPU = f.env.cpuSince(cpu0)
	res.Tables = tableDelta(tables0, f.env.tableStats(ctx))
	cancelAll()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, k := range res.Kills {
		res.Failovers = append(res.Failovers, k.Failover)
	}
	slices.Sort(res.Failovers)
	res.Heartbeats, res.Acquires, res.Granted = hbs.Load(), acqs.Load(), granted.Load()
	res.Errors, res.Shed, res.Lost, res.Revoked = errs.Load(), shed.Load(), lost.Load(), revoked.Load()
	res.HBLatency, res.AcqLatency = hbLat.Histogram(), acqLat.Histogram()
	return res, nil
}

// ticker calls fn every d (with the time elapsed) until the returned stop
// is called or ctx ends.
func (f *fleetRun) ticker(ctx context.Context, d time.Duration, fn func(elapsed time.Duration)) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				fn(time.Since(start))
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
