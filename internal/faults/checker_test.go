package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// feed gives the checker the seqs of partition 0 as consecutive target
// records; seq s carries the timestamp t0 + s×100 ms.
func feed(c *Checker, seqs ...int64) { feedEpoch(c, 0, seqs...) }

func feedEpoch(c *Checker, epoch int32, seqs ...int64) {
	for _, s := range seqs {
		k, v, h := Encode(epoch, 0, s, []byte("payload"))
		off := c.EndOffset(0)
		c.ObserveAt(&kgo.Record{Partition: 0, Offset: off, Key: k, Value: v, Headers: h,
			Timestamp: t0.Add(time.Duration(s) * 100 * time.Millisecond)}, t0)
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestEncodeDecode(t *testing.T) {
	k, v, h := Encode(7, 3, 12345, []byte{1, 2, 3})
	if e, s, err := Decode(3, k, v, h); err != nil || s != 12345 || e != 7 {
		t.Fatalf("Decode = %d, %d, %v", e, s, err)
	}
	if _, _, err := Decode(2, k, v, h); err == nil {
		t.Error("a record of partition 3 decoded as partition 2")
	}
	v2 := append([]byte(nil), v...)
	v2[len(v2)-1] ^= 1
	if _, _, err := Decode(3, k, v2, h); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("altered payload: %v", err)
	}
	v3 := append([]byte(nil), v...)
	v3[5] ^= 1 // another epoch
	if _, _, err := Decode(3, k, v3, h); err == nil {
		t.Error("altered epoch accepted")
	}
	if _, _, err := Decode(3, k, v, nil); err == nil {
		t.Error("missing header accepted")
	}
	if _, _, err := Decode(3, k, v[:5], h); err == nil {
		t.Error("short value accepted")
	}
}

func TestCheckerInOrder(t *testing.T) {
	c := NewChecker()
	feed(c, seqs(0, 99)...)
	s := c.Summary()
	if s.Records != 100 || s.Unique != 100 || s.Duplicates != 0 || len(s.Violations) != 0 || len(s.Rewinds) != 0 {
		t.Fatalf("summary %+v", s)
	}
	if !c.CaughtUp(0, []int64{100}) || c.CaughtUp(0, []int64{101}) || c.CaughtUp(1, []int64{1}) {
		t.Error("CaughtUp wrong")
	}
}

func TestCheckerGap(t *testing.T) {
	c := NewChecker()
	feed(c, 0, 1, 2, 5, 6)
	s := c.Summary()
	if len(s.Violations) != 1 || !strings.Contains(s.Violations[0], "seq 3..4 missing") {
		t.Fatalf("violations %q", s.Violations)
	}
}

func TestCheckerReorderedFirstCopy(t *testing.T) {
	// A zombie's late write landing before the new owner reached it: the
	// first copy of 4 comes before that of 3.
	c := NewChecker()
	feed(c, 0, 1, 2, 4, 3, 5)
	if s := c.Summary(); len(s.Violations) == 0 {
		t.Fatal("a reordered first copy went unnoticed")
	}
}

func TestCheckerRewind(t *testing.T) {
	c := NewChecker()
	feed(c, seqs(0, 50)...)
	feed(c, seqs(41, 60)...) // a failover rewound to 41
	s := c.Summary()
	if len(s.Violations) != 0 {
		t.Fatalf("violations %q", s.Violations)
	}
	if s.Duplicates != 10 || s.Unique != 61 || len(s.Rewinds) != 1 {
		t.Fatalf("summary %+v", s)
	}
	r := s.Rewinds[0]
	if r.From != 41 || r.To != 50 || r.Reached != 50 || r.Count != 10 || r.Span != 900*time.Millisecond || s.MaxSpan != r.Span {
		t.Errorf("rewind %+v", r)
	}
}

func TestCheckerCorrupt(t *testing.T) {
	c := NewChecker()
	k, v, h := Encode(0, 0, 0, []byte("x"))
	v[len(v)-1] ^= 0xff
	c.Observe(&kgo.Record{Partition: 0, Offset: 0, Key: k, Value: v, Headers: h})
	if s := c.Summary(); len(s.Violations) != 1 {
		t.Fatalf("violations %q", s.Violations)
	}
}

func TestCheckGroup(t *testing.T) {
	c := NewChecker()
	feed(c, seqs(0, 50)...)  // offsets 0..50
	feed(c, seqs(41, 60)...) // offsets 51..70 hold seqs 41..60
	ok := []GroupSample{
		{Partition: 0, TargetOffset: 10, SourceCommitted: 10},  // exact
		{Partition: 0, TargetOffset: 5, SourceCommitted: 10},   // behind: re-reads, allowed
		{Partition: 0, TargetOffset: 51, SourceCommitted: 41},  // the second copies of 41..: skips nothing
		{Partition: 0, TargetOffset: 60, SourceCommitted: 50},  // offset 60 holds seq 50
		{Partition: 0, TargetOffset: 71, SourceCommitted: 61},  // everything consumed
		{Partition: 0, TargetOffset: 999, SourceCommitted: 99}, // nothing unconsumed on the target yet
	}
	if v := c.CheckGroup(ok); len(v) != 0 {
		t.Fatalf("violations for valid offsets: %q", v)
	}
	bad := []GroupSample{
		{Partition: 0, TargetOffset: 11, SourceCommitted: 10}, // would skip seq 10's only... its last copy is at 10
		{Partition: 0, TargetOffset: 61, SourceCommitted: 50}, // skips seq 50 (last copy at offset 60)
	}
	if v := c.CheckGroup(bad); len(v) != 2 {
		t.Fatalf("violations %q, want 2", v)
	}
}

func TestCheckerDelay(t *testing.T) {
	c := NewChecker()
	at := func(s int64, produced, arrived time.Duration) {
		k, v, h := Encode(0, 0, s, nil)
		c.ObserveAt(&kgo.Record{Partition: 0, Offset: c.EndOffset(0), Key: k, Value: v, Headers: h, Timestamp: t0.Add(produced)}, t0.Add(arrived))
	}
	at(0, 0, 5*time.Second)
	c.ResetDelays()
	at(1, time.Second, 1100*time.Millisecond)
	at(2, 2*time.Second, 4*time.Second)
	at(1, time.Second, 9*time.Second) // a duplicate is not a delay
	if got := c.MaxDelay(); got != 2*time.Second {
		t.Errorf("MaxDelay = %s, want 2s", got)
	}
}

// A source topic deleted and created again: the next epoch starts at seq 0
// on the same target partition, after the old one. Each epoch is checked on
// its own: nothing of either may be missing, and a gap in the new one is a
// violation.
func TestCheckerEpochs(t *testing.T) {
	c := NewChecker()
	feed(c, seqs(0, 49)...)
	feedEpoch(c, 1, seqs(0, 29)...)
	s := c.Summary()
	if len(s.Violations) != 0 || s.Duplicates != 0 || s.Unique != 80 {
		t.Fatalf("summary %+v", s)
	}
	if !c.CaughtUp(0, []int64{50}) || !c.CaughtUp(1, []int64{30}) || c.CaughtUp(1, []int64{31}) {
		t.Error("CaughtUp per epoch wrong")
	}
	if m := c.Missing(0, []int64{50}, nil) + c.Missing(1, []int64{30}, nil); m != 0 {
		t.Errorf("missing %d", m)
	}
	if m := c.Missing(1, []int64{35}, nil); m != 5 {
		t.Errorf("missing %d of epoch 1, want 5", m)
	}
	// The new incarnation copied from the old checkpoint (the bug of a
	// source topic re-created): its first records never arrive.
	c2 := NewChecker()
	feed(c2, seqs(0, 49)...)
	feedEpoch(c2, 1, seqs(50, 60)...)
	if s := c2.Summary(); len(s.Violations) != 1 || !strings.Contains(s.Violations[0], "epoch 1 partition 0: seq 0..49 missing") {
		t.Fatalf("violations %q", s.Violations)
	}
	if m := c2.Missing(1, []int64{61}, nil); m != 50 {
		t.Errorf("missing %d, want 50", m)
	}
}

// A target topic deleted: its copies are gone (not lost), the new
// incarnation starts at offset 0 and must go on from the checkpoint.
func TestCheckerTargetReset(t *testing.T) {
	c := NewChecker()
	feed(c, seqs(0, 49)...) // offsets 0..49
	c.ResetTarget()
	if c.EndOffset(0) != 0 {
		t.Fatalf("EndOffset after the reset = %d", c.EndOffset(0))
	}
	feed(c, seqs(40, 79)...) // re-copied from the checkpoint at 40: offsets 0..39
	s := c.Summary()
	if len(s.Violations) != 0 {
		t.Fatalf("violations %q", s.Violations)
	}
	if s.Duplicates != 10 || len(s.Rewinds) != 1 || !s.Rewinds[0].AfterTargetReset || s.MaxSpan != 0 || s.TargetResets != 1 {
		t.Fatalf("summary %+v", s)
	}
	if m := c.Missing(0, []int64{80}, nil); m != 0 {
		t.Errorf("missing %d: copies deleted with the target count as arrived", m)
	}
	// The group check only looks at copies of the current incarnation:
	// a consumer at target offset 0 reads seqs 40.. .
	if v := c.CheckGroup([]GroupSample{{Partition: 0, TargetOffset: 0, SourceCommitted: 30}}); len(v) != 0 {
		t.Errorf("violations %q", v)
	}
	if v := c.CheckGroup([]GroupSample{{Partition: 0, TargetOffset: 41, SourceCommitted: 45}}); len(v) != 1 {
		t.Errorf("an offset past seq 45's copy (offset 5): violations %q", v)
	}

	// Re-created but continued past the checkpoint: seqs 50..59 were never
	// seen in either incarnation.
	c2 := NewChecker()
	feed(c2, seqs(0, 49)...)
	c2.ResetTarget()
	feed(c2, seqs(60, 70)...)
	if s := c2.Summary(); len(s.Violations) != 1 || !strings.Contains(s.Violations[0], "seq 50..59 missing") {
		t.Fatalf("violations %q", s.Violations)
	}
	if m := c2.Missing(0, []int64{71}, nil); m != 10 {
		t.Errorf("missing %d, want 10", m)
	}
}
