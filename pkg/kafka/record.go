// One record: its copy for the target (copyRecord), and what it weighs
// against the in-flight caps and the target's limits.

package kafka

import (
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
)

// copyRecord builds the target record for rec, or reports that rec must
// not be copied because it originated on the target (identical names).
func copyRecord(flow *Flow, targetTopic string, rec *kgo.Record) (*kgo.Record, bool) {
	headers := rec.Headers
	if flow.Identical {
		origin := ""
		for _, h := range rec.Headers {
			if h.Key == OriginHeader {
				origin = string(h.Value)
			}
		}
		if origin == flow.TargetAlias {
			return nil, false
		}
		if origin == "" {
			headers = make([]kgo.RecordHeader, len(rec.Headers), len(rec.Headers)+1)
			copy(headers, rec.Headers)
			headers = append(headers, kgo.RecordHeader{Key: OriginHeader, Value: []byte(flow.SourceAlias)})
		}
	}
	// A fetched record must not be produced again: build a new one.
	return &kgo.Record{Topic: targetTopic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value,
		Headers: headers, Timestamp: rec.Timestamp}, true
}

// keyValueBytes is a record's key and value bytes: what it counts
// against the replication's budget while it waits to be handed over, and
// what the metrics count as copied.
func keyValueBytes(rec *kgo.Record) int64 { return int64(len(rec.Key) + len(rec.Value)) }

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
