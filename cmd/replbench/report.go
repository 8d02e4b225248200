package main

import (
	"fmt"
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
	Systems            []sysResult
	Limit              *limitResult
	Floor              *latencyResult
	LimitClients       int
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Replication throughput, latency and cost: %d topic(s) × %d partitions\n\n", r.Topics, r.Partitions)
	w("Measured by `make bench-replication` (`test/bench-replication/run.sh`, which starts two single-node\n")
	w("Kafka 4.1.1 clusters from the Maven jars with full JIT on their own ports, then runs `cmd/replbench`).\n\n")
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
			p50, p99 = ms(s.Latency.P50), ms(s.Latency.P99)
		}
		w("| %s | %.2f s | %.2f s | %.1f | %.0f | %.1f | %.1f | %s | %s | %s |\n", s.Name, s.Copy.FirstRecord.Seconds(), s.Copy.window(),
			s.Copy.mibps(), s.Copy.rps(), s.CPU.Seconds(), s.CopyCPU.Seconds()/gib, rss, p50, p99)
	}
	for _, s := range r.Systems {
		if l := s.LowLatency; l != nil {
			w("| %s, latency at 10%% load (%.0f records/s) | — | — | — | — | — | — | — | %s | %s |\n", s.Name, l.Rate, ms(l.P50), ms(l.P99))
		}
	}
	if l := r.Limit; l != nil {
		if l.Err != nil {
			w("| broker limit (perf tools) | failed: %s | | | | | | | | |\n", l.Err)
		} else {
			w("| broker limit (ProducerPerformance → target ‖ ConsumerPerformance ← source) | — | — | %.1f | %.0f | — | — | — | — | — |\n", l.mibps(), l.rps())
		}
	}
	if f := r.Floor; f != nil {
		w("| no replication: produce and consume on the source (floor of the latency measurement) | — | — | — | — | — | — | — | %s | %s |\n", ms(f.P50), ms(f.P99))
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
				note = " — above 100%: the perf tools, not the brokers, bound that row (see below)"
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
	w("  configuration; MirrorMaker 2 gets the same offered rate.\n")
	w("- **Broker limit**: %d `ProducerPerformance` processes (acks=all, idempotent, linger 2 ms, batch 1 MiB, no\n", r.LimitClients)
	w("  compression) writing the same number of records in all to a fresh target topic with all the workload's\n")
	w("  partitions while %d `ConsumerPerformance` processes (our worker's fetch settings, each in its own group)\n", r.LimitClients)
	w("  read as many from the preloaded source topic, all at the same time; the limit is the lower of the summed\n")
	w("  producer and summed consumer rates (the consumers' fetch rate, without the group join). Several clients,\n")
	w("  because one Java client is often bound by itself, not by the broker. Each is a fresh JVM that does not\n")
	w("  run long enough at this volume for full JIT warm-up, which understates the limit; `-bytes 2GiB` helps.\n")
	w("  When our service copies faster than this figure, the brokers evidently sustain at least our rate, and\n")
	w("  the perf tools (JVM clients on 2 cores shared with both brokers) are what the row measures.\n")
	w("- **MirrorMaker 2**: `org.apache.kafka.connect.mirror.MirrorMaker` (connect-mirror 4.1.1) in dedicated\n")
	w("  mode with `test/bench-replication/mm2.properties` (every setting explained there), tasks.max = %d,\n", r.Topics*r.Partitions)
	w("  full JIT, heap %s. Ours: `replicator serve` + `replicator worker` processes, PostgreSQL on the same\n", r.MM2Heap)
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
