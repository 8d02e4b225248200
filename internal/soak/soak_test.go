package soak

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
process_resident_memory_bytes 2.3068672e+07
process_open_fds 17
replicator_records_copied_total{replicator="a"} 12
weird_line
`
	m, err := ParseMetrics(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 42 || m["process_resident_memory_bytes"] != 23068672 || m["process_open_fds"] != 17 {
		t.Errorf("parsed %v", m)
	}
	if _, ok := m["replicator_records_copied_total"]; ok {
		t.Error("a labelled sample was taken for an unlabelled one")
	}
}

func series(slack float64, vals ...float64) Series {
	return Series{Name: "s", Unit: Count, Slack: slack, Values: vals}
}

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		name  string
		s     Series
		grows bool
	}{
		{"flat", series(5, 100, 101, 99, 100, 102, 100, 101, 99, 100), false},
		{"sawtooth (GC)", series(5, 80, 120, 90, 130, 85, 125, 90, 128, 86), false},
		{"warm-up then flat", series(5, 10, 50, 90, 100, 101, 100, 99, 101, 100), false},
		{"leak of 20 %", series(5, 100, 110, 120, 130, 140, 150, 160, 170, 180), true},
		{"slow steady climb", series(5, 1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080), true},
		{"climb within the slack", series(50, 1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080), false},
		{"shrinks", series(5, 200, 190, 180, 170, 160, 150, 140, 130, 120), false},
	} {
		v := Judge(c.s, time.Minute)
		if !v.Judged || v.Grows != c.grows {
			t.Errorf("%s: %+v, want grows=%v", c.name, v, c.grows)
		}
	}
	if v := Judge(series(5, 1, 2, 3), time.Minute); v.Judged {
		t.Errorf("3 samples judged: %+v", v)
	}
	// 9 samples a minute apart: middle third centred on minute 4, last on
	// minute 7; medians 140 and 170: +30 in 3 minutes = +600/h.
	if v := Judge(series(5, 100, 110, 120, 130, 140, 150, 160, 170, 180), time.Minute); v.PerHour != 600 {
		t.Errorf("PerHour = %v, want 600", v.PerHour)
	}
}

func TestMarkdown(t *testing.T) {
	r := &Report{Command: "make soak", Interval: time.Minute, Duration: 9 * time.Minute,
		Series: []*Series{{Name: "serve RSS", Unit: Bytes, Slack: 8 << 20, Values: []float64{1 << 20, 2 << 20, 3 << 20, 3 << 20, 3 << 20, 3 << 20}},
			{Name: "offset_mappings size", Unit: Bytes, Slack: TableSlack, Values: []float64{0, 1 << 20, 2 << 20, 3 << 20, 4 << 20, 5 << 20}}},
		Times: []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute}}
	md := r.Markdown()
	for _, want := range []string{"**1 series grow**", "| serve RSS | 1.0 MiB |", "**grows**", "| offset_mappings size |", "<details>"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
