package scenario

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RecordLimits (issue 11, finding 2): records up to the target topic's
// max.message.bytes are copied, larger than franz-go's default 1 MB batch
// included; a record the target cannot take stops its partition before it
// (everything before it copied, nothing after it written) with a FAILED
// stateInfo naming the topic, partition, source offset and limit; raising
// the target's limit lets the copy go on, in order, without touching the
// replicator.
func RecordLimits(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("big")
	target := src.Alias() + "." + topic
	h.CreateTopic(src, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("4000000")}, topic)
	h.CreateTopic(dst, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("1500000")}, target)
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(5<<20))
	vals := [][]byte{[]byte("small-0"), bytes.Repeat([]byte("a"), 1_200_000), bytes.Repeat([]byte("b"), 2_500_000), []byte("small-3")}
	for _, v := range vals {
		h.Produce(prod, &kgo.Record{Topic: topic, Partition: 0, Value: v})
	}

	arn := h.Create(Spec{Name: "limits", Earliest: true, DetectNewTopics: true})
	d := h.WaitState(arn, types.ReplicatorStateFailed, 30*time.Second)
	code, msg := aws.ToString(d.StateInfo.Code), aws.ToString(d.StateInfo.Message)
	if code != "RecordTooLarge" || !strings.Contains(msg, target) || !strings.Contains(msg, "partition 0") ||
		!strings.Contains(msg, "source offset 2") || !strings.Contains(msg, "limit of") {
		t.Fatalf("stateInfo %s: %s; want RecordTooLarge naming %s, partition 0, source offset 2 and the limit", code, msg, target)
	}
	// Everything before it, nothing after it.
	got := h.ReadAll(dst, target, 2, 15*time.Second, kgo.FetchMaxPartitionBytes(8<<20))
	h.Settle()
	if _, n := h.EndOffsets(dst, target); n != 2 || len(got) != 2 || !bytes.Equal(got[0].Value, vals[0]) || !bytes.Equal(got[1].Value, vals[1]) {
		t.Fatalf("the target holds %d records (read %d), want exactly the 2 before the refused one", n, len(got))
	}

	// The operator raises the target's limit: the rest follows, in order.
	alter, err := h.admin(dst).AlterTopicConfigs(h.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("4000000")}}, target)
	if err == nil && len(alter) == 1 {
		err = alter[0].Err
	}
	if err != nil {
		t.Fatalf("raising max.message.bytes of %s: %v", target, err)
	}
	got = h.ReadAll(dst, target, 4, 60*time.Second, kgo.FetchMaxPartitionBytes(8<<20))
	if len(got) != 4 {
		t.Fatalf("%d records on the target after the limit was raised, want 4", len(got))
	}
	for i, v := range vals {
		if !bytes.Equal(got[i].Value, v) {
			t.Fatalf("record %d on the target is not the source's (%d bytes, want %d)", i, len(got[i].Value), len(v))
		}
	}
	h.WaitState(arn, types.ReplicatorStateRunning, 30*time.Second)
}

// TimestampRefusedByTheTarget (issue 11, finding 2): a record whose
// timestamp the target topic refuses (message.timestamp.before.max.ms)
// stops its partition before it with RecordTimestampRejected naming the
// offset; once the target takes it, the copy goes on in order. It needs a
// broker that enforces the timestamp limits (real Kafka; kfake does not).
func TimestampRefusedByTheTarget(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("old")
	target := src.Alias() + "." + topic
	h.CreateTopic(src, 1, nil, topic)
	h.CreateTopic(dst, 1, map[string]*string{"message.timestamp.before.max.ms": kadm.StringPtr("3600000")}, target)
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	now := time.Now().Truncate(time.Millisecond)
	stamps := []time.Time{now, now.Add(-48 * time.Hour), now}
	for i, ts := range stamps {
		h.Produce(prod, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(fmt.Sprintf("r%d", i)), Timestamp: ts})
	}
	arn := h.Create(Spec{Name: "stamps", Earliest: true, DetectNewTopics: true})
	d := h.WaitState(arn, types.ReplicatorStateFailed, 30*time.Second)
	code, msg := aws.ToString(d.StateInfo.Code), aws.ToString(d.StateInfo.Message)
	if code != "RecordTimestampRejected" || !strings.Contains(msg, target) || !strings.Contains(msg, "source offset 1") {
		t.Fatalf("stateInfo %s: %s; want RecordTimestampRejected naming %s and source offset 1", code, msg, target)
	}
	h.Settle()
	if _, n := h.EndOffsets(dst, target); n != 1 {
		t.Fatalf("the target holds %d records, want exactly the one before the refused one", n)
	}
	alter, err := h.admin(dst).AlterTopicConfigs(h.Context(), []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "message.timestamp.before.max.ms"}}, target)
	if err == nil && len(alter) == 1 {
		err = alter[0].Err
	}
	if err != nil {
		t.Fatalf("removing message.timestamp.before.max.ms of %s: %v", target, err)
	}
	got := h.ReadAll(dst, target, 3, 60*time.Second)
	for i, r := range got[:3] {
		if want := fmt.Sprintf("r%d", i); string(r.Value) != want || !r.Timestamp.Equal(stamps[i]) {
			t.Fatalf("record %d on the target: %q@%v, want %q@%v", i, r.Value, r.Timestamp, want, stamps[i])
		}
	}
	h.WaitState(arn, types.ReplicatorStateRunning, 30*time.Second)
}
