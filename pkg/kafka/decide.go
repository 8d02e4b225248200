package kafka

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds the copy pipeline's decisions as pure functions: what a
// produce error means, whether a record may be handed to the producer now,
// how a refused record is found. The pipeline (pipeline.go) applies them.

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
