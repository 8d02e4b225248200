// Package soak is the soak run's machinery (make soak): it samples what a
// long-running system holds — each process's resident memory, goroutines
// and open files from its /metrics, PostgreSQL's table sizes and dead
// tuples — at a fixed interval, decides per series whether it grows without
// bound, and renders the table RELIABILITY.md shows. The run itself
// (processes, Kafka, traffic) is run_test.go, built with the `soak` tag;
// it reuses the fault suite's system, stream and checker (internal/faults).
package soak

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/internal/faults"
)

// Unit says how a series is shown and how much noise it may have.
type Unit int

const (
	Bytes Unit = iota
	Count
)

// Series is one sampled quantity.
type Series struct {
	Name   string
	Unit   Unit
	Slack  float64 // growth below this is noise, whatever the ratio
	Values []float64
}

// ProcessMetrics are the series read from a process's /metrics.
var ProcessMetrics = []struct {
	Metric, Label string
	Unit          Unit
	Slack         float64
}{
	{"process_resident_memory_bytes", "RSS", Bytes, 8 << 20},
	{"go_goroutines", "goroutines", Count, 10},
	{"process_open_fds", "open files", Count, 5},
}

// Tables are the PostgreSQL tables whose size is sampled (those that do
// not exist are skipped).
var Tables = []string{"jobs", "checkpoints", "offset_mappings", "replicator_events", "workers"}

// The slack of the database's series.
const (
	TableSlack       = 256 << 10 // bytes
	DeadTuplesSlack  = 5000
	ConnectionsSlack = 3
)

// ScrapeMetrics reads the unlabelled samples of a Prometheus text
// exposition (name value) from url, sending token as a bearer token when
// it is not empty.
func ScrapeMetrics(ctx context.Context, url, token string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return ParseMetrics(bufio.NewScanner(resp.Body))
}

// ParseMetrics reads unlabelled samples from a Prometheus text exposition.
func ParseMetrics(sc *bufio.Scanner) (map[string]float64, error) {
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	out := map[string]float64{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}

// TableStats are a table's size on disk (with indexes and TOAST) and its
// dead and live tuples.
type TableStats struct {
	Bytes, Dead, Live float64
}

// SampleTables reads the stats of Tables that exist, and how many
// connections the server has.
func SampleTables(ctx context.Context, conn *pgx.Conn) (map[string]TableStats, int, error) {
	out := map[string]TableStats{}
	for _, t := range Tables {
		var size, dead, live *int64
		err := conn.QueryRow(ctx, `SELECT pg_total_relation_size(c.oid), s.n_dead_tup, s.n_live_tup
			FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
			WHERE c.oid = to_regclass($1)`, t).Scan(&size, &dead, &live)
		if err == pgx.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", t, err)
		}
		out[t] = TableStats{Bytes: f64(size), Dead: f64(dead), Live: f64(live)}
	}
	var conns int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&conns); err != nil {
		return nil, 0, err
	}
	return out, conns, nil
}

func f64(p *int64) float64 {
	if p == nil {
		return 0
	}
	return float64(*p)
}

// Verdict says whether a series grows without bound. The samples are cut
// into thirds; the first is warm-up (caches fill, pools open) and only
// shown. The series grows when its last third, against its middle third,
// is higher by more than its slack and either by more than 10 % (medians)
// or entirely (every value of the last third above every value of the
// middle third: a steady climb, however slow). A series needs at least
// six samples to be judged.
type Verdict struct {
	Grows     bool
	Judged    bool
	MidMedian float64
	EndMedian float64
	PerHour   float64 // growth from the middle to the last third, extrapolated
	Reason    string
}

// Judge applies the verdict rule to values sampled every interval.
func Judge(s Series, interval time.Duration) Verdict {
	n := len(s.Values)
	if n < 6 {
		return Verdict{Reason: fmt.Sprintf("%d samples: too few to judge (6 needed)", n)}
	}
	third := n / 3
	mid := s.Values[third : 2*third]
	end := s.Values[n-third:]
	v := Verdict{Judged: true, MidMedian: median(mid), EndMedian: median(end)}
	// From the centre of the middle third to that of the last.
	span := float64(n-2*third) * interval.Hours()
	delta := v.EndMedian - v.MidMedian
	if span > 0 {
		v.PerHour = delta / span
	}
	apart := slices.Min(end) > slices.Max(mid)
	switch {
	case delta <= s.Slack:
		v.Reason = "last third within the slack of the middle third"
	case delta > 0.1*math.Abs(v.MidMedian):
		v.Grows, v.Reason = true, "last third's median more than 10 % above the middle third's"
	case apart:
		v.Grows, v.Reason = true, "every value of the last third above every value of the middle third"
	default:
		v.Reason = "last third's median less than 10 % above the middle third's, ranges overlap"
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Format shows a value of the unit.
func Format(u Unit, v float64) string {
	if u == Bytes {
		switch a := math.Abs(v); {
		case a >= 1<<30:
			return fmt.Sprintf("%.2f GiB", v/(1<<30))
		case a >= 1<<20:
			return fmt.Sprintf("%.1f MiB", v/(1<<20))
		case a >= 1<<10:
			return fmt.Sprintf("%.0f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B", v)
	}
	// Counts are whole; medians and rates show one decimal at most.
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// Report is what a soak run measured.
type Report struct {
	Command      string
	Started      time.Time
	Duration     time.Duration
	Interval     time.Duration
	Rate         float64 // records/s offered
	Partitions   int32
	KafkaVersion string
	PGVersion    string
	System       string
	Times        []time.Duration // of each sample, from the first
	Series       []*Series
	Copied       []int64 // records on the target at each sample
	Produced     int64
	Lost         int64
	Duplicates   int64
	Violations   []string
	APICalls     int64
	APIErrors    int64
	FinalState   string
}

// Markdown renders the report as the RELIABILITY.md section.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	growing := 0
	for _, s := range r.Series {
		if Judge(*s, r.Interval).Grows {
			growing++
		}
	}
	verdict := "**nothing grows without bound**"
	if growing > 0 {
		verdict = fmt.Sprintf("**%d series grow**", growing)
	}
	if len(r.Violations) > 0 {
		verdict += fmt.Sprintf(", **%d violations**", len(r.Violations))
	}
	w("## Soak run: %s\n\n", verdict)
	w("- Command: `%s`; %s UTC, %s, a sample every %s (%d samples)\n", r.Command, r.Started.UTC().Format("2006-01-02 15:04"),
		r.Duration.Round(time.Second), r.Interval, len(r.Times))
	w("- System: %s; Apache Kafka %s (two single-node KRaft clusters), PostgreSQL %s\n", r.System, r.KafkaVersion, r.PGVersion)
	w("- Traffic: %.0f records/s offered over %d partitions (%d produced, %d lost, %d duplicates, %d gaps or order violations); %d API calls (%d errors); state at the end %s\n\n",
		r.Rate, r.Partitions, r.Produced, r.Lost, r.Duplicates, len(r.Violations), r.APICalls, r.APIErrors, r.FinalState)
	w("| series | first | middle third (median) | last third (median) | last | growth /h (middle → last) | verdict |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Series {
		v := Judge(*s, r.Interval)
		first, last := "—", "—"
		if len(s.Values) > 0 {
			first, last = Format(s.Unit, s.Values[0]), Format(s.Unit, s.Values[len(s.Values)-1])
		}
		verdict := "bounded"
		switch {
		case !v.Judged:
			verdict = "not judged: " + v.Reason
		case v.Grows:
			verdict = "**grows**: " + v.Reason
		}
		mid, end, ph := "—", "—", "—"
		if v.Judged {
			mid, end = Format(s.Unit, v.MidMedian), Format(s.Unit, v.EndMedian)
			ph = Format(s.Unit, v.PerHour)
			if v.PerHour > 0 {
				ph = "+" + ph
			}
		}
		w("| %s | %s | %s | %s | %s | %s | %s |\n", s.Name, first, mid, end, last, ph, verdict)
	}
	w("\n*Verdict*: the samples are cut into thirds (the first is warm-up); a series grows when its last third is above its\n")
	w("middle third by more than its slack (RSS 8 MiB, goroutines 10, open files 5, table sizes 256 KiB, dead tuples 5,000,\n")
	w("connections 3) and either its median by more than 10 %% or every value of the last third above every value of the\n")
	w("middle third (a steady climb, however slow).\n\n")
	w("<details><summary>Every sample</summary>\n\n| t |")
	for _, s := range r.Series {
		w(" %s |", s.Name)
	}
	w(" records on the target |\n|---:|")
	for range r.Series {
		w("---:|")
	}
	w("---:|\n")
	for i, t := range r.Times {
		w("| %s |", t.Round(time.Second))
		for _, s := range r.Series {
			if i < len(s.Values) {
				w(" %s |", Format(s.Unit, s.Values[i]))
			} else {
				w(" |")
			}
		}
		if i < len(r.Copied) {
			w(" %d |", r.Copied[i])
		} else {
			w(" |")
		}
		w("\n")
	}
	w("\n</details>\n")
	b.WriteString(faults.ViolationList(r.Violations))
	return b.String()
}
