package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
