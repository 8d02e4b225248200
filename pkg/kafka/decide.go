// The copy pipeline's decisions, as pure functions of a partition's state
// and a record: what a produce error means, whether a partition copies and
// a record may pass its fences, whether a record may be handed to the
// producer now, how a refused record is found, what timed work a partition
// needs. The pipeline's files apply them; decide_test.go and
// handover_test.go test them without a broker.

package kafka

import (
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failureKind is what a failed produce means for its partition.
type failureKind int

const (
	// failTransient: nothing is wrong with the record (the lease went
	// stale, a delivery timeout, a purge, the network): fetch it again and
	// retry.
	failTransient failureKind = iota
	// failUnknownTopic: the target topic is gone, was re-created or lacks
	// the partition: make sure of it (create it again, add partitions),
	// purge it from the producer, then retry.
	failUnknownTopic
	// failRefused: the target refuses the record (or its batch): find the
	// refused record and stop the partition at it.
	failRefused
)

// classifyProduceError says what a produce error means and, for a refusal,
// the error code the partition reports.
func classifyProduceError(err error) (failureKind, string) {
	switch {
	case err == nil:
		return failTransient, ""
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		strings.Contains(err.Error(), "invalid record partitioning choice"):
		// The last: franz-go's own refusal of a partition the target
		// topic does not have (re-created elsewhere with fewer).
		return failUnknownTopic, ""
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return failRefused, CodeRecordTooLarge
	case errors.Is(err, kerr.InvalidTimestamp):
		return failRefused, CodeRecordTimestampRejected
	case errors.Is(err, kerr.CorruptMessage):
		// Retriable for Kafka, but franz-go never retries it.
		return failRefused, CodeRecordRejected
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Retriable {
		return failTransient, ""
	}
	switch ke {
	case kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID, kerr.InvalidProducerEpoch,
		kerr.InvalidProducerIDMapping, kerr.DuplicateSequenceNumber:
		// The producer's idempotence state, which it resets itself.
		return failTransient, ""
	}
	return failRefused, CodeRecordRejected
}

// In-flight caps: a replication's records handed to the producer and not
// yet acknowledged are bounded by its budget, shared by its partitions.
const (
	minPartitionInflight = 4 << 10
	maxPartitionInflight = 8 << 20
)

// partitionCap is each partition's share of the in-flight budget.
func partitionCap(budget int64, partitions int) int64 {
	return min(max(budget/int64(max(partitions, 1)), minPartitionInflight), maxPartitionInflight)
}

// handoff is what the pipeline knows when it considers handing the next
// record of a partition to the producer.
type handoff struct {
	batchBytes int64 // brokerBatchBytes of the record
	limit      int64 // the largest batch the target topic takes (see topicLimits)
	cost       int64 // recordCost of the record
	inflight   int   // the partition's records handed and not acknowledged
	inflightB  int64 // their cost
	cap        int64 // the partition's in-flight cap
	isolating  bool  // the record is copied on its own (finding a refused record)
}

type verdict int

const (
	handOver   verdict = iota // produce it now
	waitForAck                // not now: wait for acknowledgements
	tooLarge                  // never: the target topic cannot take it
)

// admit decides what to do with the next record of a partition. A record
// larger than the target takes is never handed over (franz-go would fail
// it alone and go on with the next ones: they would be written before it).
// A partition with nothing in flight always takes one record, however
// large, so that each partition makes progress whatever the others do.
func admit(h handoff) verdict {
	switch {
	case h.batchBytes > h.limit:
		return tooLarge
	case h.inflight == 0:
		return handOver
	case h.isolating:
		return waitForAck
	case h.inflightB+h.cost > h.cap:
		return waitForAck
	}
	return handOver
}

// onRefused decides what a refusal means for a partition: first and last
// are the lowest and highest offsets that failed with it, isolateUntil the
// last offset being copied one record at a time (-1: none). A refusal of a
// record copied on its own names the record: stop at it. Otherwise the
// refused batch held several records: copy them again one at a time, up to
// the last that failed, to find the one refused.
func onRefused(first, last, isolateUntil int64) (haltAt, isolate int64) {
	if first <= isolateUntil {
		return first, -1
	}
	return -1, last
}

// sameTopic reports whether a job that leased the source topic with ID
// leased may copy the topic the source now calls by that name (ID
// current). An empty ID is unknown (a lease from before topic IDs, or a
// cluster that reports none) and never counts as a change.
func sameTopic(leased, current string) bool {
	return leased == "" || current == "" || leased == current
}

// wantPauseLocked reports whether the partition's fetching is to be
// paused: it holds records it cannot hand over yet, it has no room, or it
// waits (a failure, a refused record, a retired job).
func (p *partState) wantPauseLocked(capB int64) bool {
	switch {
	case p.stopped:
		return false // no longer fetched at all
	case p.retired != nil, p.failedAt >= 0, len(p.pending) > 0:
		return true
	case p.haltAt >= 0 && p.seen >= p.haltAt-1:
		return true // everything before the refused record was handed over
	case p.inflight > 0 && p.inflightB >= capB:
		return true
	}
	return false
}

// The hand-over of a partition's records is decided by six facts of its
// state: whether its target topic is ready (ready), whether its job was
// stopped (stopped) or retired (retired), whether a record of it failed
// (failedAt), whether the target refuses one of its records (haltAt), and
// whether its lease is fresh. The pump (pump.go) asks copyingLocked once
// per pass, reads the lease once, then asks gateLocked for each record
// before admit.

// copyingLocked reports whether the partition hands records to the
// producer at all now: its target topic is ready and it is fetched, its
// job was neither stopped nor retired (its source topic re-created), and
// no record of it failed (it waits to be rewound to that record). Records
// fetched while it is not are not kept either (take).
func (p *partState) copyingLocked() bool {
	return p.ready && !p.stopped && p.retired == nil && p.failedAt < 0
}

// gate is what a partition's fences say of its next pending record.
type gate int

const (
	// gateOpen: the record may be handed over, as far as admit allows.
	gateOpen gate = iota
	// gateHalted: the record is at or past the one the target refuses:
	// it and those after it are dropped (fetched again once the refused
	// record is retried).
	gateHalted
	// gateStale: the lease is not fresh (or the partition is fenced):
	// nothing is written; the partition fails at this record and is
	// fetched again from it once the lease is renewed.
	gateStale
)

// gateLocked decides whether the pending record at offset may go past the
// partition's fences: the refused record (haltAt) first, then the lease
// (fresh, as leaseFresh said at the start of the pass).
func (p *partState) gateLocked(offset int64, fresh bool) gate {
	switch {
	case p.haltAt >= 0 && offset >= p.haltAt:
		return gateHalted
	case !fresh:
		return gateStale
	}
	return gateOpen
}

// chore is the timed work housekeep does for one partition in a pass (at
// most one).
type chore int

const (
	choreNone chore = iota
	// choreRetry: a record failed and nothing is in flight: rewind to it
	// once its backoff passed, the lease is fresh and the target topic is
	// back (or find the refused record, or stop at it).
	choreRetry
	// choreRetryHalt: the partition stopped at a record the target
	// refuses and its retry interval passed: read the target's limits
	// again, then copy the record alone once more.
	choreRetryHalt
	// choreTimeOut: records are in flight and none was acknowledged
	// within the delivery timeout: fail them and start over from the
	// first.
	choreTimeOut
	// choreTrim: pending records could not be handed over for stallTrim:
	// drop them and fetch them again once the partition has room.
	choreTrim
)

// choreLocked decides the partition's timed work at now (deliveryTimeout:
// Config.DeliveryTimeout). A partition that is not copying for good
// (stopped, retired) or not yet (its target topic not ready) has none.
func (p *partState) choreLocked(now time.Time, deliveryTimeout time.Duration) chore {
	switch {
	case p.stopped || p.retired != nil || !p.ready:
		return choreNone
	case p.failedAt >= 0 && p.inflight == 0:
		return choreRetry
	case p.haltAt >= 0 && p.inflight == 0 && !now.Before(p.haltRetryAt):
		return choreRetryHalt
	case p.inflight > 0 && p.failedAt < 0 && now.Sub(p.lastProgress) > deliveryTimeout && !p.rctx.timedOut.Load():
		return choreTimeOut
	case len(p.pending) > 0 && !p.stalledSince.IsZero() && now.Sub(p.stalledSince) > stallTrim:
		return choreTrim
	}
	return choreNone
}

// Rewinds of a partition that makes no progress back off from
// minRetryBackoff to maxRetryBackoff.
const (
	minRetryBackoff = 100 * time.Millisecond
	maxRetryBackoff = 5 * time.Second
)

// nextBackoff is the wait before the next rewind of a partition after one
// that waited d.
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, minRetryBackoff), maxRetryBackoff)
}

// wakeAfterAckLocked reports whether the pipeline must look at the
// partition again after the produce result of the record at offset src
// (failed: it failed): to rewind it, hand over what it holds, resume its
// fetching, or copy the next record once the one copied alone is
// acknowledged.
func (p *partState) wakeAfterAckLocked(failed bool, src int64) bool {
	return failed || len(p.pending) > 0 || p.paused || p.inflight == 0 && p.isolateUntil >= src
}

// fitBudget returns how many of recs (fetched records of a partition, in
// order) may be queued in room bytes (keyValueBytes), and their bytes.
// A partition that holds nothing may always queue its first record, so
// that every partition makes progress however full the budget is.
func fitBudget(recs []*kgo.Record, room int64, holding bool) (n int, bytes int64) {
	for i, rec := range recs {
		size := keyValueBytes(rec)
		if room-size < 0 && (i > 0 || holding) {
			return i, bytes
		}
		room -= size
		bytes += size
	}
	return len(recs), bytes
}

// unseen drops from recs (in offset order) the records at or before last:
// records fetched again that the partition already holds or handed over.
func unseen(recs []*kgo.Record, last int64) []*kgo.Record {
	for len(recs) > 0 && recs[0].Offset <= last {
		recs = recs[1:]
	}
	return recs
}
