// Tests of a partition's admission and fencing decision and of one pass of
// the pump, without a broker.

package kafka

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// The admission and fencing decision of a partition, without a broker: the
// six facts it rests on (copyingLocked, gateLocked), the timed work of
// housekeep (choreLocked), and one pass of the pump over a partition's
// pending records (handOverLocked).

// part returns a partition that copies (ready, nothing failed or halted)
// with a fresh lease, changed by mod.
func part(mod func(p *partState)) *partState {
	p := &partState{topic: "t", partition: 0, targetTopic: "src.t", seen: -1, acked: -1, ackedTarget: -1, start: -1,
		failedAt: -1, failedLast: -1, isolateUntil: -1, haltAt: -1, haltedAt: -1, hwm: -1, ready: true}
	p.rctx = newLeaseCtx(context.Background(), nil)
	if mod != nil {
		mod(p)
	}
	return p
}

func TestCopying(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(p *partState)
		want bool
	}{
		{"ready", nil, true},
		{"target topic not ready yet", func(p *partState) { p.ready = false }, false},
		{"stopped (drained or aborted)", func(p *partState) { p.stopped = true }, false},
		{"retired (source topic re-created)", func(p *partState) { p.retired = &fleet.JobError{} }, false},
		{"a record failed: waits for its rewind", func(p *partState) { p.failedAt = 7 }, false},
		{"halted at a refused record: copies up to it", func(p *partState) { p.haltAt = 7 }, true},
	} {
		if got := part(c.mod).copyingLocked(); got != c.want {
			t.Errorf("%s: copying = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGate(t *testing.T) {
	for _, c := range []struct {
		name   string
		haltAt int64
		offset int64
		fresh  bool
		want   gate
	}{
		{"fresh lease", -1, 5, true, gateOpen},
		{"stale lease", -1, 5, false, gateStale},
		{"before the refused record", 5, 4, true, gateOpen},
		{"the refused record", 5, 5, true, gateHalted},
		{"after the refused record", 5, 6, true, gateHalted},
		{"the refused record, stale lease: halted first", 5, 5, false, gateHalted},
		{"before the refused record, stale lease", 5, 4, false, gateStale},
	} {
		p := part(func(p *partState) { p.haltAt = c.haltAt })
		if got := p.gateLocked(c.offset, c.fresh); got != c.want {
			t.Errorf("%s: gate = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestChore(t *testing.T) {
	now := time.Unix(1000, 0)
	const timeout = 30 * time.Second
	rec := &kgo.Record{Offset: 5}
	for _, c := range []struct {
		name string
		mod  func(p *partState)
		want chore
	}{
		{"idle", nil, choreNone},
		{"failed, nothing in flight", func(p *partState) { p.failedAt = 3 }, choreRetry},
		{"failed, results still to come", func(p *partState) { p.failedAt = 3; p.inflight = 2; p.lastProgress = now.Add(-time.Hour) }, choreNone},
		{"failed and halted: the failure first", func(p *partState) { p.failedAt = 3; p.haltAt = 9 }, choreRetry},
		{"failed, target topic not ready", func(p *partState) { p.failedAt = 3; p.ready = false }, choreNone},
		{"failed, stopped", func(p *partState) { p.failedAt = 3; p.stopped = true }, choreNone},
		{"failed, retired", func(p *partState) { p.failedAt = 3; p.retired = &fleet.JobError{} }, choreNone},
		{"halted, retry due", func(p *partState) { p.haltAt = 9; p.haltRetryAt = now.Add(-time.Second) }, choreRetryHalt},
		{"halted, retry due now", func(p *partState) { p.haltAt = 9; p.haltRetryAt = now }, choreRetryHalt},
		{"halted, retry not due", func(p *partState) { p.haltAt = 9; p.haltRetryAt = now.Add(time.Second) }, choreNone},
		{"halted, records before it in flight in time", func(p *partState) {
			p.haltAt, p.haltRetryAt, p.inflight, p.lastProgress = 9, now.Add(-time.Second), 1, now
		}, choreNone},
		{"halted, records before it in flight too long", func(p *partState) {
			p.haltAt, p.haltRetryAt, p.inflight, p.lastProgress = 9, now.Add(-time.Second), 1, now.Add(-time.Minute)
		}, choreTimeOut},
		{"in flight, acknowledged lately", func(p *partState) { p.inflight, p.lastProgress = 3, now.Add(-timeout) }, choreNone},
		{"in flight, nothing acknowledged in time", func(p *partState) { p.inflight, p.lastProgress = 3, now.Add(-timeout-time.Millisecond) }, choreTimeOut},
		{"in flight, timed out already", func(p *partState) {
			p.inflight, p.lastProgress = 3, now.Add(-time.Hour)
			p.rctx.timedOut.Store(true)
		}, choreNone},
		{"stalled too long", func(p *partState) {
			p.pending, p.stalledSince = []*kgo.Record{rec}, now.Add(-stallTrim-time.Millisecond)
		}, choreTrim},
		{"stalled a while", func(p *partState) { p.pending, p.stalledSince = []*kgo.Record{rec}, now.Add(-stallTrim) }, choreNone},
		{"pending, not stalled", func(p *partState) { p.pending = []*kgo.Record{rec} }, choreNone},
	} {
		if got := part(c.mod).choreLocked(now, timeout); got != c.want {
			t.Errorf("%s: chore = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	for _, c := range []struct{ d, want time.Duration }{
		{0, minRetryBackoff},
		{40 * time.Millisecond, minRetryBackoff},
		{100 * time.Millisecond, 200 * time.Millisecond},
		{2 * time.Second, 4 * time.Second},
		{3 * time.Second, maxRetryBackoff},
		{maxRetryBackoff, maxRetryBackoff},
	} {
		if got := nextBackoff(c.d); got != c.want {
			t.Errorf("nextBackoff(%s) = %s, want %s", c.d, got, c.want)
		}
	}
}

func TestWakeAfterAck(t *testing.T) {
	for _, c := range []struct {
		name   string
		mod    func(p *partState)
		failed bool
		src    int64
		want   bool
	}{
		{"copied, nothing waits", nil, false, 5, false},
		{"failed", nil, true, 5, true},
		{"records wait", func(p *partState) { p.pending = []*kgo.Record{{Offset: 9}} }, false, 5, true},
		{"fetching paused", func(p *partState) { p.paused = true }, false, 5, true},
		{"the record copied alone", func(p *partState) { p.isolateUntil = 6 }, false, 5, true},
		{"the last record copied alone", func(p *partState) { p.isolateUntil = 5 }, false, 5, true},
		{"past the records copied alone", func(p *partState) { p.isolateUntil = 4 }, false, 5, false},
		{"copied alone, others in flight", func(p *partState) { p.isolateUntil, p.inflight = 6, 1 }, false, 5, false},
	} {
		if got := part(c.mod).wakeAfterAckLocked(c.failed, c.src); got != c.want {
			t.Errorf("%s: wake = %v, want %v", c.name, got, c.want)
		}
	}
}

// sized returns records at offsets from, from+1, ... with values of the
// given sizes.
func sized(from int64, sizes ...int) []*kgo.Record {
	out := make([]*kgo.Record, len(sizes))
	for i, n := range sizes {
		out[i] = &kgo.Record{Offset: from + int64(i), Value: make([]byte, n)}
	}
	return out
}

func TestFitBudget(t *testing.T) {
	for _, c := range []struct {
		name    string
		recs    []*kgo.Record
		room    int64
		holding bool
		n       int
		bytes   int64
	}{
		{"nothing fetched", nil, 100, false, 0, 0},
		{"all fit", sized(0, 10, 20, 30), 100, false, 3, 60},
		{"exactly", sized(0, 50, 50), 100, false, 2, 100},
		{"over the budget: the rest is fetched again", sized(0, 50, 40, 30), 100, false, 2, 90},
		{"the first always, when the partition holds nothing", sized(0, 500, 10), 100, false, 1, 500},
		{"no room: the first all the same", sized(0, 10), 0, false, 1, 10},
		{"no room, the partition holds records: none", sized(0, 10), 0, true, 0, 0},
		{"over, the partition holds records: none", sized(0, 500), 100, true, 0, 0},
		{"empty records count nothing", sized(0, 0, 0, 0), 0, true, 3, 0},
	} {
		n, bytes := fitBudget(c.recs, c.room, c.holding)
		if n != c.n || bytes != c.bytes {
			t.Errorf("%s: fitBudget = %d, %d; want %d, %d", c.name, n, bytes, c.n, c.bytes)
		}
	}
}

func TestUnseen(t *testing.T) {
	offsets := func(recs []*kgo.Record) []int64 {
		var out []int64
		for _, r := range recs {
			out = append(out, r.Offset)
		}
		return out
	}
	recs := sized(3, 1, 1, 1, 1, 1) // offsets 3..7
	for _, c := range []struct {
		last int64
		want []int64
	}{
		{-1, []int64{3, 4, 5, 6, 7}},
		{2, []int64{3, 4, 5, 6, 7}},
		{5, []int64{6, 7}},
		{7, nil},
		{10, nil},
	} {
		if got := offsets(unseen(recs, c.last)); !slices.Equal(got, c.want) {
			t.Errorf("unseen(3..7, %d) = %v, want %v", c.last, got, c.want)
		}
	}
}

func TestRefetchFromStart(t *testing.T) {
	for _, c := range []struct {
		name    string
		mod     func(p *partState)
		first   int64
		at      int64
		again   bool
		checked bool
	}{
		{"no start offset (earliest)", nil, 40, 0, false, false},
		{"from its start", func(p *partState) { p.start = 10 }, 10, 10, false, true},
		{"compacted: from after its start", func(p *partState) { p.start = 10 }, 8, 10, false, true},
		{"from beyond its start: again", func(p *partState) { p.start = 10 }, 15, 10, true, true},
		{"checked already", func(p *partState) { p.start, p.startChecked = 10, true }, 15, 0, false, true},
		{"handed records over already", func(p *partState) { p.start, p.seen = 10, 12 }, 15, 0, false, false},
		{"holds records already", func(p *partState) { p.start, p.pending = 10, sized(10, 1) }, 15, 0, false, false},
	} {
		p := part(c.mod)
		at, again := p.refetchFromStartLocked(c.first)
		if at != c.at || again != c.again || p.startChecked != c.checked {
			t.Errorf("%s: refetchFromStart = %d, %v (checked %v); want %d, %v (checked %v)", c.name, at, again, p.startChecked, c.at, c.again, c.checked)
		}
	}
}

func TestLastHeld(t *testing.T) {
	if got := part(nil).lastHeldLocked(); got != -1 {
		t.Errorf("nothing held: %d", got)
	}
	if got := part(func(p *partState) { p.seen = 4 }).lastHeldLocked(); got != 4 {
		t.Errorf("handed over up to 4: %d", got)
	}
	if got := part(func(p *partState) { p.seen, p.pending = 4, sized(5, 1, 1) }).lastHeldLocked(); got != 6 {
		t.Errorf("holds 5 and 6: %d", got)
	}
}

// TestHandOver runs one pass of the pump over a partition's pending
// records (sizes in bytes of value) and checks what it hands to the
// producer and what the partition holds and says afterwards.
func TestHandOver(t *testing.T) {
	identical := &Flow{SourceAlias: "src", TargetAlias: "dst", Identical: true}
	prefixed := &Flow{SourceAlias: "src", TargetAlias: "dst"}
	lim := targetLimit{limit: 10_000, what: "max.message.bytes", mainCap: 10_000}
	type want struct {
		handed   []int64 // source offsets handed over
		alone    bool    // the last handed goes through the second producer
		pending  int     // records the partition still holds
		seen     int64
		failedAt int64
		haltAt   int64
		code     string // the partition's error code ("" none)
		stalled  bool
	}
	for _, c := range []struct {
		name  string
		flow  *Flow
		sizes []int
		mod   func(p *partState)
		lim   targetLimit
		capB  int64
		want  want
	}{
		{"all within the cap", prefixed, []int{100, 100, 100}, nil, lim, 10_000,
			want{handed: []int64{0, 1, 2}, seen: 2, failedAt: -1, haltAt: -1}},
		{"the cap reached: the rest waits for acknowledgements", prefixed, []int{100, 100, 100}, nil, lim, 2 * (100 + recordOverhead),
			want{handed: []int64{0, 1}, pending: 1, seen: 1, failedAt: -1, haltAt: -1, stalled: true}},
		{"a record that loops back is skipped, not handed", identical, []int{10, 10}, func(p *partState) {
			p.pending[0].Headers = []kgo.RecordHeader{{Key: OriginHeader, Value: []byte("dst")}}
		}, lim, 10_000, want{handed: []int64{1}, seen: 1, failedAt: -1, haltAt: -1}},
		{"up to the refused record", prefixed, []int{10, 10, 10}, func(p *partState) { p.haltAt = 1 }, lim, 10_000,
			want{handed: []int64{0}, seen: 0, failedAt: -1, haltAt: 1}},
		{"a stale lease: nothing written, failed at the first", prefixed, []int{10, 10}, func(p *partState) {
			p.rctx = newLeaseCtx(context.Background(), func() bool { return false })
		}, lim, 10_000, want{seen: -1, failedAt: 0, haltAt: -1, code: CodeLeaseNotRenewed}},
		{"timed out: nothing written, failed at the first", prefixed, []int{10, 10}, func(p *partState) { p.rctx.timedOut.Store(true) }, lim, 10_000,
			want{seen: -1, failedAt: 0, haltAt: -1}},
		{"a record larger than the target takes stops the partition before it", prefixed, []int{10, 20_000, 10}, nil, lim, 10_000,
			want{handed: []int64{0}, seen: 0, failedAt: -1, haltAt: 1, code: CodeRecordTooLarge}},
		{"a record over the main producer's cap goes alone", prefixed, []int{6_000, 10}, nil,
			targetLimit{limit: 10_000, what: "max.message.bytes", mainCap: 5_000}, 100_000,
			want{handed: []int64{0}, alone: true, pending: 1, seen: 0, failedAt: -1, haltAt: -1}},
		{"... and waits for the records before it", prefixed, []int{10, 6_000}, nil,
			targetLimit{limit: 10_000, what: "max.message.bytes", mainCap: 5_000}, 100_000,
			want{handed: []int64{0}, pending: 1, seen: 0, failedAt: -1, haltAt: -1, stalled: true}},
		{"a record within a few bytes of the limit goes alone (franz-go's fixed-length figure is over the cap)", prefixed, []int{9_928, 10}, nil, lim, 100_000,
			want{handed: []int64{0}, alone: true, pending: 1, seen: 0, failedAt: -1, haltAt: -1}},
		{"copying one at a time: the next waits", prefixed, []int{10, 10}, func(p *partState) { p.isolateUntil = 5 }, lim, 10_000,
			want{handed: []int64{0}, pending: 1, seen: 0, failedAt: -1, haltAt: -1, stalled: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &replication{e: New(Config{}), log: slog.New(slog.DiscardHandler)}
			st := part(func(p *partState) {
				p.pending = sized(0, c.sizes...)
				for _, rec := range p.pending {
					p.pendingB.Add(keyValueBytes(rec))
				}
			})
			if c.mod != nil {
				c.mod(st)
			}
			out := r.handOverLocked(st, c.flow, c.capB, c.lim)
			var handed []int64
			for _, h := range out {
				handed = append(handed, h.src)
				if h.out.Topic != st.targetTopic {
					t.Errorf("handed to topic %q, want %q", h.out.Topic, st.targetTopic)
				}
			}
			code := ""
			if st.err != nil {
				code = st.err.Code
			}
			if st.haltErr != nil {
				code = st.haltErr.Code
			}
			got := want{handed: handed, pending: len(st.pending), seen: st.seen, failedAt: st.failedAt, haltAt: st.haltAt,
				code: code, stalled: !st.stalledSince.IsZero()}
			if len(out) > 0 {
				got.alone = out[len(out)-1].alone
			}
			if !slices.Equal(got.handed, c.want.handed) || got.alone != c.want.alone || got.pending != c.want.pending ||
				got.seen != c.want.seen || got.failedAt != c.want.failedAt || got.haltAt != c.want.haltAt ||
				got.code != c.want.code || got.stalled != c.want.stalled {
				t.Errorf("after a pass:\n got %+v\nwant %+v", got, c.want)
			}
			if st.inflight != len(out) {
				t.Errorf("%d in flight, %d handed", st.inflight, len(out))
			}
			var held int64
			for _, rec := range st.pending {
				held += keyValueBytes(rec)
			}
			if st.pendingB.Load() != held {
				t.Errorf("pending bytes %d, the partition holds %d", st.pendingB.Load(), held)
			}
		})
	}
}
