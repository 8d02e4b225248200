// The pipeline's timed work (housekeep): failed partitions rewound, refused
// records found and retried, delivery timeouts, stalled records trimmed.

package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// housekeep does the pipeline's timed work: rewinding failed partitions
// (once nothing is in flight and their backoff passed), finding refused
// records, retrying halted partitions, making sure of missing target
// topics, and trimming what stuck partitions hold. It runs every
// iteration that follows a failure, and at least every pollWait. Which
// work a partition needs is decided by choreLocked (decide.go).
func (r *replication) housekeep(cl *clients) {
	now := time.Now()
	if !r.houseNow.Swap(false) && now.Sub(r.lastHouse) < pollWait {
		return
	}
	r.lastHouse = now
	r.mu.Lock()
	parts := make([]*partState, 0, len(r.parts))
	for _, st := range r.parts {
		parts = append(parts, st)
	}
	r.mu.Unlock()
	var hk chores
	for _, st := range parts {
		st.mu.Lock()
		switch st.choreLocked(now, r.e.cfg.DeliveryTimeout) {
		case choreRetry:
			r.retryLocked(st, now, &hk)
		case choreRetryHalt:
			retryHaltLocked(st, &hk)
		case choreTimeOut:
			r.timeOutLocked(st)
		case choreTrim:
			// Stuck: fetch these again once the partition has room.
			at := st.pending[0].Offset
			st.dropPendingLocked()
			hk.rewind(st, at)
		}
		st.mu.Unlock()
	}
	hk.apply(r, cl)
}

// chores collects what a pass of housekeep does once it has looked at
// every partition (outside their locks): the consumer's rewinds, target
// topics to make sure of again, and target limits to read again.
type chores struct {
	rewinds         map[string]map[int32]kgo.EpochOffset
	rewound         []*partState
	recover, reread []*partState
}

// rewind has st fetched again from offset at.
func (hk *chores) rewind(st *partState, at int64) {
	hk.rewound = append(hk.rewound, st)
	if hk.rewinds == nil {
		hk.rewinds = map[string]map[int32]kgo.EpochOffset{}
	}
	if hk.rewinds[st.topic] == nil {
		hk.rewinds[st.topic] = map[int32]kgo.EpochOffset{}
	}
	hk.rewinds[st.topic][st.partition] = kgo.EpochOffset{Epoch: -1, Offset: at}
}

func (hk *chores) apply(r *replication, cl *clients) {
	if len(hk.rewinds) > 0 {
		cl.consumer.SetOffsets(hk.rewinds)
		for _, st := range hk.rewound {
			r.markDirty(st) // resume
		}
	}
	for _, st := range hk.recover {
		r.recoverTarget(cl, st)
	}
	for _, st := range hk.reread {
		r.rereadLimits(cl, st)
	}
}

// retryLocked goes on with a partition whose record failed, nothing of it
// in flight: once its target topic is back (after an unknown topic), its
// backoff passed and its lease is fresh, it is rewound to the failed
// record. A refused record is first found (the batch copied one record at
// a time), then the partition stops at it.
func (r *replication) retryLocked(st *partState, now time.Time, hk *chores) {
	if st.needTarget {
		if r.targets.generation(st.targetTopic) <= st.targetGen {
			hk.recover = append(hk.recover, st)
			return
		}
		st.needTarget = false
	}
	if now.Before(st.retryAt) || !st.rctx.unfence() {
		return
	}
	at := st.failedAt
	if st.failKind == failRefused {
		haltAt, isolate := onRefused(at, st.failedLast, st.isolateUntil)
		if haltAt >= 0 {
			lims := r.targets.limitsOf(st.targetTopic)
			limit, what := lims.batchCap()
			msg := refusalMessage(st, at, limit, what, lims)
			code, ferr := st.failCode, st.failErr
			st.rewindLocked(at)
			st.haltLocked(at, code, msg, r.e.cfg.RejectedRetryInterval)
			r.logRate(slog.LevelError, "halt|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target refuses a record; the partition stops before it",
				"topic", st.topic, "partition", st.partition, "offset", at, "code", code, "err", ferr)
			return
		}
		st.isolateUntil = isolate
		hk.reread = append(hk.reread, st)
		r.log.Info("engine: the target refused a batch; copying its records one at a time to find the refused one",
			"topic", st.topic, "partition", st.partition, "from", at, "to", isolate, "err", st.failErr)
	}
	st.rewindLocked(at)
	st.backoff = nextBackoff(st.backoff)
	st.retryAt = now.Add(st.backoff)
	hk.rewind(st, at)
	r.logRate(slog.LevelInfo, "rewind|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: retrying partition from the failed record",
		"topic", st.topic, "partition", st.partition, "offset", at)
}

// retryHaltLocked retries a partition stopped at a refused record: it has
// the target's limits read again, and once they are, copies the record on
// its own once more.
func retryHaltLocked(st *partState, hk *chores) {
	switch {
	case !st.haltAsked:
		st.haltAsked = true
		hk.reread = append(hk.reread, st)
	case st.haltReady:
		at := st.haltAt
		st.haltAt, st.haltAsked, st.haltReady = -1, false, false
		st.isolateUntil = max(st.isolateUntil, at)
		st.rewindLocked(at)
		hk.rewind(st, at)
	}
}

// timeOutLocked fails the records of a partition the target acknowledged
// none of in time: the producer fails what it still holds of the
// partition (where it safely can), and the partition starts over from the
// first.
func (r *replication) timeOutLocked(st *partState) {
	st.rctx.timedOut.Store(true)
	st.err = &fleet.JobError{Code: CodeReplicationFailure, Since: sinceOr(st.err),
		Message: fmt.Sprintf("producing to %s[%d]: no record acknowledged in %s; retrying", st.targetTopic, st.partition, r.e.cfg.DeliveryTimeout)}
	r.logRate(slog.LevelWarn, "timeout|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target acknowledged no record of the partition in time; it will retry",
		"topic", st.topic, "partition", st.partition, "timeout", r.e.cfg.DeliveryTimeout)
}

// refusalMessage is the error of a partition stopped at a record the
// target refused.
func refusalMessage(st *partState, at, limit int64, what string, lims topicLimits) string {
	switch st.failCode {
	case CodeRecordTooLarge:
		return fmt.Sprintf("target topic %s partition %d refuses the record at source offset %d of %s: %d bytes as a batch, more than its limit of %d bytes (%s): %v; nothing after it is copied until the target takes it",
			st.targetTopic, st.partition, at, st.topic, st.failBatch, limit, what, st.failErr)
	case CodeRecordTimestampRejected:
		return fmt.Sprintf("target topic %s partition %d refuses the timestamp %s of the record at source offset %d of %s (%d bytes as a batch; timestamp limits: %s): %v; nothing after it is copied until the target takes it",
			st.targetTopic, st.partition, st.failTime.UTC().Format(time.RFC3339Nano), at, st.topic, st.failBatch, lims.timestampRules(), st.failErr)
	}
	return fmt.Sprintf("target topic %s partition %d refuses the record at source offset %d of %s (%d bytes as a batch; limit %d bytes, %s): %v; nothing after it is copied until the target takes it",
		st.targetTopic, st.partition, at, st.topic, st.failBatch, limit, what, st.failErr)
}

// rereadLimits reads st's target topic limits again in the background and
// applies them; a halted partition then retries its refused record.
func (r *replication) rereadLimits(cl *clients, st *partState) {
	target := st.targetTopic
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		lim, err := readLimits(ctx, cl, target)
		cancel()
		r.post(func(cl *clients) {
			if err == nil {
				r.applyLimits(target, lim)
			} else {
				r.logRate(slog.LevelWarn, "limits|"+target, "engine: cannot read the target topic's limits", "topic", target, "err", err)
			}
			st.mu.Lock()
			if st.haltAt >= 0 && st.haltAsked {
				st.haltReady = true
			}
			st.mu.Unlock()
			r.houseNow.Store(true)
		})
	}()
}
