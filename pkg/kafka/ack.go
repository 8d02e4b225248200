// The pipeline's acknowledgements: what a produce result does to its
// partition (its checkpoint moves past the record, or the partition fails
// at it and housekeep rewinds it).

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// acked records a produce result. Results arrive in order per partition.
// It runs on the producer's promise goroutine: it must not block.
func (r *replication) acked(st *partState, h handed, dst int64, err error, name, account string) {
	m := r.e.cfg.Metrics
	st.mu.Lock()
	st.inflight--
	st.inflightB -= h.cost
	src := h.src
	if err != nil {
		r.failedLocked(st, h, err)
	} else if st.failedAt < 0 || src < st.failedAt {
		r.copiedLocked(st, h, dst)
	}
	if st.inflight == 0 && st.idle != nil {
		close(st.idle)
		st.idle = nil
	}
	wake := st.wakeAfterAckLocked(err != nil, src)
	topic := st.topic
	st.mu.Unlock()
	if wake {
		if err != nil {
			r.houseNow.Store(true)
		}
		r.markDirty(st)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			m.replicationFailure(name, account)
			r.logRate(slog.LevelWarn, "produce|"+topic+"|"+strconv.Itoa(int(st.partition))+"|"+errClass(err),
				"engine: produce failed; the partition will retry from the failed record", "topic", topic, "partition", st.partition,
				"offset", src, "err", err)
		}
		return
	}
	m.replicated(name, account, topic, h.size, time.Since(h.ts))
}

// failedLocked records that the record h failed with err: the partition
// fails at its lowest failed record, with what the failure means
// (classifyProduceError), and is rewound to it by housekeep.
func (r *replication) failedLocked(st *partState, h handed, err error) {
	// Whatever the producer still holds of the partition must not be
	// written before this record.
	st.rctx.fail()
	src := h.src
	kind, code := classifyProduceError(err)
	if st.failedAt < 0 || src < st.failedAt {
		st.failedAt, st.failErr, st.failBatch, st.failTime = src, err, h.batch, h.ts
		st.failKind, st.failCode = kind, code
		st.needTarget = false
		if kind == failUnknownTopic {
			st.needTarget, st.targetGen = true, r.targets.generation(st.targetTopic)
		}
	}
	st.failedLast = max(st.failedLast, src)
	if !errors.Is(err, context.Canceled) {
		st.err = &fleet.JobError{Code: CodeReplicationFailure, Message: fmt.Sprintf("producing to %s[%d] failed: %s", st.targetTopic, st.partition, tenantText(err)), Since: sinceOr(st.err)}
	}
}

// copiedLocked records that the target acknowledged the record h at
// target offset dst: the checkpoint moves past it (the mapping point of a
// new target topic when it is the first there), and a failure or refusal
// before it is over.
func (r *replication) copiedLocked(st *partState, h handed, dst int64) {
	src := h.src
	st.lastProgress = time.Now()
	id := r.targets.knownID(st.targetTopic)
	if st.ackedTargetID != "" && id != "" && id != st.ackedTargetID {
		st.firstPoint = &fleet.MappingPoint{SourceOffset: src, TargetOffset: dst, TargetTopicID: id}
	}
	st.acked, st.ackedTarget, st.ackedTargetID = src, dst, id
	st.records++
	st.bytes += h.size
	lat := time.Since(h.ts)
	st.lastLatency = lat
	st.latencyMax = max(st.latencyMax, lat)
	if st.failedAt < 0 {
		st.err = nil // copying again (after a rewind, the failure is over)
		st.backoff = 0
	}
	if st.haltErr != nil && st.haltAt < 0 && src >= st.haltedAt {
		st.haltErr = nil // the refused record was copied after all
	}
}
