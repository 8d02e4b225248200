package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/scenario"
)

// TestManyTopics replicates 60 topics at once: every record of every topic
// arrives, and the first ones arrive without waiting for all target topics.
func TestManyTopics(t *testing.T) {
	e := newEnv(t)
	src, dst := e.Source(), e.Target()
	prod := e.Client(src)
	var recs []*kgo.Record
	for i := range 60 {
		name := fmt.Sprintf("many-%02d", i)
		e.CreateTopic(src, 2, nil, name)
		recs = append(recs, &kgo.Record{Topic: name, Value: []byte(name)})
	}
	e.Produce(prod, recs...)
	start := time.Now()
	arn := e.Create(scenario.Spec{Name: "many", Earliest: true, Topics: []string{"many-.*"}})
	e.ReadAll(dst, src.Alias()+".many-00", 1, 15*time.Second)
	t.Logf("first topic copied %s after create", time.Since(start).Round(time.Millisecond))
	for i := range 60 {
		e.ReadAll(dst, fmt.Sprintf("%s.many-%02d", src.Alias(), i), 1, 15*time.Second)
	}
	e.WaitState(arn, types.ReplicatorStateRunning, 15*time.Second)
}
