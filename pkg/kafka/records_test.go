// Tests on the kfake rig of records the target refuses or takes only up to
// its limits (issue 11, finding 2).

package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// Issue 11, finding 2: records larger than about 1 MB, and records the
// target refuses.

const bigLimit = "5000000" // max.message.bytes of source topics holding big records

func fastRetries(c *kafka.Config) { tune(c, 300*time.Millisecond, 0) }

func copyConfigs(s *replicator.Spec) { s.ReplicationInfo[0].Topics.CopyTopicConfigurations = true }

func str(s string) *string { return &s }

// bigProducer produces records up to bigLimit to the source.
func (r *rig) bigProducer() *kgo.Client {
	return r.client(r.src, kgo.ProducerBatchMaxBytes(5_000_000), kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

func recs(topic string, partition int32, vals ...string) []*kgo.Record {
	out := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		out[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}
	}
	return out
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// waitCopies waits until the first copies on the target partition are
// exactly want, in order.
func (r *rig) waitCopies(topic string, partition int32, want []string, within time.Duration) {
	r.t.Helper()
	eventually(r.t, within, fmt.Sprintf("%s[%d] holds %d records in order", topic, partition, len(want)), func() error {
		got := firstCopies(values(r.read(r.dst, topic, partition)))
		if !slices.Equal(got, want) {
			return fmt.Errorf("first copies %v, want %v", short(got), short(want))
		}
		return nil
	})
}

func short(vs []string) string {
	if len(vs) > 12 {
		return fmt.Sprintf("%v ... %v (%d)", vs[:5], vs[len(vs)-5:], len(vs))
	}
	return fmt.Sprint(vs)
}

// TestRecordsUpToTheTargetLimitAreCopied: a record of 2 MB, which the
// source and the target topic both take (max.message.bytes 5 MB), is
// copied in its place (it was lost, or retried for ever, at franz-go's
// default batch size of about 1 MB).
func TestRecordsUpToTheTargetLimitAreCopied(t *testing.T) {
	r := newRig(t, rigOpts{spec: copyConfigs, cfg: fastRetries})
	r.createTopic(r.src, "big", 1, map[string]*string{"max.message.bytes": str(bigLimit)})
	big := strings.Repeat("B", 2_000_000)
	r.produce(r.bigProducer(), recs("big", 0, "a0", big, "a2")...)
	task := r.start("big", 0, -1, "")
	r.waitCopies("src.big", 0, []string{"a0", fmt.Sprintf("<%d bytes BBBBBBBB>", len(big)), "a2"}, 15*time.Second)
	if rep := task.Report(); rep.Error != nil {
		t.Fatalf("error after copying: %+v", rep.Error)
	}
}

// TestRecordTooLargeForTheTargetStopsOnlyItsPartition: a record larger
// than the target topic's max.message.bytes stops its partition before
// it, with everything before it copied and nothing after it; the error
// is fatal and names the target topic, partition, source offset, size and
// limit. Other partitions and topics go on. Raising the target topic's
// max.message.bytes lets the partition go on by itself.
func TestRecordTooLargeForTheTargetStopsOnlyItsPartition(t *testing.T) {
	r := newRig(t, rigOpts{cfg: fastRetries})
	r.createTopic(r.src, "big", 2, map[string]*string{"max.message.bytes": str(bigLimit)})
	r.createTopic(r.src, "other", 1, nil)
	prod := r.bigProducer()
	big := strings.Repeat("B", 2_000_000)
	bigShown := fmt.Sprintf("<%d bytes BBBBBBBB>", len(big))
	r.produce(prod, recs("big", 0, append(append(seq("r", 0, 5), big), seq("r", 6, 10)...)...)...)
	r.produce(prod, recs("big", 1, seq("p", 0, 5)...)...)
	r.produce(prod, recs("other", 0, seq("o", 0, 5)...)...)
	stuck := r.start("big", 0, -1, "")
	r.start("big", 1, -1, "")
	r.start("other", 0, -1, "")

	var rep fleet.JobReport
	eventually(t, 15*time.Second, "the partition reports the refused record", func() error {
		rep = stuck.Report()
		if rep.Error == nil || rep.Error.Code != kafka.CodeRecordTooLarge {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	msg := rep.Error.Message
	for _, want := range []string{"src.big", "partition 0", "source offset 5", "2000", "1048588", "max.message.bytes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not name %q: %s", want, msg)
		}
	}
	if !rep.Error.Fatal {
		t.Error("the error is not fatal")
	}
	// Others flow, before and during the stop.
	r.waitCopies("src.big", 1, seq("p", 0, 5), 10*time.Second)
	r.waitCopies("src.other", 0, seq("o", 0, 5), 10*time.Second)
	r.produce(prod, recs("big", 1, seq("p", 5, 8)...)...)
	r.produce(prod, recs("other", 0, seq("o", 5, 8)...)...)
	r.waitCopies("src.big", 1, seq("p", 0, 8), 10*time.Second)
	r.waitCopies("src.other", 0, seq("o", 0, 8), 10*time.Second)
	// Everything before the record, nothing after it.
	if got := firstCopies(values(r.read(r.dst, "src.big", 0))); !slices.Equal(got, seq("r", 0, 5)) {
		t.Fatalf("the stopped partition holds %v, want r0..r4", got)
	}
	if rep = stuck.Report(); rep.Checkpoint == nil || *rep.Checkpoint != 5 {
		t.Fatalf("checkpoint %v, want 5 (the refused record)", rep.Checkpoint)
	}

	// The operator raises the target's limit: the partition goes on.
	resp, err := r.admin(r.dst).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: str(bigLimit)}}, "src.big")
	if err == nil {
		err = resp[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	r.waitCopies("src.big", 0, append(append(seq("r", 0, 5), bigShown), seq("r", 6, 10)...), 15*time.Second)
	eventually(t, 5*time.Second, "the error clears", func() error {
		if rep := stuck.Report(); rep.Error != nil {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
}

// TestBatchRefusedByTheTargetIsSplitToFindTheRecord: the target's limit
// is lowered while the engine runs, so a whole batch is refused by the
// broker: the partition copies that batch's records one at a time, copies
// every record the target takes, and stops at the one it does not.
func TestBatchRefusedByTheTargetIsSplitToFindTheRecord(t *testing.T) {
	r := newRig(t, rigOpts{cfg: fastRetries})
	r.createTopic(r.src, "low", 1, nil)
	prod := r.bigProducer()
	r.produce(prod, recs("low", 0, "first")...)
	task := r.start("low", 0, -1, "")
	r.waitCopies("src.low", 0, []string{"first"}, 10*time.Second)
	resp, err := r.admin(r.dst).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: str("2000")}}, "src.low")
	if err == nil {
		err = resp[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	// One source batch of 31 records, about 9 KB: record 20 alone is
	// larger than the target now takes.
	var vals []string
	for i := range 31 {
		v := fmt.Sprintf("s%02d-%s", i, strings.Repeat("x", 250))
		if i == 20 {
			v = fmt.Sprintf("s%02d-%s", i, strings.Repeat("X", 3000))
		}
		vals = append(vals, v)
	}
	r.produce(prod, recs("low", 0, vals...)...)
	eventually(t, 15*time.Second, "the refused record is found", func() error {
		rep := task.Report()
		if rep.Error == nil || rep.Error.Code != kafka.CodeRecordTooLarge || !strings.Contains(rep.Error.Message, "source offset 21") {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	want := []string{"first"}
	for _, v := range vals[:20] {
		want = append(want, fmt.Sprintf("<%d bytes %s>", len(v), v[:8]))
	}
	r.waitCopies("src.low", 0, want, 10*time.Second)
	if msg := task.Report().Error.Message; !strings.Contains(msg, "2000") {
		t.Fatalf("the error does not name the limit read again: %s", msg)
	}
}

// TestTimestampRefusedByTheTargetStopsThePartition: a broker that refuses
// a record's timestamp (INVALID_TIMESTAMP, here injected for every batch
// holding a timestamp years ahead) stops the partition at that record,
// after copying those before it; once the target takes it, copying goes
// on by itself.
func TestTimestampRefusedByTheTargetStopsThePartition(t *testing.T) {
	r := newRig(t, rigOpts{cfg: fastRetries})
	r.createTopic(r.src, "ts", 2, nil)
	prod := r.bigProducer()
	now := time.Now()
	future := now.Add(5 * 365 * 24 * time.Hour)
	var p0 []*kgo.Record
	for i := range 15 {
		rec := &kgo.Record{Topic: "ts", Partition: 0, Value: []byte(fmt.Sprint("t", i)), Timestamp: now}
		if i == 10 {
			rec.Timestamp = future
		}
		p0 = append(p0, rec)
	}
	r.produce(prod, p0...)
	r.produce(prod, recs("ts", 1, seq("q", 0, 5)...)...)
	threshold := now.Add(365 * 24 * time.Hour).UnixMilli()
	fault := r.dst.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "src.ts", Partitions: []int32{0}, Err: kerr.InvalidTimestamp, Count: -1,
		When: func(req kmsg.Request) bool {
			for _, tt := range req.(*kmsg.ProduceRequest).Topics {
				for _, p := range tt.Partitions {
					var b kmsg.RecordBatch
					if p.Partition == 0 && b.ReadFrom(p.Records) == nil && b.MaxTimestamp > threshold {
						return true
					}
				}
			}
			return false
		}})
	task := r.start("ts", 0, -1, "")
	r.start("ts", 1, -1, "")
	eventually(t, 15*time.Second, "the refused record is found", func() error {
		rep := task.Report()
		if rep.Error == nil || rep.Error.Code != kafka.CodeRecordTimestampRejected || !rep.Error.Fatal ||
			!strings.Contains(rep.Error.Message, "source offset 10") || !strings.Contains(rep.Error.Message, "src.ts partition 0") {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	r.waitCopies("src.ts", 0, seq("t", 0, 10), 10*time.Second)
	r.waitCopies("src.ts", 1, seq("q", 0, 5), 10*time.Second)
	fault.Remove()
	r.waitCopies("src.ts", 0, seq("t", 0, 15), 15*time.Second)
	eventually(t, 5*time.Second, "the error clears", func() error {
		if rep := task.Report(); rep.Error != nil {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
}

// TestStuckTargetPartitionDoesNotStopOthers: a target partition that
// accepts nothing (every produce answered NOT_ENOUGH_REPLICAS) while its
// source holds more than the producer's whole buffer: the other topic
// keeps being copied, the stuck records time out and are fetched again,
// and once the target answers everything arrives in order.
func TestStuckTargetPartitionDoesNotStopOthers(t *testing.T) {
	r := newRig(t, rigOpts{cfg: func(c *kafka.Config) { tune(c, 0, 2*time.Second) }})
	r.createTopic(r.src, "stuck", 1, nil)
	r.createTopic(r.src, "free", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod, recs("stuck", 0, "s-first")...)
	r.produce(prod, recs("free", 0, "f-first")...)
	stuck := r.start("stuck", 0, -1, "")
	r.start("free", 0, -1, "")
	r.waitCopies("src.stuck", 0, []string{"s-first"}, 10*time.Second)
	r.waitCopies("src.free", 0, []string{"f-first"}, 10*time.Second)
	fault := r.dst.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "src.stuck", Err: kerr.NotEnoughReplicas, Count: -1})
	// 40 records of 900 KB: more than the producer ever buffered (32 MiB).
	want := []string{"s-first"}
	for i := range 40 {
		v := fmt.Sprintf("s%02d-%s", i, strings.Repeat("x", 900_000))
		r.produce(prod, recs("stuck", 0, v)...)
		want = append(want, fmt.Sprintf("<%d bytes %s>", len(v), v[:8]))
	}
	r.produce(prod, recs("free", 0, seq("f", 0, 10)...)...)
	r.waitCopies("src.free", 0, append([]string{"f-first"}, seq("f", 0, 10)...), 10*time.Second)
	eventually(t, 10*time.Second, "the stuck partition says so", func() error {
		if rep := stuck.Report(); rep.Error == nil || rep.Error.Code != kafka.CodeReplicationFailure {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	fault.Remove()
	r.waitCopies("src.stuck", 0, want, 30*time.Second)
}

// TestStuckTargetDoesNotGrowMemoryWithoutBound (attack review of issue 11):
// a tenant whose target never takes a record, with many partitions full of
// data at the source, must not make the worker hold more than the
// replication's in-flight budget of fetched records (plus what one poll
// brings): each stuck partition pauses, but before the fix every one of
// them kept a fetch's worth (up to 2 MiB) pending, 140 MiB in all here.
func TestStuckTargetDoesNotGrowMemoryWithoutBound(t *testing.T) {
	const budget = 2 << 20
	r := newRig(t, rigOpts{cfg: func(c *kafka.Config) { c.InflightBytes = budget }})
	const parts = 64
	r.createTopic(r.src, "deep", parts, nil)
	r.createTopic(r.dst, "src.deep", parts, nil)
	r.dst.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "src.deep", Err: kerr.NotEnoughReplicas, Count: -1})
	// One record a batch, as large batches would make kfake answer a fetch
	// with one whole batch of every partition, beyond the fetch limit.
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(150_000), kgo.MaxBufferedBytes(256<<20))
	val := strings.Repeat("v", 100_000)
	var batch []*kgo.Record
	for p := range int32(parts) {
		for range 24 { // 2.4 MB a partition: more than one fetch's worth
			batch = append(batch, &kgo.Record{Topic: "deep", Partition: p, Value: []byte(val)})
		}
	}
	r.produce(prod, batch...)
	for p := range int32(parts) {
		r.start("deep", p, -1, "")
	}
	// The budget, and the first record of each partition (always taken).
	const bound = budget + parts*120_000
	var peak int64
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		peak = max(peak, r.eng.PendingBytes())
		time.Sleep(20 * time.Millisecond) // sampling, not waiting for a condition
	}
	if peak == 0 {
		t.Fatal("nothing was ever fetched: the test proves nothing")
	}
	if peak > bound {
		t.Fatalf("the worker held %d MiB fetched and not handed over; the bound is %d MiB", peak>>20, bound>>20)
	}
	t.Logf("peak pending: %.1f MiB (bound %d MiB)", float64(peak)/(1<<20), bound>>20)
}

// TestRecordAtTheLimitIsCopiedInOrderByAFreshProducer: a record within a
// few bytes of the target topic's max.message.bytes, which the target
// takes, is the first record a replication's producer gets. Until its
// first produce response franz-go counts a batch with a 4-byte records
// length, and refused such a record on its own, with MESSAGE_TOO_LARGE,
// while the records after it could still be written before it (the
// partition then copied it again, after them: out of order). It goes
// through the second producer instead: no refusal, copied in order.
func TestRecordAtTheLimitIsCopiedInOrderByAFreshProducer(t *testing.T) {
	const limit = 10_000
	r := newRig(t, rigOpts{cfg: fastRetries})
	lim := map[string]*string{"max.message.bytes": str(fmt.Sprint(limit))}
	r.createTopic(r.dst, "src.edge", 1, lim)
	r.createTopic(r.src, "edge", 1, map[string]*string{"max.message.bytes": str(bigLimit)})
	// 9,928 bytes of value: 10,000 bytes as a batch for the broker, 10,004
	// in franz-go's fixed-length terms, over the 10,002 its cap allows.
	edge := strings.Repeat("e", 9_928)
	prod := r.bigProducer()
	vals := append([]string{edge}, seq("after", 0, 20)...)
	for _, v := range vals {
		r.produce(prod, &kgo.Record{Topic: "edge", Value: []byte(v)})
	}
	r.start("edge", 0, -1, "")
	r.waitCopies("src.edge", 0, values(recs("edge", 0, vals...)), 20*time.Second)
	if n := r.logs.count("engine: produce failed", "MESSAGE_TOO_LARGE"); n > 0 {
		t.Fatalf("the producer refused a record the target takes (%d log lines)", n)
	}
	if got := values(r.read(r.dst, "src.edge", 0)); len(got) != len(vals) {
		t.Fatalf("%d records on the target, want %d: %s", len(got), len(vals), short(got))
	}
}
