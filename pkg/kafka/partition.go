package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// partState is the copy state of one source partition owned by this
// worker. The pipeline goroutine and produce callbacks update it; reports
// read it.
type partState struct {
	topic       string
	partition   int32
	targetTopic string

	mu sync.Mutex
	// seen is the highest source offset handed to the pipeline (produced
	// or filtered); acked the highest acknowledged by the target, with its
	// target offset. Acknowledgements come in order per partition.
	seen, acked, ackedTarget int64
	inflight                 int
	start                    int64 // the lease's start offset
	failedAt                 int64 // lowest source offset whose produce failed, -1 if none
	hwm                      int64
	stopped                  bool // drained or aborted: produce nothing more
	startChecked             bool // the first records were checked against start
	ready                    bool // target topic exists and the partition is being fetched
	records, bytes           int64
	latencyMax               time.Duration // since the last report
	lastLatency              time.Duration
	err                      *fleet.JobError
	rateAt                   time.Time
	rateRecords, rateBytes   int64
	idle                     chan struct{} // closed when inflight drops to 0 while stopped

	// fresh reports whether the lease is fresh enough to write (nil:
	// always); rctx is the context of every record produced for the
	// partition, done once the lease is not fresh or the job aborted, so
	// that the producer does not start sending what it still buffers.
	fresh func() bool
	rctx  *leaseCtx
}

func newPartState(ctx context.Context, l fleet.Lease, targetTopic string, fresh func() bool) *partState {
	p := &partState{topic: l.Topic, partition: l.Partition, targetTopic: targetTopic,
		seen: -1, acked: -1, ackedTarget: -1, start: l.StartOffset, failedAt: -1, hwm: -1, rateAt: time.Now(), fresh: fresh}
	p.rctx = newLeaseCtx(ctx, fresh)
	return p
}

// leaseFresh reports whether the partition may hand records to the
// producer now. Once it was not, it stays so until the partition is
// rewound (see leaseCtx.fenced).
func (p *partState) leaseFresh() bool { return p.rctx.ok() }

// errLeaseStale fails records whose lease went stale before they were
// sent. It is a cancellation: the partition rewinds, nothing is lost.
var errLeaseStale = fmt.Errorf("the job's lease was not renewed in time: %w", context.Canceled)

// leaseCtx is a context that is done when its parent is, when it is
// aborted, or (checked each time it is asked) when the lease is no longer
// fresh. The producer asks before it writes a partition's first buffered
// batch, so after a pause the answer reflects the time of the write, not
// that of a timer that may not have fired yet.
type leaseCtx struct {
	context.Context
	fresh  func() bool
	cancel context.CancelFunc
	// fenced is set the first time anyone sees the lease stale, and stays
	// set until the partition is rewound: a renewal that arrives while
	// the producer is still failing the records it held must not let
	// later records through before those are fetched again (that would
	// write them out of order).
	fenced atomic.Bool
}

// ok reports whether writes may go on: not fenced, and the lease fresh
// (seeing it stale fences).
func (c *leaseCtx) ok() bool {
	if c.fenced.Load() {
		return false
	}
	if c.fresh != nil && !c.fresh() {
		c.fenced.Store(true)
		return false
	}
	return true
}

// unfence lets writes go on again once the lease is fresh; the caller has
// rewound the partition and nothing is in flight.
func (c *leaseCtx) unfence() bool {
	if c.fresh != nil && !c.fresh() {
		return false
	}
	c.fenced.Store(false)
	return true
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newLeaseCtx(parent context.Context, fresh func() bool) *leaseCtx {
	ctx, cancel := context.WithCancel(parent)
	return &leaseCtx{Context: ctx, fresh: fresh, cancel: cancel}
}

func (c *leaseCtx) Done() <-chan struct{} {
	if !c.ok() {
		return closedCh
	}
	return c.Context.Done()
}

func (c *leaseCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !c.ok() {
		return errLeaseStale
	}
	return nil
}

// checkpoint returns the next source offset to copy and the matching next
// target offset, or ok=false before anything was copied.
func (p *partState) checkpointLocked() (src, dst int64, ok bool) {
	switch {
	case p.failedAt >= 0:
		// Never move past a record the target did not take.
		if p.acked >= 0 && p.acked < p.failedAt {
			return min(p.acked+1, p.failedAt), p.ackedTarget + 1, true
		}
		return 0, 0, false
	case p.inflight == 0 && p.seen >= 0:
		return p.seen + 1, p.ackedTarget + 1, true
	case p.acked >= 0:
		return p.acked + 1, p.ackedTarget + 1, true
	}
	return 0, 0, false
}

// report builds the job report: checkpoint, progress and rates since the
// previous report.
func (p *partState) report(version int64, connErr *fleet.JobError) fleet.JobReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := fleet.JobReport{SpecVersion: version}
	if src, dst, ok := p.checkpointLocked(); ok {
		r.Checkpoint, r.TargetCheckpoint = &src, &dst
	}
	now := time.Now()
	el := now.Sub(p.rateAt).Seconds()
	prog := &fleet.PartitionProgress{TargetTopic: p.targetTopic, LastOffset: p.acked, HighWatermark: p.hwm,
		Records: p.records, Bytes: p.bytes, LatencyMillis: float64(p.lastLatency.Microseconds()) / 1000}
	if p.latencyMax > 0 {
		prog.LatencyMillis = float64(p.latencyMax.Microseconds()) / 1000
	}
	if el > 0 {
		prog.RecordsPerSec = float64(p.records-p.rateRecords) / el
		prog.BytesPerSec = float64(p.bytes-p.rateBytes) / el
	}
	prog.Lag = p.lagLocked()
	p.rateAt, p.rateRecords, p.rateBytes, p.latencyMax = now, p.records, p.bytes, 0
	r.Progress = prog
	switch {
	case connErr != nil:
		r.Error = connErr
	case p.err != nil:
		r.Error = p.err
	}
	return r
}

// lagLocked is how many records the partition is behind the source's
// high watermark (0 before the watermark is known).
func (p *partState) lagLocked() int64 {
	if p.hwm < 0 {
		return 0
	}
	next := p.acked + 1
	if src, _, ok := p.checkpointLocked(); ok {
		next = src
	} else if p.start >= 0 {
		next = p.start
	}
	if p.start == fleet.OffsetEarliest && p.seen < 0 {
		return p.hwm // nothing copied yet: at most everything
	}
	return max(p.hwm-next, 0)
}

// waitIdle blocks until nothing is in flight or ctx ends.
func (p *partState) waitIdle(ctx context.Context) error {
	p.mu.Lock()
	if p.inflight == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	ch := p.idle
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
