package faults

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The stream producer on an in-process cluster: every record arrives, in
// sequence, and the checker accepts them all.
func TestProducerStream(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := NewProducer(c.ListenAddrs()[0], "s", 3, 50, 2000, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Start(1)
	time.Sleep(500 * time.Millisecond)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, last := p.Failures(); n != 0 {
		t.Fatalf("%d records failed: %s", n, last)
	}
	acked := p.Acked()
	var total int64
	for _, a := range acked {
		total += a
	}
	if total < 100 {
		t.Fatalf("only %d records acknowledged (%v)", total, acked)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]), kgo.ConsumeTopics("s"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	chk := NewChecker()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !chk.CaughtUp(0, acked) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(chk.Observe)
	}
	s := chk.Summary()
	if s.Unique != total || s.Duplicates != 0 || len(s.Violations) != 0 || chk.Missing(0, acked, nil) != 0 {
		t.Fatalf("checker: %+v, missing %d", s, chk.Missing(0, acked, nil))
	}
	if errs := checkStream(c.ListenAddrs()[0], "s", 3, 0, acked); len(errs) != 0 {
		t.Fatalf("source check: %q", errs)
	}
}
