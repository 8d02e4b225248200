package faults

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// FaultResult is one injected fault and what followed.
type FaultResult struct {
	N             int
	ID            string // the kind's FAULTS_KINDS name
	Kind, Detail  string
	Injected      time.Time
	Restored      time.Time // the fault undone (process restarted, server up again)
	Recovered     time.Time // everything produced before Restored is on the target, and RUNNING
	Err           string    // why it did not recover
	Duplicates    int64
	MaxSpan       time.Duration
	NewViolations int
	// Delay is the longest end-to-end delay of a record that arrived
	// between the injection and the recovery.
	Delay time.Duration
	// LateRewinds counts duplicate runs that began after the fault was
	// undone: for a zombie, writes it made after it resumed.
	LateRewinds int
}

// Report is what one run of the suite measured.
type Report struct {
	Seed         uint64
	TTL          time.Duration
	Rate         float64
	Partitions   int32
	KafkaVersion string
	Brokers      int    // per cluster
	Replay       string // the settings that replay the schedule (FAULTS_SEED=… FAULTS_KINDS=…)
	RecordBytes  int    // value size of a stream record
	Proxied      bool   // workers reach the brokers through the suite's proxies
	PGVersion    string
	Command      string
	Started      time.Time
	Ended        time.Time

	Faults    []FaultResult
	MinFaults int

	Produced         int64
	Epochs           int // incarnations of the source topic
	TargetResets     int // times the target topic was deleted
	ProducerRate     float64
	SourceFailures   int64
	SourceLastError  string
	Checked, Unique  int64
	Duplicates       int64
	Rewinds          int
	MaxSpan          time.Duration
	Lost             int64
	GroupSamples     int
	GroupFinal       string
	FinalState       string
	LogBytes         int64 // process logs searched for secrets
	Violations       []string
	CopyViolations   int // what the checker found on the target
	SourceViolations []string
	GroupViolations  []string
}

// Markdown renders the report as the RELIABILITY.md section.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	verdict := "**PASSED**"
	if len(r.Violations) > 0 {
		verdict = fmt.Sprintf("**FAILED** (%d violations)", len(r.Violations))
	}
	w("## Fault suite: %s\n\n", verdict)
	w("- Command: `%s` (seed %d: `%s make test-faults` replays the same sequence of faults and waits)\n", r.Command, r.Seed, r.Replay)
	clusters := "two single-node KRaft clusters"
	if r.Brokers > 1 {
		clusters = fmt.Sprintf("two KRaft clusters of %d brokers, replication factor %d, min.insync.replicas 2", r.Brokers, min(3, r.Brokers))
	}
	w("- Run: %s UTC, %s; Apache Kafka %s (%s), PostgreSQL %s, %s, %d CPUs\n",
		r.Started.UTC().Format("2006-01-02 15:04"), r.Ended.Sub(r.Started).Round(time.Second), r.KafkaVersion, clusters, r.PGVersion, runtime.Version(), runtime.NumCPU())
	net := "workers reach the brokers directly"
	if r.Proxied {
		net = "workers reach the brokers and serve through TCP proxies in the suite (network faults)"
	}
	w("- System: 2 × `replicator serve`, 3 × `replicator worker`, lease TTL %s, %s; stream: %d partitions, %.0f records/s offered, %d-byte checksummed records\n\n",
		r.TTL, net, r.Partitions, r.Rate, r.RecordBytes)

	w("| figure | value |\n|---|---:|\n")
	w("| faults injected | %d |\n", len(r.Faults))
	w("| records produced at the source (acknowledged) | %d (%.0f records/s) |\n", r.Produced, r.ProducerRate)
	w("| records checked on the target (every copy, checksum verified) | %d |\n", r.Checked)
	w("| distinct records on the target | %d |\n", r.Unique)
	w("| **records lost** | **%d** |\n", r.Lost)
	if r.Epochs > 1 || r.TargetResets > 0 {
		w("| source topic incarnations (epochs) / target topic deletions | %d / %d |\n", r.Epochs, r.TargetResets)
	}
	w("| gaps, order violations, corrupt or foreign records | %d |\n", r.CopyViolations)
	w("| duplicates (in %d rewinds) | %d |\n", r.Rewinds, r.Duplicates)
	w("| longest rewind, in seconds of source data (bound: the lease TTL, %s) | %.2f s |\n", r.TTL, r.MaxSpan.Seconds())
	w("| consumer-group offsets sampled on the target / beyond what was consumed | %d / %d |\n", r.GroupSamples, len(r.GroupViolations))
	w("| group offsets after the group consumed everything | %s |\n", r.GroupFinal)
	w("| replicator state at the end | %s |\n", r.FinalState)
	w("| process logs searched for the access key secret and the worker token (found: a violation) | %.1f MiB |\n", float64(r.LogBytes)/(1<<20))
	if r.SourceFailures > 0 {
		w("| records the source refused to the test producer | %d (%s) |\n", r.SourceFailures, r.SourceLastError)
	}
	w("\n| # | fault | what | outage | longest record delay | recovered after | duplicates | longest rewind | zombie: rewinds after it resumed |\n|---:|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Faults {
		rec := "**not recovered**: " + f.Err
		if f.Err == "" {
			rec = fmt.Sprintf("%.1f s", f.Recovered.Sub(f.Injected).Seconds())
		}
		span := "—"
		if f.MaxSpan > 0 {
			span = fmt.Sprintf("%.2f s", f.MaxSpan.Seconds())
		}
		late := "—"
		if f.ID == "zombie" {
			late = fmt.Sprint(f.LateRewinds)
		}
		w("| %d | %s | %s | %.1f s | %.1f s | %s | %d | %s | %s |\n", f.N, f.Kind, f.Detail, f.Restored.Sub(f.Injected).Seconds(),
			f.Delay.Seconds(), rec, f.Duplicates, span, late)
	}
	w("\n*Recovered after*: from the injection until the target holds every record produced before the fault was undone\n")
	w("(including records the test producer buffered while the source was down), and the replicator is RUNNING. *Outage*: injection until the process or server was back.\n")
	w("*Longest record delay*: of the records whose first copy arrived between the injection and the recovery, the longest\n")
	w("time from produce (the timestamp the test producer gave it) to arrival on the target; for a source broker restart it\n")
	w("includes the time the record waited in the producer. *Zombie: rewinds after it resumed*:\n")
	w("duplicate runs that started after the paused worker was resumed: its writes after its lease had been taken (see the\n")
	w("fencing note in pkg/fleet/doc.go); 0 means it wrote nothing once resumed.\n")
	w("A worker killed or paused loses its jobs only when its lease expires (TTL %s), so those recoveries include the TTL.\n", r.TTL)
	w("*Lost*: a record the source acknowledged whose first copy never reached the target. A source topic is deleted only once\n")
	w("its incarnation was copied whole, and every record of the new incarnation (the next epoch, from seq 0) must arrive; a\n")
	w("target topic is deleted only once the checker has read every record produced so far (those copies count as arrived),\n")
	w("and the copy must then go on from the checkpoint: a re-copy below it is a rewind (not bound by the TTL), a record seen in\n")
	w("neither incarnation of the target is lost.\n")
	b.WriteString(ViolationList(r.Violations))
	return b.String()
}

// ViolationList renders violations as the reports' closing Markdown list
// ("" when there are none).
func ViolationList(violations []string) string {
	if len(violations) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nViolations:\n\n")
	for _, v := range violations {
		fmt.Fprintf(&b, "- %s\n", v)
	}
	return b.String()
}

const (
	beginMarker = "<!-- faults:begin (written by make test-faults) -->"
	endMarker   = "<!-- faults:end -->"
)

// WriteSection puts text between the fault suite's markers in the file at
// path (see WriteBetween).
func WriteSection(path, text string) error { return WriteBetween(path, beginMarker, endMarker, text) }

// WriteBetween puts text between the markers begin and end in the file at
// path, replacing what was there and keeping the rest; without markers it
// appends them.
func WriteBetween(path, begin, end, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	block := begin + "\n" + strings.TrimRight(text, "\n") + "\n" + end
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(end):]
	case s == "":
		s = "# Reliability\n\n" + block + "\n"
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
