package replbench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type report struct {
	Cmd, Machine       string
	Bytes, Records     int64
	RecordSize         int
	Topics, Partitions int
	LatDur, LatWarm    time.Duration
	LatRate            float64
	MM2Heap            string
	WorkerEnv          []string
	Systems            []sysResult
	Limit              *limitResult  // the highest of LimitRuns
	LimitRuns          []limitResult // one per -limit-clients entry
	Floor              *latencyResult
}

// idle notes how much of the machine's CPU was idle during a latency run.
func idle(l *latencyResult) string {
	if l == nil || l.Idle < 0 {
		return ""
	}
	return fmt.Sprintf(" (CPU %.0f%% idle)", 100*l.Idle)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Replication throughput, latency and cost: %d topic(s) × %d partitions\n\n", r.Topics, r.Partitions)
	w("Measured by `make bench-replication` (`test/bench-replication/run.sh`, which starts two single-node\n")
	w("Kafka 4.1.1 clusters from the Maven jars with full JIT on their own ports, then runs `cmd/bench replication`\n")
	w("for the 1 × 12 and 100 × 4 workloads, each into its own section of BENCHMARKS.md).\n\n")
	w("- Command: `%s`\n", r.Cmd)
	w("- Machine: %s\n", r.Machine)
	w("- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	w("- Workload: %d topic(s) × %d partitions, %d B records, %d records = %.0f MiB per system, preloaded into the\n",
		r.Topics, r.Partitions, r.RecordSize, r.Records, float64(r.Bytes)/(1<<20))
	w("  source before each system starts (the issue's default volume is 2 GiB; `-bytes 2GiB` runs it).\n")
	w("- Brokers: source and target each one KRaft JVM with -Xmx512m, on the same machine as everything else.\n\n")

	w("| system | create → first record | copy time | MiB/s | records/s | CPU s (from create) | CPU s / GiB (copying) | peak RSS | latency p50 | latency p99 |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Systems {
		if s.Err != nil && s.Copy.Done == 0 {
			w("| %s | failed: %s | | | | | | | | |\n", s.Name, strings.ReplaceAll(s.Err.Error(), "|", "/"))
			continue
		}
		gib := float64(s.Copy.Bytes) / (1 << 30)
		rss := fmt.Sprintf("%d MiB", s.RSS>>20)
		if s.ServeRSS > 0 {
			rss = fmt.Sprintf("%d MiB per worker (serve %d MiB)", s.RSS>>20, s.ServeRSS>>20)
		}
		p50, p99 := "—", "—"
		if s.Latency != nil {
			p50, p99 = ms(s.Latency.P50), ms(s.Latency.P99)+idle(s.Latency)
		}
		w("| %s | %.2f s | %.2f s | %.1f | %.0f | %.1f | %.1f | %s | %s | %s |\n", s.Name, s.Copy.FirstRecord.Seconds(), s.Copy.window(),
			s.Copy.mibps(), s.Copy.rps(), s.CPU.Seconds(), s.CopyCPU.Seconds()/gib, rss, p50, p99)
	}
	for _, s := range r.Systems {
		if l := s.LowLatency; l != nil {
			w("| %s, latency at 10%% load (%.0f records/s) | — | — | — | — | — | — | — | %s | %s |\n", s.Name, l.Rate, ms(l.P50), ms(l.P99)+idle(l))
		}
	}
	for i := range r.LimitRuns {
		l := &r.LimitRuns[i]
		name := fmt.Sprintf("broker limit: %d × ProducerPerformance → target ‖ %d × ConsumerPerformance ← source", l.Producers, l.Consumers)
		if l.Err != nil {
			w("| %s | failed: %s | | | | | | | | |\n", name, strings.ReplaceAll(l.Err.Error(), "|", "/"))
			continue
		}
		if len(r.LimitRuns) > 1 && l == r.Limit {
			name += " (the highest: the limit)"
		}
		w("| %s | — | %.1f s steady | %.1f | %.0f | — | — | — | — | — |\n", name, l.Window.Seconds(), l.mibps(), l.rps())
	}
	if f := r.Floor; f != nil {
		w("| no replication: produce and consume on the source (floor of the latency measurement) | — | — | — | — | — | — | — | %s | %s |\n", ms(f.P50), ms(f.P99)+idle(f))
	}
	w("\n")

	// Goals.
	var best, mm2 *sysResult
	var maxRSS int64
	for i := range r.Systems {
		s := &r.Systems[i]
		if s.Err != nil && s.Copy.Done == 0 {
			continue
		}
		if strings.HasPrefix(s.Name, "MirrorMaker") {
			mm2 = s
			continue
		}
		maxRSS = max(maxRSS, s.RSS)
		if best == nil || s.Copy.mibps() > best.Copy.mibps() {
			best = s
		}
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**NOT met**"
	}
	w("| goal | measured | |\n|---|---|---|\n")
	if best != nil {
		if mm2 != nil {
			ratio := best.Copy.mibps() / mm2.Copy.mibps()
			w("| throughput ≥ 2× MirrorMaker 2 | %.2f× (%.1f vs %.1f MiB/s) | %s |\n", ratio, best.Copy.mibps(), mm2.Copy.mibps(), met(ratio >= 2))
		}
		if r.Limit != nil && r.Limit.Err == nil {
			f := best.Copy.mibps() / r.Limit.mibps()
			note := ""
			if f > 1 {
				note = " — above 100%: the brokers sustained more than the limit row shows, so that row understates them (see below)"
			}
			w("| throughput ≥ 70%% of the broker limit | %.0f%% (%.1f vs %.1f MiB/s)%s | %s |\n", 100*f, best.Copy.mibps(), r.Limit.mibps(), note, met(f >= 0.7))
		}
		for _, s := range r.Systems {
			if s.Latency != nil && !strings.HasPrefix(s.Name, "MirrorMaker") {
				w("| p99 latency ≤ 100 ms at 50%% load (%s) | p99 %s at %.0f records/s | %s |\n", s.Name, ms(s.Latency.P99), s.Latency.Rate, met(s.Latency.P99 <= 100*time.Millisecond))
			}
		}
		for _, s := range r.Systems {
			if l := s.LowLatency; l != nil {
				w("| (for reference) p99 at 10%% load (%s) | p99 %s at %.0f records/s | %s |\n", s.Name, ms(l.P99), l.Rate, met(l.P99 <= 100*time.Millisecond))
			}
		}
		w("| worker RSS < 256 MiB at full speed | %d MiB (largest worker of all our runs) | %s |\n", maxRSS>>20, met(maxRSS < 256<<20))
		if mm2 != nil {
			ours := best.CopyCPU.Seconds() / (float64(best.Copy.Bytes) / (1 << 30))
			theirs := mm2.CopyCPU.Seconds() / (float64(mm2.Copy.Bytes) / (1 << 30))
			w("| CPU per GiB ≤ ½ of MirrorMaker 2's | %.1f vs %.1f CPU s/GiB (%.0f%%) | %s |\n", ours, theirs, 100*ours/theirs, met(ours <= theirs/2))
		}
	}
	w("\n")
	w("How it is measured:\n\n")
	w("- **Throughput**: records (and bytes, record values only) on the target divided by the time from the first\n")
	w("  record on the target to the last (target end offsets, polled every 50 ms), so start-up is not counted;\n")
	w("  start-up is the *create → first record* column: from CreateReplicator (serve and workers already\n")
	w("  running and idle) or from starting the MirrorMaker 2 process (dedicated mode has no create call).\n")
	w("  *copy time* is first → last record.\n")
	w("- **CPU s**: user+system time (`/proc/PID/stat`) of the replicating processes over the same span as\n")
	w("  create → last record: serve + all workers for ours, the MirrorMaker 2 JVM (its start-up included) for MM2.\n")
	w("  **CPU s / GiB** uses only the CPU time between the first and the last record on the target (steady\n")
	w("  copying, JVM start-up and Connect group join excluded), divided by the GiB copied.\n")
	w("  **peak RSS**: `VmHWM` of each process (workers and serve are started fresh for every run).\n")
	w("- **Latency**: after the copy, a rate-limited franz-go producer (linger 0, acks=all) writes %.0f records/s\n", r.LatRate)
	w("  (50%% of our best records/s above) for %s into fresh topics of the same shape that the system already\n", r.LatDur)
	w("  replicates; a franz-go consumer on the target takes arrival time − record timestamp (set at produce,\n")
	w("  kept by both systems). The first %s are not counted. Our latency runs with the last worker\n", r.LatWarm)
	w("  configuration; MirrorMaker 2 gets the same offered rate. *CPU idle*: the share of the machine's CPU time\n")
	w("  (`/proc/stat`, all cores) that was idle during the counted part of the run; near 0%% the load generator,\n")
	w("  both brokers, the replicating processes and the measuring consumer are out of cores, and the latency\n")
	w("  measures queueing for the CPU more than the replicator.\n")
	if l := r.Limit; l != nil && l.Err == nil {
		w("- **Broker limit**: the brokers' own perf tools doing the work a replicator makes the brokers do, at\n")
		w("  the same time: P `ProducerPerformance` processes write to a fresh target topic and, once they have run\n")
		w("  alone for %s (JVM start, JIT), C `ConsumerPerformance` processes (P + C below), each in its own\n", l.ProducerWarmup)
		w("  group (so each reads every partition from the start, like a single worker), read a preloaded source\n")
		w("  topic. Both topics have the workload's %d partitions in one topic (the perf tools take one topic each).\n", r.Topics*r.Partitions)
		w("  Producers: our worker's producer settings (acks=all, idempotent, linger 2 ms, batches of 1,000,012 B,\n")
		w("  32 MiB buffer, no compression; Java's default of 5 requests in flight); consumers: our worker's fetch\n")
		w("  settings (16 MiB per fetch, 2 MiB per partition, 100 ms max wait, read_committed; the tool itself turns\n")
		w("  CRC checks off). Each is its own JVM (%s; heap %s) on the same cores as both brokers.\n", l.JVMOpts, l.Heap)
		if l.Capped > 0 {
			w("  A replicator reads only as fast as it writes, so the consumers together are held to at most %.1f× the\n", l.Capped)
			w("  producers' summed rate (a `consumer_byte_rate` quota on the source broker for the consumers' shared\n")
			w("  client id, set every 5 s from the highest of the producers' last three 5 s rates) instead of taking,\n")
			w("  unbounded, the cores the producers and brokers need. The cap sits above the producers' rate, so the\n")
			w("  consumers' sum still shows whether the source serves as much as the target takes in.\n")
		}
		w("  The rates come from the tools' own progress lines (one per ~5 s interval per process, timed as\n")
		w("  replbench reads them): the first %d interval(s) of every process (JVM start, JIT warm-up, the consumer's\n", l.WarmIntervals)
		w("  group join) are not counted, and the processes run until they have all been past that together for the\n")
		w("  steady window; over that common window the records of each process are summed per side (linear within\n")
		w("  an interval). A run's figure is the lower of its two sums; the limit is the highest run's (each run is a\n")
		w("  rate the brokers were seen to sustain). This run:\n")
		for _, l := range r.LimitRuns {
			if l.Err != nil {
				w("  - %d + %d processes: failed: %v\n", l.Producers, l.Consumers, l.Err)
				continue
			}
			w("  - %d + %d processes, %.1f s steady, source topic %.0f MiB: producers %.1f MiB/s, consumers %.1f MiB/s\n",
				l.Producers, l.Consumers, l.Window.Seconds(), float64(l.SourceRecords)*float64(l.RecordSize)/(1<<20), l.prodMiBps(), l.consMiBps())
			w("    (%s) → %.1f MiB/s.", l.PerProcess, l.mibps())
			if l.Attempts > 1 {
				w(" The consumers read through the source topic too early %d time(s); it was grown and the\n", l.Attempts-1)
				w("    measurement repeated with fresh processes.")
			}
			if l.Short != "" {
				w(" **The common steady window is shorter than asked for**: %s.", l.Short)
			}
			w("\n")
		}
		w("  Caveat: the perf clients' own CPU (Java clients, one JVM each) competes with the brokers for the same\n")
		w("  cores, as our workers' and MirrorMaker 2's does, which makes this row lower than the brokers alone could\n")
		if l.Capped == 0 {
			w("  sustain (and the consumers were not held to the producers' rate, `-limit-consumer-headroom 0`, which\n")
			w("  takes more still); if our service copies faster than it, the brokers evidently sustain at least our rate.\n")
		} else {
			w("  sustain; if our service copies faster than it, the brokers evidently sustain at least our rate.\n")
		}
	} else if l != nil {
		w("- **Broker limit**: perf tools failed: %v\n", l.Err)
	}
	w("- **MirrorMaker 2**: `org.apache.kafka.connect.mirror.MirrorMaker` (connect-mirror 4.1.1) in dedicated\n")
	w("  mode with `test/bench-replication/mm2.properties` (every setting explained there), tasks.max = %d,\n", r.Topics*r.Partitions)
	w("  full JIT, heap %s. Ours: `replicator serve` + `replicator worker` processes, PostgreSQL on the same\n", r.MM2Heap)
	if len(r.WorkerEnv) > 0 {
		defer w("- Our workers ran with these settings besides the defaults: `%s`.\n", strings.Join(r.WorkerEnv, "`, `"))
	}
	w("  machine (its CPU is not counted, like the MM2 Connect internal topics' broker work is not counted).\n")
	for _, s := range r.Systems {
		if s.Latency != nil && s.Latency.Received < s.Latency.Produced {
			w("- %s: only %d of %d latency records arrived within 30 s after the run.\n", s.Name, s.Latency.Received, s.Latency.Produced)
		}
		if s.Err != nil && s.Copy.Done != 0 {
			w("- %s: %v\n", s.Name, s.Err)
		}
	}
	return b.String()
}

// writeSection puts md into the file at path between the markers of the
// workload key (<!-- replbench:KEY:begin --> … <!-- replbench:KEY:end -->),
// replacing what was between them and leaving the rest of the file as it
// was; without the markers, the section is appended at the end.
func writeSection(path, key, md string) error {
	begin, end := "<!-- replbench:"+key+":begin -->", "<!-- replbench:"+key+":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	doc := string(old)
	section := begin + "\n" + strings.TrimRight(md, "\n") + "\n" + end
	bi := strings.Index(doc, begin)
	ei := strings.Index(doc, end)
	switch {
	case bi >= 0 && ei > bi:
		doc = doc[:bi] + section + doc[ei+len(end):]
	case bi >= 0 || ei >= 0:
		return fmt.Errorf("%s: only one of the markers %s and %s, or out of order; fix the file by hand", path, begin, end)
	default:
		if doc != "" {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		doc += section + "\n"
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(doc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
