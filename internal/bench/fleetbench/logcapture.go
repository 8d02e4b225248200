package fleetbench

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logCapture counts the control plane's warnings and errors and keeps the
// first few distinct ones for the report; it passes every record on to next
// (if any).
type logCapture struct {
	shared *captured
	next   slog.Handler
	attrs  []slog.Attr
}

type captured struct {
	mu      sync.Mutex
	n       int
	seen    map[string]bool
	samples []string
}

func newLogCapture(next slog.Handler) *logCapture {
	return &logCapture{shared: &captured{seen: map[string]bool{}}, next: next}
}

func (h *logCapture) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || (h.next != nil && h.next.Enabled(ctx, l))
}

func (h *logCapture) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		add := func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		s := &h.shared.mu
		s.Lock()
		h.shared.n++
		if !h.shared.seen[r.Message] && len(h.shared.samples) < 8 {
			h.shared.seen[r.Message] = true
			h.shared.samples = append(h.shared.samples, b.String())
		}
		s.Unlock()
	}
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	if h.next != nil {
		c.next = h.next.WithAttrs(attrs)
	}
	return &c
}

func (h *logCapture) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

func (h *logCapture) result() (int, []string) {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	return h.shared.n, append([]string(nil), h.shared.samples...)
}
