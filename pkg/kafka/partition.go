// The copy state of one partition (partState): offsets handed over,
// acknowledged and failed, records pending and in flight, and what its
// job reports from them (checkpoint, progress, error, notices).

package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	// topicID is the source topic's ID this job copies: the lease's, or
	// the one the source reported when the job began ("": unknown).
	topicID string
	// seen is the highest source offset handed to the producer (or
	// filtered); acked the highest acknowledged by the target, with its
	// target offset. Acknowledgements come in order per partition.
	seen, acked, ackedTarget int64
	// ackedTargetID is the target topic (its ID) ackedTarget counts in.
	ackedTargetID string
	// firstPoint is the first record copied into a new target topic (one
	// deleted and created again): source offset ↔ target offset, an exact
	// mapping point the next report sends instead of the checkpoint, so
	// that consumer groups can be translated into the new topic from where
	// it starts.
	firstPoint   *fleet.MappingPoint
	inflight     int       // records handed and not acknowledged
	inflightB    int64     // their recordCost
	lastProgress time.Time // last acknowledgement, or hand-over with nothing in flight
	// pending are records fetched and not yet handed to the producer,
	// in offset order: they wait for room (the in-flight cap) or for the
	// record before them (copying one at a time).
	pending      []*kgo.Record
	pendingB     atomic.Int64 // their keys' and values' bytes (read without mu by pendingOver)
	stalledSince time.Time    // pending records could not be handed since
	paused       bool         // fetching is paused by the pipeline
	start        int64        // the lease's start offset

	// A failed produce: the lowest and highest source offsets that
	// failed, and what the failure at failedAt means (failKind, its code,
	// the record's batch size and timestamp). The partition is rewound to
	// failedAt once nothing is in flight.
	failedAt, failedLast int64
	failKind             failureKind
	failCode             string
	failErr              error
	failBatch            int64
	failTime             time.Time
	// needTarget: the failure waits for the target topic to be made sure
	// of again (recovery generation targetGen to be passed).
	needTarget bool
	targetGen  uint64
	retryAt    time.Time     // no rewind before
	backoff    time.Duration // between rewinds without progress

	// isolateUntil: records up to this offset are copied one at a time,
	// to find the one the target refused (-1: none).
	isolateUntil int64
	// haltAt: the target refuses the record at this offset; nothing from
	// it on is handed to the producer (-1: none). haltErr is the refusal,
	// reported until a record at haltedAt is copied; retries re-read the
	// target's limits first (haltRetryAt, haltReady).
	haltAt      int64
	haltedAt    int64
	haltErr     *fleet.JobError
	haltRetryAt time.Time
	haltAsked   bool
	haltReady   bool

	// retired: the source topic was re-created; the job copies nothing
	// more (its error until the control plane replaces it).
	retired *fleet.JobError

	hwm                    int64
	stopped                bool // drained or aborted: produce nothing more
	startChecked           bool // the first records were checked against start
	ready                  bool // target topic exists and the partition is being fetched
	records, bytes         int64
	latencyMax             time.Duration // since the last report
	lastLatency            time.Duration
	err                    *fleet.JobError
	rateAt                 time.Time
	rateRecords, rateBytes int64
	idle                   chan struct{} // closed when inflight drops to 0 while stopped
	notices                []fleet.Notice

	// fresh reports whether the lease is fresh enough to write (nil:
	// always); rctx is the context of every record produced for the
	// partition, done once the lease is not fresh, the partition failed or
	// the job aborted, so that the producer does not start sending what it
	// still buffers.
	fresh func() bool
	rctx  *leaseCtx
}

func newPartState(ctx context.Context, l fleet.Lease, targetTopic string, fresh func() bool) *partState {
	p := &partState{topic: l.Topic, partition: l.Partition, targetTopic: targetTopic, topicID: l.TopicID,
		seen: -1, acked: -1, ackedTarget: -1, start: l.StartOffset, failedAt: -1, failedLast: -1, isolateUntil: -1,
		haltAt: -1, haltedAt: -1, hwm: -1, rateAt: time.Now(), fresh: fresh}
	p.rctx = newLeaseCtx(ctx, fresh)
	return p
}

// leaseFresh reports whether the partition may hand records to the
// producer now. Once it was not, it stays so until the partition is
// rewound (see leaseCtx.fenced).
func (p *partState) leaseFresh() bool { return p.rctx.ok() }

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

// rewindLocked forgets everything from offset at on: the partition is
// fetched again from there (nothing from there is in flight).
func (p *partState) rewindLocked(at int64) {
	p.failedAt, p.failedLast, p.failErr, p.needTarget = -1, -1, nil, false
	if p.seen >= at {
		p.seen = at - 1
	}
	if p.acked >= at {
		p.acked = at - 1
	}
	p.dropPendingLocked()
}

func (p *partState) dropPendingLocked() {
	clear(p.pending)
	p.pending = nil
	p.pendingB.Store(0)
	p.stalledSince = time.Time{}
}

// haltLocked stops the partition before the record at offset at, which
// the target refuses: code and msg are the (fatal) error it reports.
func (p *partState) haltLocked(at int64, code, msg string, retry time.Duration) {
	since := time.Now()
	if p.haltErr != nil {
		since = p.haltErr.Since
	}
	p.haltAt, p.haltedAt = at, at
	p.haltErr = &fleet.JobError{Code: code, Message: msg, Since: since, Fatal: true}
	p.haltRetryAt, p.haltAsked, p.haltReady = time.Now().Add(retry), false, false
	p.isolateUntil = -1
	if p.seen >= at {
		p.seen = at - 1
	}
	if p.acked >= at {
		p.acked = at - 1
	}
	p.dropPendingLocked()
}

// retireLocked stops the partition for good: the source topic it copies
// was deleted and created again (a new topic under the same name).
func (p *partState) retireLocked(current string) {
	p.retired = &fleet.JobError{Code: CodeSourceTopicRecreated, Since: time.Now(),
		Message: fmt.Sprintf("source topic %s was deleted and created again (topic ID %s, this job copied %s); this job copies nothing more, the new topic is copied from its start by new jobs",
			p.topic, current, p.topicID)}
	p.dropPendingLocked()
}

// resumeOffsetLocked is where fetching resumes for the partition after
// its topic was purged from the consumer.
func (p *partState) resumeOffsetLocked() kgo.Offset {
	switch {
	case p.failedAt >= 0:
		return kgo.NewOffset().At(p.failedAt)
	case len(p.pending) > 0:
		return kgo.NewOffset().At(p.pending[0].Offset)
	case p.seen >= 0:
		return kgo.NewOffset().At(p.seen + 1)
	case p.start >= 0:
		return kgo.NewOffset().At(p.start)
	}
	return kgo.NewOffset().AtStart()
}

// maxNotices bounds the notices a job keeps until they are acknowledged.
const maxNotices = 16

func (p *partState) addNoticeLocked(code, msg string) {
	if len(p.notices) >= maxNotices {
		p.notices = p.notices[1:]
	}
	p.notices = append(p.notices, fleet.Notice{Code: code, Message: msg, At: time.Now()})
}

// ackNotices forgets the notices made at or before upTo.
func (p *partState) ackNotices(upTo time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notices = ackNotices(p.notices, upTo)
}

// ackNotices drops from ns the notices made at or before upTo.
func ackNotices(ns []fleet.Notice, upTo time.Time) []fleet.Notice {
	keep := ns[:0]
	for _, n := range ns {
		if n.At.After(upTo) {
			keep = append(keep, n)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return keep
}

// report builds the job report: checkpoint, progress and rates since the
// previous report, error and notices.
func (p *partState) report(version int64, connErr *fleet.JobError) fleet.JobReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := fleet.JobReport{SpecVersion: version}
	if fp := p.firstPoint; fp != nil {
		p.firstPoint = nil
		r.Checkpoint, r.TargetCheckpoint, r.TargetTopicID = &fp.SourceOffset, &fp.TargetOffset, fp.TargetTopicID
	} else if src, dst, ok := p.checkpointLocked(); ok {
		r.Checkpoint = &src
		if p.ackedTarget >= 0 {
			// The target position is known only once this job had a
			// record acknowledged; before that the store keeps the one it
			// has (records skipped since do not move it).
			r.TargetCheckpoint, r.TargetTopicID = &dst, p.ackedTargetID
		}
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
	case p.retired != nil:
		r.Error = p.retired
	case p.haltErr != nil:
		r.Error = p.haltErr
	case p.err != nil:
		r.Error = p.err
	}
	if len(p.notices) > 0 {
		r.Notices = append([]fleet.Notice(nil), p.notices...)
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

// popPendingLocked removes the first pending record.
func (p *partState) popPendingLocked() {
	rec := p.pending[0]
	p.pendingB.Add(-keyValueBytes(rec))
	p.pending[0] = nil
	p.pending = p.pending[1:]
}
