// Attack tests on the kfake rig (issue 11's adversarial pass): target
// topics re-created elsewhere, records of every shape and size, topology
// churn.

package kafka_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestTargetTopicRecreatedElsewhereWithFewerPartitions: someone deletes
// the target topic of a 3-partition source topic and creates it again at
// once with 1 partition. Partition 0 follows the new topic (as
// TestTargetTopicRecreatedElsewhereIsFollowed shows); partitions 1 and 2
// have no partition to go to on the target. The engine must add the
// partitions back (as it does when it first meets a target topic with
// fewer partitions than the source) and copy on, in order, instead of
// retrying the partitions forever with "no usable answer from the
// cluster".
func TestTargetTopicRecreatedElsewhereWithFewerPartitions(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "f", 3, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		r.produce(prod, recs("f", p, seq(fmt.Sprintf("f%d-", p), 0, 3)...)...)
	}
	for p := range int32(3) {
		r.start("f", p, -1, "")
	}
	for p := range int32(3) {
		r.waitCopies("src.f", p, seq(fmt.Sprintf("f%d-", p), 0, 3), 10*time.Second)
	}
	adm := r.admin(r.dst)
	if _, err := adm.DeleteTopics(context.Background(), "src.f"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the target topic is created again with 1 partition", func() error {
		_, err := adm.CreateTopic(context.Background(), 1, 1, nil, "src.f")
		return err
	})
	for p := range int32(3) {
		r.produce(prod, recs("f", p, seq(fmt.Sprintf("f%d-", p), 3, 8)...)...)
	}
	for p := range int32(3) {
		r.waitCopies("src.f", p, seq(fmt.Sprintf("f%d-", p), 3, 8), 30*time.Second)
	}
}

// TestNullAndEmptyRecordsKeepTheirShape: a tombstone (null value), an
// empty value, a null key and an empty key are four different records to
// a consumer (compaction deletes keys on null values only); each copy
// must keep the shape of its source record.
func TestNullAndEmptyRecordsKeepTheirShape(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "n", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod,
		&kgo.Record{Topic: "n", Key: []byte("k"), Value: nil},
		&kgo.Record{Topic: "n", Key: []byte("k"), Value: []byte{}},
		&kgo.Record{Topic: "n", Key: nil, Value: []byte("v")},
		&kgo.Record{Topic: "n", Key: []byte{}, Value: []byte("v")},
		&kgo.Record{Topic: "n", Key: []byte("h"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}}},
	)
	src := r.read(r.src, "n", 0)
	r.start("n", 0, -1, "")
	var dst []*kgo.Record
	eventually(t, 10*time.Second, "5 records copied", func() error {
		dst = r.read(r.dst, "src.n", 0)
		if len(dst) < 5 {
			return fmt.Errorf("%d records", len(dst))
		}
		return nil
	})
	shape := func(b []byte) string {
		switch {
		case b == nil:
			return "null"
		case len(b) == 0:
			return "empty"
		}
		return string(b)
	}
	for i := range 5 {
		s, d := src[i], dst[i]
		if shape(s.Key) != shape(d.Key) || shape(s.Value) != shape(d.Value) {
			t.Errorf("record %d: source key %s value %s, copy key %s value %s", i, shape(s.Key), shape(s.Value), shape(d.Key), shape(d.Value))
		}
		for j := range s.Headers {
			if j >= len(d.Headers) || shape(s.Headers[j].Value) != shape(d.Headers[j].Value) {
				t.Errorf("record %d header %d: source %+v, copy %+v", i, j, s.Headers, d.Headers)
			}
		}
	}
}

// TestTopologyChurnIsNotReportedAtEveryDiscovery: a tenant who deletes
// and re-creates a source topic in a loop (or creates topics one after
// another) changes the source's topology at every discovery (every
// 500 ms by default). Each report makes the control plane parse the
// replicator's whole topology and apply it: retire jobs, delete and insert
// checkpoints and offset mappings, record events, in the PostgreSQL every
// tenant shares. Discovery may look as often as it likes, but a changing
// topology is reported at most every minTopologyInterval (the first change
// at once).
func TestTopologyChurnIsNotReportedAtEveryDiscovery(t *testing.T) {
	const minTopologyInterval = 2 * time.Second
	r := newRig(t, rigOpts{cfg: func(c *kafka.Config) { c.DiscoveryInterval = 100 * time.Millisecond }})
	r.createTopic(r.src, "churn", 1, nil)
	var mu sync.Mutex
	var reports []time.Time
	r.nextJob++
	l := fleet.Lease{JobID: r.nextJob, Epoch: 1, ReplicatorID: r.spec.ID, Kind: fleet.KindMetadata, SpecVersion: 1}
	task, err := r.eng.Start(context.Background(), l, r.spec, fleet.TaskEnv{WorkerID: "w1", Logger: r.log,
		LeaseFresh: func() bool { return true },
		ReportTopology: func(context.Context, int64, []fleet.TopicInfo) error {
			mu.Lock()
			reports = append(reports, time.Now())
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(task.Abort)
	adm := r.admin(r.src)
	start := time.Now()
	for i := 0; time.Since(start) < 4*time.Second; i++ {
		if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, fmt.Sprintf("new-%03d", i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the tenant's pace, not a wait for the system
	}
	elapsed := time.Since(start)
	mu.Lock()
	n := len(reports)
	mu.Unlock()
	if max := 2 + int(elapsed/minTopologyInterval); n > max {
		t.Fatalf("%d topology reports in %s of churn, want at most %d (one per %s)", n, elapsed.Round(time.Millisecond), max, minTopologyInterval)
	}
}

// TestRecordLargerThanTheFetchLimitsIsCopied: a record of 4.5 MB, over the
// consumer's per-partition fetch limit (2 MiB) but within both topics'
// max.message.bytes (5 MB), is copied in its place: a broker returns a
// first batch larger than the fetch limits whole (KIP-74).
func TestRecordLargerThanTheFetchLimitsIsCopied(t *testing.T) {
	r := newRig(t, rigOpts{spec: copyConfigs, cfg: fastRetries})
	r.createTopic(r.src, "huge", 1, map[string]*string{"max.message.bytes": str(bigLimit)})
	big := strings.Repeat("H", 4_500_000)
	r.produce(r.bigProducer(), recs("huge", 0, "h0", big, "h2")...)
	task := r.start("huge", 0, -1, "")
	r.waitCopies("src.huge", 0, []string{"h0", fmt.Sprintf("<%d bytes HHHHHHHH>", len(big)), "h2"}, 20*time.Second)
	if rep := task.Report(); rep.Error != nil {
		t.Fatalf("error after copying: %+v", rep.Error)
	}
}

// TestRecordsTheTargetAcceptsAreCopiedUpToItsLimit: "anything the source
// holds and the target topic accepts is copied, up to the target's
// max.message.bytes". A broker compares a batch's size (its offset and
// length fields included) with max.message.bytes; franz-go counts 4 bytes
// more (the length of the records field of the request). Records near the
// limit that the target topic takes when produced to it directly must be
// copied too, not stopped as too large.
func TestRecordsTheTargetAcceptsAreCopiedUpToItsLimit(t *testing.T) {
	const limit = 10_000
	r := newRig(t, rigOpts{cfg: fastRetries})
	lim := map[string]*string{"max.message.bytes": str(fmt.Sprint(limit))}
	r.createTopic(r.dst, "probe", 1, lim)
	r.createTopic(r.dst, "src.edge", 1, lim)
	r.createTopic(r.src, "edge", 1, map[string]*string{"max.message.bytes": str(bigLimit)})
	// Which value sizes does the target topic take, one record at a time?
	probe := r.client(r.dst, kgo.ProducerBatchMaxBytes(4*limit), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var accepted []string
	for n := limit - 80; n <= limit; n++ {
		v := strings.Repeat("e", n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := probe.ProduceSync(ctx, &kgo.Record{Topic: "probe", Value: []byte(v)}).FirstErr()
		cancel()
		if err == nil {
			accepted = append(accepted, v)
		}
	}
	if len(accepted) == 0 {
		t.Fatal("the target took none of the probe records")
	}
	prod := r.bigProducer()
	for _, v := range accepted {
		r.produce(prod, &kgo.Record{Topic: "edge", Value: []byte(v)})
	}
	r.produce(prod, &kgo.Record{Topic: "edge", Value: []byte("end")})
	task := r.start("edge", 0, -1, "")
	want := values(recs("edge", 0, append(append([]string{}, accepted...), "end")...))
	eventually(t, 20*time.Second, fmt.Sprintf("the %d records the target takes (largest %d bytes) copied", len(accepted), len(accepted[len(accepted)-1])), func() error {
		if rep := task.Report(); rep.Error != nil && rep.Error.Fatal {
			return fmt.Errorf("stopped: %s: %s", rep.Error.Code, rep.Error.Message)
		}
		got := firstCopies(values(r.read(r.dst, "src.edge", 0)))
		if !slices.Equal(got, want) {
			return fmt.Errorf("%d of %d copied", len(got), len(want))
		}
		return nil
	})
}

// TestCompressibleRecordOverTheLimitUncompressedIsCopied: the source and
// target topics both have the default max.message.bytes (about 1 MB). A
// producer writes a record of 1.5 MB that compresses well: the source
// takes it (brokers compare the compressed batch with the limit). The
// replicator compresses what it writes (targetCompressionType SNAPPY), so
// the target takes the copy as well: it must be copied, not stopped as
// too large because of its uncompressed size.
func TestCompressibleRecordOverTheLimitUncompressedIsCopied(t *testing.T) {
	r := newRig(t, rigOpts{cfg: fastRetries, spec: func(s *replicator.Spec) {
		s.ReplicationInfo[0].TargetCompression = replicator.CompressionSnappy
	}})
	r.createTopic(r.src, "zip", 1, nil)
	r.createTopic(r.dst, "src.zip", 1, nil)
	prod := r.client(r.src, kgo.ProducerBatchMaxBytes(4<<20), kgo.ProducerBatchCompression(kgo.SnappyCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	big := strings.Repeat("z", 1_500_000)
	r.produce(prod, recs("zip", 0, "z0", big, "z2")...)
	task := r.start("zip", 0, -1, "")
	eventually(t, 20*time.Second, "the compressible record copied", func() error {
		if rep := task.Report(); rep.Error != nil && rep.Error.Fatal {
			return fmt.Errorf("stopped: %s: %s", rep.Error.Code, rep.Error.Message)
		}
		got := firstCopies(values(r.read(r.dst, "src.zip", 0)))
		if want := []string{"z0", fmt.Sprintf("<%d bytes zzzzzzzz>", len(big)), "z2"}; !slices.Equal(got, want) {
			return fmt.Errorf("copies %v", got)
		}
		return nil
	})
}

// TestIncompressibleRecordOverTheLimitStopsWithCompression: the other
// side of TestCompressibleRecordOverTheLimitUncompressedIsCopied: a record
// the target refuses even compressed stops its partition before it, with
// a fatal RecordTooLarge, and nothing after it is written.
func TestIncompressibleRecordOverTheLimitStopsWithCompression(t *testing.T) {
	r := newRig(t, rigOpts{cfg: fastRetries, spec: func(s *replicator.Spec) {
		s.ReplicationInfo[0].TargetCompression = replicator.CompressionSnappy
	}})
	r.createTopic(r.src, "noise", 1, map[string]*string{"max.message.bytes": str(bigLimit)})
	r.createTopic(r.dst, "src.noise", 1, nil)
	noise := make([]byte, 1_500_000)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	r.produce(r.bigProducer(), recs("noise", 0, "n0", string(noise), "n2")...)
	task := r.start("noise", 0, -1, "")
	eventually(t, 20*time.Second, "the partition stops at the refused record", func() error {
		rep := task.Report()
		if rep.Error == nil || !rep.Error.Fatal || rep.Error.Code != kafka.CodeRecordTooLarge || !strings.Contains(rep.Error.Message, "offset 1") {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	if got := firstCopies(values(r.read(r.dst, "src.noise", 0))); !slices.Equal(got, []string{"n0"}) {
		t.Fatalf("copies %v, want only the record before the refused one", got)
	}
}

// TestFailingTopologyReportIsNotRetriedAtEveryDiscovery: a topology the
// control plane refuses (over its 32 MiB body limit, say, for a source
// with hundreds of thousands of partitions) is sent again at most every
// minTopologyInterval, not at every discovery.
func TestFailingTopologyReportIsNotRetriedAtEveryDiscovery(t *testing.T) {
	const minTopologyInterval = 2 * time.Second
	r := newRig(t, rigOpts{cfg: func(c *kafka.Config) { c.DiscoveryInterval = 100 * time.Millisecond }})
	r.createTopic(r.src, "many", 1, nil)
	var mu sync.Mutex
	attempts := 0
	r.nextJob++
	l := fleet.Lease{JobID: r.nextJob, Epoch: 1, ReplicatorID: r.spec.ID, Kind: fleet.KindMetadata, SpecVersion: 1}
	start := time.Now()
	task, err := r.eng.Start(context.Background(), l, r.spec, fleet.TaskEnv{WorkerID: "w1", Logger: r.log,
		LeaseFresh: func() bool { return true },
		ReportTopology: func(context.Context, int64, []fleet.TopicInfo) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			return fmt.Errorf("the request body is larger than 33554432 bytes")
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(task.Abort)
	eventually(t, 10*time.Second, "the metadata job reports the failure", func() error {
		if rep := task.Report(); rep.Error == nil {
			return fmt.Errorf("no error yet")
		}
		return nil
	})
	// Long enough for many discoveries (every 100 ms).
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // observing the job's pace, not waiting for a condition
	}
	elapsed := time.Since(start)
	mu.Lock()
	n := attempts
	mu.Unlock()
	if max := 2 + int(elapsed/minTopologyInterval); n > max {
		t.Fatalf("%d attempts in %s, want at most %d", n, elapsed.Round(time.Millisecond), max)
	}
}

// TestTargetWithFewerPartitionsIsGrownAndReported: "pre-existing target
// topics with fewer partitions are handled explicitly and reported". The
// target topic exists with 1 partition, the source topic has 3: the
// partitions are added (every partition copied), and the replicator's
// history is told (a notice of one of its jobs), not only the worker's
// log.
func TestTargetWithFewerPartitionsIsGrownAndReported(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "g", 3, nil)
	r.createTopic(r.dst, "src.g", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		r.produce(prod, recs("g", p, fmt.Sprintf("g%d", p))...)
	}
	meta, _ := r.startMeta()
	var tasks []fleet.Task
	for p := range int32(3) {
		tasks = append(tasks, r.start("g", p, -1, ""))
	}
	for p := range int32(3) {
		r.waitCopies("src.g", p, []string{fmt.Sprintf("g%d", p)}, 15*time.Second)
	}
	eventually(t, 10*time.Second, "a notice says partitions were added to the target topic", func() error {
		var all []fleet.Notice
		for _, task := range append(tasks, meta) {
			all = append(all, task.Report().Notices...)
		}
		for _, n := range all {
			if strings.Contains(n.Message, "src.g") && strings.Contains(n.Message, "partition") {
				return nil
			}
		}
		return fmt.Errorf("notices %+v", all)
	})
}
