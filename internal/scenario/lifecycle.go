package scenario

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeletedReplicatorSeriesDisappear (issue 11, finding 10): the series of a
// deleted replicator disappear from the workers' metrics once its jobs end
// there.
func DeletedReplicatorSeriesDisappear(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("gone")
	h.CreateTopic(src, 2, nil, topic)
	arn := h.Create(Spec{Name: "short-lived", Topics: []string{regexp.QuoteMeta(topic)}, Earliest: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 15*time.Second)
	h.Produce(h.Client(src), &kgo.Record{Topic: topic, Value: []byte("a")}, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("b")})
	h.ReadAll(dst, src.Alias()+"."+topic, 2, 10*time.Second)
	name := h.Unique("short-lived")
	labels := map[string]string{"replicator": name}
	h.Eventually(10*time.Second, "replicated records counted", func() error {
		if n := h.Metric("replicator_replicated_records_total", labels); n < 2 {
			return fmt.Errorf("%v counted", n)
		}
		return nil
	})
	if _, err := h.SDK().DeleteReplicator(h.Context(), &awskafka.DeleteReplicatorInput{ReplicatorArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(20*time.Second, "no series of the deleted replicator", func() error {
		for _, mf := range sys.Metrics() {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "replicator" && l.GetValue() == name {
						return fmt.Errorf("%s still has a series of it", mf.GetName())
					}
				}
			}
		}
		return nil
	})
}
