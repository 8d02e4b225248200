// A benchmark of the engine copying between two in-process clusters.

package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkCopy copies records of 100 bytes from 4 source partitions to
// an in-process target (kfake: the figure is the engine's own overhead
// with both clusters in this process, not a real cluster's speed).
func BenchmarkCopy(b *testing.B) {
	const partitions, perPartition = 4, 50_000
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, rigOpts{})
		r.createTopic(r.src, "bench", partitions, nil)
		prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(1<<20))
		value := make([]byte, 100)
		var rs []*kgo.Record
		for p := range int32(partitions) {
			for range perPartition {
				rs = append(rs, &kgo.Record{Topic: "bench", Partition: p, Value: value})
			}
		}
		r.produce(prod, rs...)
		b.StartTimer()
		start := time.Now()
		for p := range int32(partitions) {
			r.start("bench", p, -1, "")
		}
		eventually(b, 60*time.Second, "all copied", func() error {
			ends, err := r.admin(r.dst).ListEndOffsets(b.Context(), "src.bench")
			if err != nil {
				return err
			}
			total := int64(0)
			ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
			if total < partitions*perPartition {
				return fmt.Errorf("%d copied", total)
			}
			return nil
		})
		b.ReportMetric(float64(partitions*perPartition)/time.Since(start).Seconds(), "records/s")
	}
}
