package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Engine edges of issue 11, through the whole system (API, control plane,
// two workers).

// TestTargetTopicDeletedWhileCopying (finding 3): one topic's target topic
// is deleted while a replicator copies two topics, and more records are
// produced to it than the producer used to buffer for all topics together
// (100,000). The other topic keeps being copied all along; the deleted
// target topic comes back with the source topic's configs and receives
// every record produced after the deletion, in order.
func TestTargetTopicDeletedWhileCopying(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.admin(e.src)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("987654321")}, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "beta"); err != nil {
		t.Fatal(err)
	}
	arn := e.create(spec{name: "edges", earliest: true, copyConfigs: true, detectNewTopics: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	prod := e.client(e.src, kgo.MaxBufferedRecords(200_000))
	for i := range 10 {
		produce(t, prod, &kgo.Record{Topic: "alpha", Value: []byte(fmt.Sprintf("a-before-%d", i))},
			&kgo.Record{Topic: "beta", Value: []byte(fmt.Sprintf("b-%d", i))})
	}
	alpha, beta := alias(srcCluster)+".alpha", alias(srcCluster)+".beta"
	e.readAll(e.dst, alpha, 10, 15*time.Second)
	e.readAll(e.dst, beta, 10, 15*time.Second)

	if resp, err := e.admin(e.dst).DeleteTopics(ctx, alpha); err != nil || resp[alpha].Err != nil {
		t.Fatalf("deleting %s: %v %v", alpha, err, resp)
	}
	const n = 110_000
	batch := make([]*kgo.Record, 0, 10_000)
	for i := range n {
		batch = append(batch, &kgo.Record{Topic: "alpha", Value: []byte(fmt.Sprintf("a%06d", i))})
		if len(batch) == cap(batch) {
			produce(t, prod, batch...)
			batch = batch[:0]
		}
	}
	for i := 10; i < 60; i++ {
		produce(t, prod, &kgo.Record{Topic: "beta", Value: []byte(fmt.Sprintf("b-%d", i))})
	}
	// The other topic flows while the deleted one is dealt with.
	e.readAll(e.dst, beta, 60, 20*time.Second)

	eventually(t, 60*time.Second, "the deleted target topic is back with its configs", func() error {
		rc, err := e.admin(e.dst).DescribeTopicConfigs(ctx, alpha)
		if err != nil || len(rc) != 1 || rc[0].Err != nil {
			return fmt.Errorf("%v %v", err, rc)
		}
		for _, c := range rc[0].Configs {
			if c.Key == "retention.ms" && c.Value != nil && *c.Value == "987654321" {
				return nil
			}
		}
		return fmt.Errorf("retention.ms not copied")
	})
	got := e.readAll(e.dst, alpha, n, 60*time.Second)
	next := 0
	seen := map[string]bool{}
	for _, r := range got {
		v := string(r.Value)
		if seen[v] || len(v) != 7 || v[0] != 'a' {
			continue // a duplicate, or a record from before the deletion
		}
		seen[v] = true
		if want := fmt.Sprintf("a%06d", next); v != want {
			t.Fatalf("first copies out of order: %s where %s was due", v, want)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d of the %d records produced after the deletion arrived", next, n)
	}
}
