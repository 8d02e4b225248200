package logx

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestAllow(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(10*time.Second, c.now)
	type step struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}
	for i, s := range []step{
		{0, "a", true, 0},                // first occurrence: logged
		{time.Second, "a", false, 0},     // within the interval: counted
		{time.Second, "a", false, 0},     //
		{0, "b", true, 0},                // another key is logged on its own
		{7 * time.Second, "a", false, 0}, // 9 s after the first: still counted
		{time.Second, "a", true, 3},      // 10 s: logged with the three suppressed
		{time.Second, "a", false, 0},     // a new interval starts at that line
		{10 * time.Second, "a", true, 1}, //
		{time.Hour, "a", true, 0},        // nothing suppressed: no count
		{0, "b", true, 0},                // b's interval is long over
	} {
		c.advance(s.advance)
		ok, n := l.Allow(s.key)
		if ok != s.ok || n != s.suppressed {
			t.Fatalf("step %d (%s after %s): Allow = %v, %d; want %v, %d", i, s.key, s.advance, ok, n, s.ok, s.suppressed)
		}
	}
}

// TestLogLinesPerInterval: an event repeated every millisecond for a
// minute is logged once per interval, each line after the first carrying
// the count it stands for, and no occurrence is unaccounted for.
func TestLogLinesPerInterval(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(10*time.Second, c.now)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	const events = 60_000
	for range events {
		l.Log(log, slog.LevelWarn, "fetch|orders|0", "engine: fetch error", "topic", "orders")
		c.advance(time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines for a minute of errors, want 6 (one per 10 s):\n%s", len(lines), buf.String())
	}
	total := len(lines)
	for _, line := range lines[1:] {
		var n int
		i := strings.Index(line, "suppressed=")
		if i < 0 {
			t.Fatalf("line without the count: %s", line)
		}
		fmt.Sscanf(line[i:], "suppressed=%d", &n)
		total += n
	}
	// The occurrences after the last line are counted for the next one.
	if pending := l.keys["fetch|orders|0"].suppressed; total+pending != events {
		t.Fatalf("%d logged + suppressed + %d pending, want %d", total, pending, events)
	}
}

func TestKeysAreBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(time.Second, c.now)
	for i := range 3 * maxKeys {
		if ok, _ := l.Allow(fmt.Sprint("k", i)); !ok {
			t.Fatalf("first occurrence of key %d not logged", i)
		}
	}
	if len(l.keys) > maxKeys {
		t.Fatalf("%d keys kept, more than %d", len(l.keys), maxKeys)
	}
}
