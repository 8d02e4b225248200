package replbench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPerfParse(t *testing.T) {
	prod := &perfProc{producer: true}
	cum, ok := prod.parse("44684 records sent, 8874.7 records/sec (8.67 MB/sec), 114.8 ms avg latency, 1837.0 ms max latency.", 100)
	if !ok || cum != 44784 {
		t.Fatalf("periodic producer line: %d %v", cum, ok)
	}
	// The final total is not an interval.
	if _, ok := prod.parse("4000000 records sent, 167217.1 records/sec (163.30 MB/sec), 121.71 ms avg latency, 1170.00 ms max latency, 38 ms 50th, 429 ms 95th, 682 ms 99th, 1041 ms 99.9th.", 0); ok {
		t.Fatal("final producer line taken for an interval")
	}
	cons := &perfProc{}
	if _, ok := cons.parse("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", 0); ok {
		t.Fatal("consumer header taken for an interval")
	}
	cum, ok = cons.parse("2026-11-25 15:29:13:446, 0, 144.9141, 21.4658, 148392, 21980.9303, 0, 5611, 21.4658, 21980.9303", 7)
	if !ok || cum != 148392 {
		t.Fatalf("consumer line: %d %v", cum, ok)
	}
	if _, ok := cons.parse("WARNING: Exiting before consuming the expected number of messages: timeout (5000 ms) exceeded.", 0); ok {
		t.Fatal("warning taken for an interval")
	}
}

func TestSteadyWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at5 := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// A producer at 100 records/s after a slow first interval; a consumer
	// that starts later at 200 records/s.
	p := &perfProc{producer: true, pts: []perfPoint{{at5(5), 10}, {at5(10), 510}, {at5(15), 1010}, {at5(20), 1510}, {at5(25), 2010}}}
	c := &perfProc{pts: []perfPoint{{at5(12), 5}, {at5(17), 1005}, {at5(22), 2005}}}
	from, to, ok := steadyWindow([]*perfProc{p, c}, 1)
	if !ok || !from.Equal(at5(12)) || !to.Equal(at5(22)) {
		t.Fatalf("window %v..%v %v", from.Sub(t0), to.Sub(t0), ok)
	}
	if r := (at(p.pts, to) - at(p.pts, from)) / to.Sub(from).Seconds(); math.Abs(r-100) > 1e-9 {
		t.Fatalf("producer rate %v", r)
	}
	if r := (at(c.pts, to) - at(c.pts, from)) / to.Sub(from).Seconds(); math.Abs(r-200) > 1e-9 {
		t.Fatalf("consumer rate %v", r)
	}
	if _, _, ok := steadyWindow([]*perfProc{p, c}, 3); ok {
		t.Fatal("window with a consumer not past its warm-up")
	}
}

func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	head := "# Benchmarks\n\n## API\n\nhand-written\n"
	if err := os.WriteFile(path, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := writeSection(path, "1x12", "## one\n\nv1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "100x4", "## many\n\nv1\n"); err != nil {
		t.Fatal(err)
	}
	want := head + "\n<!-- replbench:1x12:begin -->\n## one\n\nv1\n<!-- replbench:1x12:end -->\n\n<!-- replbench:100x4:begin -->\n## many\n\nv1\n<!-- replbench:100x4:end -->\n"
	if got := read(); got != want {
		t.Fatalf("appended:\n%s\nwant:\n%s", got, want)
	}
	// Text after the sections stays; a re-run replaces only its section.
	if err := os.WriteFile(path, []byte(want+"\n## Later\n\nmore\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "1x12", "## one\n\nv2\n"); err != nil {
		t.Fatal(err)
	}
	got := read()
	if strings.Contains(got, "v1\n<!-- replbench:1x12:end") || !strings.Contains(got, "## one\n\nv2\n<!-- replbench:1x12:end -->") ||
		!strings.Contains(got, "## many\n\nv1\n") || !strings.HasSuffix(got, "\n## Later\n\nmore\n") || !strings.HasPrefix(got, head) {
		t.Fatalf("replaced:\n%s", got)
	}
	// A lone marker is an error, not a guess.
	if err := os.WriteFile(path, []byte(head+"<!-- replbench:1x12:begin -->\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "1x12", "## one\n"); err == nil {
		t.Fatal("no error for a missing end marker")
	}
	// A file that does not exist yet is created.
	fresh := filepath.Join(t.TempDir(), "new.md")
	if err := writeSection(fresh, "1x12", "## one\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); string(b) != "<!-- replbench:1x12:begin -->\n## one\n<!-- replbench:1x12:end -->\n" {
		t.Fatalf("fresh file: %q", b)
	}
}

func TestParseFlags(t *testing.T) {
	w, err := parseWorkloads("1x12, 100x4")
	if err != nil || len(w) != 2 || w[1].key() != "100x4" {
		t.Fatalf("%v %v", w, err)
	}
	if _, err := parseWorkloads("12"); err == nil {
		t.Fatal("12 taken for a workload")
	}
	c, err := parseClients("2+2,3+1")
	if err != nil || len(c) != 2 || c[1] != (clients{3, 1}) {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := parseClients("3"); err == nil {
		t.Fatal("3 taken for PRODUCERS+CONSUMERS")
	}
}
