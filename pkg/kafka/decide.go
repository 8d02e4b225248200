package kafka

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file holds the copy pipeline's decisions as pure functions: what a
// produce error means, whether a record may be handed to the producer now,
// how a refused record is found. The pipeline (pipeline.go) applies them.

// Error codes a partition job reports (JobError.Code).
const (
	// CodeRecordTooLarge: a record is larger than the target topic takes
	// (max.message.bytes, segment.bytes). Fatal: the partition stops at it.
	CodeRecordTooLarge = "RecordTooLarge"
	// CodeRecordTimestampRejected: the target refuses a record's timestamp
	// (INVALID_TIMESTAMP, message.timestamp.*.max.ms). Fatal.
	CodeRecordTimestampRejected = "RecordTimestampRejected"
	// CodeRecordRejected: the target refuses a record for another reason
	// that retrying does not cure. Fatal.
	CodeRecordRejected = "RecordRejected"
	// CodeSourceTopicRecreated: the source topic was deleted and created
	// again; the job copied the old topic and copies nothing more until the
	// control plane replaces it.
	CodeSourceTopicRecreated = "SourceTopicRecreated"
	// CodeReplicationFailure: producing failed and is being retried.
	CodeReplicationFailure = "ReplicationFailure"
	// CodeTargetTopicUnavailable: the target topic cannot be made sure of
	// (created, listed) yet.
	CodeTargetTopicUnavailable = "TargetTopicUnavailable"
	// CodeLeaseNotRenewed: writes are paused until the lease is renewed.
	CodeLeaseNotRenewed = "LeaseNotRenewed"
)

// NoticeTargetTopicRecreated is the notice of a job that found its target
// topic missing and created it again.
const NoticeTargetTopicRecreated = "TargetTopicRecreated"

// NoticeTargetPartitionsAdded is the notice of a job that found a target
// topic with fewer partitions than its source topic and added them.
const NoticeTargetPartitionsAdded = "TargetPartitionsAdded"

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

// recordOverhead is what every record counts against a partition's
// in-flight cap beyond its key, value and headers, so that a cap in bytes
// also bounds the number of empty records.
const recordOverhead = 64

// recordCost is what rec counts against its partition's in-flight cap.
func recordCost(rec *kgo.Record) int64 {
	n := int64(len(rec.Key) + len(rec.Value) + recordOverhead)
	for _, h := range rec.Headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	return n
}

// batchOverhead is franz-go's size of a record batch with no records
// (recordBatchOverhead in kgo/sink.go: the batch header and the length of
// the records field). A broker compares the batch without that 4-byte
// length with max.message.bytes, so franz-go's figure is the stricter.
const batchOverhead = 65

// brokerBatchBytes is the size a broker gives a batch that holds only rec
// (uncompressed), the figure it compares with max.message.bytes and
// segment.bytes: franz-go's figure (recordBatchBytes) without the 4-byte
// length of the request's records field, which is not part of the batch.
// Every limit of the pipeline is in these terms; franz-go is given
// producerCap of them.
func brokerBatchBytes(rec *kgo.Record) int64 { return recordBatchBytes(rec) - 4 }

// producerCap is the ProducerBatchMaxBytes under which franz-go builds
// batches a broker with the given limit takes: franz-go counts a batch
// with the length of the records field, a uvarint in the flexible produce
// requests of every broker since Kafka 2.4 (older ones, with a 4-byte
// length, may see franz-go refuse a record within 4 bytes of the limit,
// which the partition then reports as too large).
func producerCap(limit int64) int64 { return limit + int64(kbin.UvarintLen(uint32(limit)+1)) }

// recordBatchBytes is the size franz-go gives a batch that holds only rec
// (uncompressed), the figure it compares with the topic's batch cap
// (ProducerBatchMaxBytesFn) before it refuses the record on its own. The
// arithmetic is kgo's recordNumbersAt for the first record of a batch,
// and the larger of the fixed-length and flexible encodings.
func recordBatchBytes(rec *kgo.Record) int64 {
	l := 1 + // attributes
		kbin.VarlongLen(0) + // timestamp delta
		kbin.VarintLen(0) + // offset delta
		kbin.VarintLen(int32(len(rec.Key))) + len(rec.Key) +
		kbin.VarintLen(int32(len(rec.Value))) + len(rec.Value) +
		kbin.VarintLen(int32(len(rec.Headers)))
	for _, h := range rec.Headers {
		l += kbin.VarintLen(int32(len(h.Key))) + len(h.Key) + kbin.VarintLen(int32(len(h.Value))) + len(h.Value)
	}
	wire := int64(batchOverhead + kbin.VarintLen(int32(l)) + l)
	batch := wire - 4
	flexible := int64(kbin.UvarintLen(uint32(batch)+1)) + batch
	return max(wire, flexible)
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
