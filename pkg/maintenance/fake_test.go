package maintenance

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// fakeStore answers the services' calls from its fields and records them,
// in order, by method name.
type fakeStore struct {
	mu    sync.Mutex
	calls []string

	lead     bool
	expired  int
	revoked  int
	purged   int64
	moved    int
	health   []fleet.ReplicatorHealth
	setState func(id string, from replicator.State, st replicator.State, code, msg string) bool
	failOn   string // a method that fails
	err      error

	pruneAge     time.Duration
	rebalanceTTL time.Duration
	leadTTL      time.Duration
	states       []string // "id from→to code" of each SetState call
}

func (f *fakeStore) call(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.failOn == name {
		return f.err
	}
	return nil
}

func (f *fakeStore) called() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, " ")
}

func (f *fakeStore) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *fakeStore) TryLead(ctx context.Context, role, holder string, ttl time.Duration) (bool, error) {
	f.leadTTL = ttl
	if role != "scheduler" {
		panic("leader role " + role)
	}
	return f.lead, f.call("TryLead")
}

func (f *fakeStore) ExpireLeases(context.Context) (int, error) {
	return f.expired, f.call("ExpireLeases")
}

func (f *fakeStore) RevokeDeleting(context.Context) (int, error) {
	return f.revoked, f.call("RevokeDeleting")
}

func (f *fakeStore) PurgeDeleted(context.Context) (int64, error) {
	return f.purged, f.call("PurgeDeleted")
}

func (f *fakeStore) Rebalance(_ context.Context, ttl time.Duration) (int, error) {
	f.rebalanceTTL = ttl
	return f.moved, f.call("Rebalance")
}

func (f *fakeStore) PruneMappings(_ context.Context, maxAge time.Duration) (int, error) {
	f.pruneAge = maxAge
	return 0, f.call("PruneMappings")
}

func (f *fakeStore) Health(context.Context) ([]fleet.ReplicatorHealth, error) {
	return f.health, f.call("Health")
}

func (f *fakeStore) SetState(_ context.Context, id string, from replicator.State, _ int64, st replicator.State, code, msg string) (bool, error) {
	if err := f.call("SetState"); err != nil {
		return false, err
	}
	f.states = append(f.states, id+" "+string(from)+"→"+string(st)+" "+code)
	if f.setState != nil {
		return f.setState(id, from, st, code, msg), nil
	}
	return true, nil
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                 { return c.t }
func (c *clock) advance(d time.Duration)        { c.t = c.t.Add(d) }
func newClock() *clock                          { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func (c *clock) ago(d time.Duration) *time.Time { t := c.t.Add(-d); return &t }

// logBuffer is a logger whose lines a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// metric returns the value of the counter or gauge name (with the label
// values given, in order) in reg, or -1 if there is none.
func metric(t *testing.T, reg *prometheus.Registry, name string, labelValues ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labelValues) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != labelValues[i] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// newTest returns a Maintainer over store with a settable clock, a
// readable log and its own registry.
func newTest(store Store) (*Maintainer, *clock, *logBuffer, *prometheus.Registry) {
	c := newClock()
	log, buf := newLog()
	reg := prometheus.NewRegistry()
	m := New(store, Config{LeaseTTL: 7 * time.Second, Tick: 100 * time.Millisecond, FailAfter: 30 * time.Second,
		Logger: log, Registry: reg, Now: c.now})
	return m, c, buf, reg
}
