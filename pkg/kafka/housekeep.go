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
// iteration that follows a failure, and at least every pollWait.
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
	rewinds := map[string]map[int32]kgo.EpochOffset{}
	var recover, reread, rewound []*partState
	rewind := func(st *partState, at int64) {
		rewound = append(rewound, st)
		if rewinds[st.topic] == nil {
			rewinds[st.topic] = map[int32]kgo.EpochOffset{}
		}
		rewinds[st.topic][st.partition] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	for _, st := range parts {
		st.mu.Lock()
		switch {
		case st.stopped || st.retired != nil || !st.ready:
		case st.failedAt >= 0 && st.inflight == 0:
			if st.needTarget {
				if r.targets.generation(st.targetTopic) <= st.targetGen {
					recover = append(recover, st)
					break
				}
				st.needTarget = false
			}
			if now.Before(st.retryAt) || !st.rctx.unfence() {
				break
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
					break
				}
				st.isolateUntil = isolate
				reread = append(reread, st)
				r.log.Info("engine: the target refused a batch; copying its records one at a time to find the refused one",
					"topic", st.topic, "partition", st.partition, "from", at, "to", isolate, "err", st.failErr)
			}
			st.rewindLocked(at)
			st.backoff = min(max(2*st.backoff, 100*time.Millisecond), 5*time.Second)
			st.retryAt = now.Add(st.backoff)
			rewind(st, at)
			r.logRate(slog.LevelInfo, "rewind|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: retrying partition from the failed record",
				"topic", st.topic, "partition", st.partition, "offset", at)
		case st.haltAt >= 0 && st.inflight == 0 && !now.Before(st.haltRetryAt):
			switch {
			case !st.haltAsked:
				st.haltAsked = true
				reread = append(reread, st)
			case st.haltReady:
				// The limits were read again: copy the refused record on
				// its own once more.
				at := st.haltAt
				st.haltAt, st.haltAsked, st.haltReady = -1, false, false
				st.isolateUntil = max(st.isolateUntil, at)
				st.rewindLocked(at)
				rewind(st, at)
			}
		case st.inflight > 0 && st.failedAt < 0 && now.Sub(st.lastProgress) > r.e.cfg.DeliveryTimeout && !st.rctx.timedOut.Load():
			// The producer fails what it still holds of the partition
			// (where it safely can), and the partition starts over from
			// the first.
			st.rctx.timedOut.Store(true)
			st.err = &fleet.JobError{Code: CodeReplicationFailure, Since: sinceOr(st.err),
				Message: fmt.Sprintf("producing to %s[%d]: no record acknowledged in %s; retrying", st.targetTopic, st.partition, r.e.cfg.DeliveryTimeout)}
			r.logRate(slog.LevelWarn, "timeout|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target acknowledged no record of the partition in time; it will retry",
				"topic", st.topic, "partition", st.partition, "timeout", r.e.cfg.DeliveryTimeout)
		case len(st.pending) > 0 && !st.stalledSince.IsZero() && now.Sub(st.stalledSince) > stallTrim:
			// Stuck: fetch these again once the partition has room.
			at := st.pending[0].Offset
			st.dropPendingLocked()
			rewind(st, at)
		}
		st.mu.Unlock()
	}
	if len(rewinds) > 0 {
		cl.consumer.SetOffsets(rewinds)
		for _, st := range rewound {
			r.markDirty(st) // resume
		}
	}
	for _, st := range recover {
		r.recoverTarget(cl, st)
	}
	for _, st := range reread {
		r.rereadLimits(cl, st)
	}
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
