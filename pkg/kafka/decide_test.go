// Table tests of the pipeline's decisions (decide.go), limits and
// checkpoints.

package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

func TestClassifyProduceError(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind failureKind
		code string
	}{
		{context.Canceled, failTransient, ""},
		{errLeaseStale, failTransient, ""},
		{errPartitionFailed, failTransient, ""},
		{errDeliveryTimeout, failTransient, ""},
		{kgo.ErrRecordTimeout, failTransient, ""},
		{kgo.ErrMaxBuffered, failTransient, ""},
		{errors.New("topic purged while buffered"), failTransient, ""},
		{kerr.NotLeaderForPartition, failTransient, ""},
		{kerr.NotEnoughReplicas, failTransient, ""},
		{kerr.RequestTimedOut, failTransient, ""},
		{kerr.OutOfOrderSequenceNumber, failTransient, ""},
		{kerr.UnknownProducerID, failTransient, ""},
		{kerr.InvalidProducerEpoch, failTransient, ""},
		{kerr.UnknownTopicOrPartition, failUnknownTopic, ""},
		{kerr.UnknownTopicID, failUnknownTopic, ""},
		{fmt.Errorf("wrapped: %w", kerr.UnknownTopicID), failUnknownTopic, ""},
		{kerr.MessageTooLarge, failRefused, CodeRecordTooLarge},
		// franz-go's own refusal wraps the Kafka error.
		{fmt.Errorf("%w (uncompressed_bytes=2000000)", kerr.MessageTooLarge), failRefused, CodeRecordTooLarge},
		{kerr.RecordListTooLarge, failRefused, CodeRecordTooLarge},
		{kerr.InvalidTimestamp, failRefused, CodeRecordTimestampRejected},
		{kerr.CorruptMessage, failRefused, CodeRecordRejected},
		{kerr.InvalidRecord, failRefused, CodeRecordRejected},
		{kerr.TopicAuthorizationFailed, failRefused, CodeRecordRejected},
		{kerr.PolicyViolation, failRefused, CodeRecordRejected},
	} {
		kind, code := classifyProduceError(c.err)
		if kind != c.kind || code != c.code {
			t.Errorf("classifyProduceError(%v) = %v, %q; want %v, %q", c.err, kind, code, c.kind, c.code)
		}
	}
}

func TestAdmit(t *testing.T) {
	const capB = 1000
	for _, c := range []struct {
		name string
		h    handoff
		want verdict
	}{
		{"first record", handoff{batchBytes: 200, limit: 1000, cost: 200, cap: capB}, handOver},
		{"room left", handoff{batchBytes: 200, limit: 1000, cost: 200, inflight: 3, inflightB: 800, cap: capB}, handOver},
		{"no room", handoff{batchBytes: 200, limit: 1000, cost: 201, inflight: 3, inflightB: 800, cap: capB}, waitForAck},
		{"a record larger than the cap goes alone", handoff{batchBytes: 900, limit: 1000, cost: 5000, cap: capB}, handOver},
		{"... but not beside others", handoff{batchBytes: 900, limit: 1000, cost: 5000, inflight: 1, inflightB: 10, cap: capB}, waitForAck},
		{"exactly the limit", handoff{batchBytes: 1000, limit: 1000, cost: 100, cap: capB}, handOver},
		{"over the limit", handoff{batchBytes: 1001, limit: 1000, cost: 100, cap: capB}, tooLarge},
		{"over the limit, others in flight: stop here anyway", handoff{batchBytes: 1001, limit: 1000, cost: 100, inflight: 2, inflightB: 10, cap: capB}, tooLarge},
		{"isolating, nothing in flight", handoff{batchBytes: 100, limit: 1000, cost: 100, isolating: true, cap: capB}, handOver},
		{"isolating, one in flight", handoff{batchBytes: 100, limit: 1000, cost: 100, inflight: 1, inflightB: 100, isolating: true, cap: capB}, waitForAck},
	} {
		if got := admit(c.h); got != c.want {
			t.Errorf("%s: admit = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOnRefused(t *testing.T) {
	for _, c := range []struct {
		first, last, isolateUntil int64
		haltAt, isolate           int64
	}{
		{first: 10, last: 25, isolateUntil: -1, haltAt: -1, isolate: 25}, // a batch: find the record
		{first: 10, last: 10, isolateUntil: -1, haltAt: -1, isolate: 10}, // one record failed, but it may have shared its batch
		{first: 12, last: 25, isolateUntil: 25, haltAt: 12, isolate: -1}, // copied alone: that is the one
		{first: 25, last: 25, isolateUntil: 25, haltAt: 25, isolate: -1}, //
		{first: 26, last: 30, isolateUntil: 25, haltAt: -1, isolate: 30}, // past the isolated range: a new search
	} {
		haltAt, isolate := onRefused(c.first, c.last, c.isolateUntil)
		if haltAt != c.haltAt || isolate != c.isolate {
			t.Errorf("onRefused(%d, %d, %d) = %d, %d; want %d, %d", c.first, c.last, c.isolateUntil, haltAt, isolate, c.haltAt, c.isolate)
		}
	}
}

func TestSameTopic(t *testing.T) {
	for _, c := range []struct {
		leased, current string
		want            bool
	}{
		{"", "", true},
		{"", "AAAA", true}, // a lease from before topic IDs adopts the current one
		{"AAAA", "", true}, // a cluster without IDs
		{"AAAA", "AAAA", true},
		{"AAAA", "BBBB", false}, // deleted and created again
	} {
		if got := sameTopic(c.leased, c.current); got != c.want {
			t.Errorf("sameTopic(%q, %q) = %v", c.leased, c.current, got)
		}
	}
}

func TestPartitionCap(t *testing.T) {
	for _, c := range []struct {
		budget     int64
		partitions int
		want       int64
	}{
		{32 << 20, 0, maxPartitionInflight},
		{32 << 20, 1, maxPartitionInflight},
		{32 << 20, 8, 4 << 20},
		{32 << 20, 12, (32 << 20) / 12},
		{32 << 20, 100_000, minPartitionInflight},
	} {
		if got := partitionCap(c.budget, c.partitions); got != c.want {
			t.Errorf("partitionCap(%d, %d) = %d, want %d", c.budget, c.partitions, got, c.want)
		}
	}
}

func TestBatchCap(t *testing.T) {
	for _, c := range []struct {
		l    topicLimits
		want int64
		what string
	}{
		{topicLimits{}, defaultBatchCap, "could not be read"},
		{topicLimits{maxMessageBytes: 1048588}, 1048588, "max.message.bytes"},
		{topicLimits{maxMessageBytes: 8 << 20, segmentBytes: 1 << 30}, 8 << 20, "max.message.bytes"},
		{topicLimits{maxMessageBytes: 8 << 20, segmentBytes: 4 << 20}, 4 << 20, "segment.bytes"},
		{topicLimits{maxMessageBytes: 1 << 30}, maxBatchCap, "largest produce request"},
		{topicLimits{maxMessageBytes: 10}, minBatchCap, "max.message.bytes"},
	} {
		got, what := c.l.batchCap()
		if got != c.want || !strings.Contains(what, c.what) {
			t.Errorf("%+v: batchCap = %d, %q; want %d, %q", c.l, got, what, c.want, c.what)
		}
	}
}

// TestMainCapIsPinned: the main producer's cap for a topic is the limit at
// the time of the first record and stays so, whatever the limit does
// later, until the topic is a new one; the batch cap franz-go is given is
// that same figure.
func TestMainCapIsPinned(t *testing.T) {
	var ts targets
	const topic = "t"
	if limit, _, main := ts.caps(topic); limit != defaultBatchCap || main != defaultBatchCap {
		t.Fatalf("unknown limits: %d, %d; want franz-go's default %d", limit, main, defaultBatchCap)
	}
	ts.recreated(topic, "A") // forget the pin above
	ts.setLimits(topic, topicLimits{maxMessageBytes: 4 << 20})
	if limit, _, main := ts.caps(topic); limit != 4<<20 || main != 4<<20 {
		t.Fatalf("caps %d, %d; want 4 MiB both", limit, main)
	}
	if got := ts.batchMaxBytes(topic); int64(got) != producerCap(4<<20) {
		t.Fatalf("franz-go is given %d, want the pinned %d", got, producerCap(4<<20))
	}
	ts.setLimits(topic, topicLimits{maxMessageBytes: 8 << 20}) // raised
	if limit, _, main := ts.caps(topic); limit != 8<<20 || main != 4<<20 {
		t.Fatalf("after raising: %d, %d; want 8 MiB taken, 4 MiB pinned", limit, main)
	}
	if got := ts.batchMaxBytes(topic); int64(got) != producerCap(4<<20) {
		t.Fatalf("a partition discovered later is given %d, want the pinned %d", got, producerCap(4<<20))
	}
	ts.setLimits(topic, topicLimits{maxMessageBytes: 1 << 20}) // lowered
	if limit, _, main := ts.caps(topic); limit != 1<<20 || main != 4<<20 {
		t.Fatalf("after lowering: %d, %d", limit, main)
	}
	ts.recreated(topic, "B")
	if limit, _, main := ts.caps(topic); limit != 1<<20 || main != 1<<20 {
		t.Fatalf("a new topic: %d, %d; want 1 MiB both", limit, main)
	}
	if ts.knownID(topic) != "B" {
		t.Fatalf("ID %q", ts.knownID(topic))
	}
}

func TestNeedPurge(t *testing.T) {
	for _, c := range []struct {
		created             bool
		known, now          string
		sawUnknownID, purge bool
	}{
		{created: true, known: "A", now: "B", purge: true},
		{created: true, known: "", now: "", purge: true},
		{known: "A", now: "A"},                                 // the same topic (metadata lagged): purging would lose records
		{known: "A", now: "B", purge: true},                    // deleted and created by someone else
		{known: "", now: "B"},                                  // unknown: the same topic, unless
		{known: "", now: "B", sawUnknownID: true, purge: true}, // the producer saw another ID
		{known: "A", now: ""},                                  // a cluster without IDs
	} {
		if got := needPurge(c.created, c.known, c.now, c.sawUnknownID); got != c.purge {
			t.Errorf("needPurge(%v, %q, %q, %v) = %v", c.created, c.known, c.now, c.sawUnknownID, got)
		}
	}
}

func TestAckNotices(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ns := []fleet.Notice{{Code: "a", At: t0}, {Code: "b", At: t0.Add(time.Second)}, {Code: "c", At: t0.Add(2 * time.Second)}}
	got := ackNotices(append([]fleet.Notice(nil), ns...), t0.Add(time.Second))
	if len(got) != 1 || got[0].Code != "c" {
		t.Fatalf("after acknowledging up to b: %+v", got)
	}
	if got := ackNotices(append([]fleet.Notice(nil), ns...), t0.Add(-time.Second)); len(got) != 3 {
		t.Fatalf("acknowledging before all: %+v", got)
	}
	if got := ackNotices(append([]fleet.Notice(nil), ns...), t0.Add(time.Hour)); got != nil {
		t.Fatalf("acknowledging after all: %+v", got)
	}
	p := &partState{}
	for i := range maxNotices + 5 {
		p.addNoticeLocked("n", fmt.Sprint(i))
	}
	if len(p.notices) != maxNotices || p.notices[0].Message != "5" {
		t.Fatalf("notices are not bounded to the newest %d: %d, first %q", maxNotices, len(p.notices), p.notices[0].Message)
	}
}

func TestCheckpoint(t *testing.T) {
	for _, c := range []struct {
		name                               string
		seen, acked, ackedTarget, failedAt int64
		inflight                           int
		ok                                 bool
		src, dst                           int64
	}{
		{name: "nothing yet", seen: -1, acked: -1, ackedTarget: -1, failedAt: -1},
		{name: "all acknowledged", seen: 9, acked: 9, ackedTarget: 109, failedAt: -1, ok: true, src: 10, dst: 110},
		{name: "filtered records after the last acknowledged", seen: 12, acked: 9, ackedTarget: 109, failedAt: -1, ok: true, src: 13, dst: 110},
		{name: "in flight", seen: 12, acked: 9, ackedTarget: 109, failedAt: -1, inflight: 3, ok: true, src: 10, dst: 110},
		{name: "failed after acknowledged ones", seen: 12, acked: 9, ackedTarget: 109, failedAt: 10, ok: true, src: 10, dst: 110},
		{name: "failed before any", seen: 12, acked: -1, ackedTarget: -1, failedAt: 0},
	} {
		p := &partState{seen: c.seen, acked: c.acked, ackedTarget: c.ackedTarget, failedAt: c.failedAt, inflight: c.inflight}
		src, dst, ok := p.checkpointLocked()
		if ok != c.ok || ok && (src != c.src || dst != c.dst) {
			t.Errorf("%s: checkpoint = %d, %d, %v; want %d, %d, %v", c.name, src, dst, ok, c.src, c.dst, c.ok)
		}
	}
}

func TestWantPause(t *testing.T) {
	rec := &kgo.Record{Offset: 5}
	for _, c := range []struct {
		name string
		p    *partState
		want bool
	}{
		{"idle", &partState{failedAt: -1, haltAt: -1}, false},
		{"records waiting", &partState{failedAt: -1, haltAt: -1, pending: []*kgo.Record{rec}}, true},
		{"failed", &partState{failedAt: 3, haltAt: -1}, true},
		{"no room", &partState{failedAt: -1, haltAt: -1, inflight: 2, inflightB: 100}, true},
		{"room", &partState{failedAt: -1, haltAt: -1, inflight: 2, inflightB: 99}, false},
		{"halted, all before handed", &partState{failedAt: -1, haltAt: 5, seen: 4}, true},
		{"halted, records before still to fetch", &partState{failedAt: -1, haltAt: 5, seen: 2}, false},
		{"retired", &partState{failedAt: -1, haltAt: -1, retired: &fleet.JobError{}}, true},
		{"stopped", &partState{failedAt: -1, haltAt: -1, stopped: true, pending: []*kgo.Record{rec}}, false},
	} {
		if got := c.p.wantPauseLocked(100); got != c.want {
			t.Errorf("%s: wantPause = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestOverMainCap: a record goes through the second producer when
// franz-go's figure of a batch holding only it, with the fixed-length
// records field it counts before it knows the broker's produce version, is
// over the main producer's cap; the broker's figure may be within the
// target's limit all the same.
func TestOverMainCap(t *testing.T) {
	const mainCap = 10_000 // franz-go is given producerCap(mainCap) = 10,002
	for _, c := range []struct {
		value int
		over  bool
	}{
		{100, false},
		{9_925, false}, // 10,002 for franz-go
		{9_926, false},
		{9_927, true}, // 10,003 for franz-go, 9,999 for the broker: within the limit
		{9_928, true}, // 10,004 for franz-go, 10,000 for the broker: the limit
		{9_929, true}, // over the limit too (admit stops the partition)
	} {
		rec := &kgo.Record{Value: make([]byte, c.value)}
		if got := overMainCap(rec, mainCap); got != c.over {
			t.Errorf("value of %d bytes (%d as a batch for franz-go, %d for the broker): overMainCap = %v, want %v",
				c.value, recordBatchBytes(rec), brokerBatchBytes(rec), got, c.over)
		}
	}
	// A cap pinned below a raised limit: records over it go alone.
	if !overMainCap(&kgo.Record{Value: make([]byte, 20_000)}, mainCap) {
		t.Error("a record over the pinned cap goes through the main producer")
	}
}
