// Package replbench is `bench replication` (make bench-replication): it
// measures replication throughput, latency and cost on
// two real Kafka clusters, in one run, for the same workloads (by default
// 1 topic × 12 partitions, then 100 topics × 4 partitions):
//
//   - the limit: the brokers' own perf tools (several ProducerPerformance
//     processes to the target and several ConsumerPerformance processes from
//     the source at the same time, steady state only; see limit.go);
//   - our service (replicator serve + 1 worker, then + 2 workers);
//   - MirrorMaker 2 in dedicated mode (test/bench-replication/mm2.properties).
//
// The source topics are preloaded once per workload; every system copies
// them to its own target topics (ours: <alias>.<topic> with a fresh alias per
// run; MM2: source.<topic>). It reports throughput (first → last record on
// the target), time from create (MM2: process start) to the first record on
// the target, CPU seconds and peak RSS of the replicating processes, and
// end-to-end latency (record timestamp at produce → arrival at a consumer on
// the target) at a steady 50% of our best throughput. Each workload's
// markdown section goes into -out (BENCHMARKS.md at the repository root by
// default) between <!-- replbench:TOPICSxPARTITIONS:begin --> and
// <!-- replbench:TOPICSxPARTITIONS:end -->, replacing the previous section of
// that workload and leaving the rest of the file alone. Progress goes to
// stderr. `make bench-replication` (test/bench-replication/run.sh) starts the
// clusters with full JIT first.
//
//	go run ./cmd/bench replication -source 127.0.0.1:39092 -target 127.0.0.1:39093 -bytes 2GiB
//	go run ./cmd/bench replication -workloads 100x4 -bytes 128MiB -out /tmp/replication.md
package replbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/pgserver"
)

type harness struct {
	root, bin, logDir, dbURL string
	source, target           string
	runID                    string
	recordSize               int
	partitions               int32
	topics                   int
	timeout                  time.Duration
	latDur, latWarm          time.Duration
	mm2Heap                  string
	workerEnv                []string // extra settings of our workers (KEY=VALUE)
	srcAdm, dstAdm           *kadm.Client
	rateHook                 func(rps float64) float64
	latRate                  float64       // fixed latency rate (records/s); 0: 50% of our best
	limitClients             []clients     // perf producers and consumers of each broker-limit run
	limitWarmup              time.Duration // the perf producers run alone this long first
	limitSteady              time.Duration // steady window of the broker limit
	limitWarm                int           // progress intervals of each perf process not counted
	limitBytes               int64         // initial size of the perf consumers' source topic
	limitMaxBytes            int64         // the most it may grow to
	limitHeadroom            float64       // perf consumers held to this × the producers' rate (0: not held)
	limitHeap                string        // KAFKA_HEAP of the perf tools ("": kafka.sh's default)
}

func (b *harness) tasks() int { return b.topics * int(b.partitions) }

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "replbench: [%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return int64(v * float64(mult)), err
}

// Main runs the benchmark with the command-line arguments args (after the
// subcommand) and returns the exit code.
func Main(args []string) int {
	if err := run(args); err != nil {
		progress("error: %v", err)
		return 1
	}
	return 0
}

type workload struct {
	topics     int
	partitions int32
}

func (w workload) key() string { return fmt.Sprintf("%dx%d", w.topics, w.partitions) }

func parseWorkloads(s string) ([]workload, error) {
	var out []workload
	for _, f := range strings.Split(s, ",") {
		t, p, ok := strings.Cut(strings.TrimSpace(f), "x")
		nt, err1 := strconv.Atoi(t)
		np, err2 := strconv.Atoi(p)
		if !ok || err1 != nil || err2 != nil || nt < 1 || np < 1 {
			return nil, fmt.Errorf("-workloads: %q is not TOPICSxPARTITIONS", f)
		}
		out = append(out, workload{nt, int32(np)})
	}
	return out, nil
}

// clients is one broker-limit configuration: perf producers and consumers.
type clients struct{ producers, consumers int }

func parseClients(s string) ([]clients, error) {
	var out []clients
	for _, f := range strings.Split(s, ",") {
		p, c, ok := strings.Cut(strings.TrimSpace(f), "+")
		np, err1 := strconv.Atoi(p)
		nc, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || np < 1 || nc < 1 {
			return nil, fmt.Errorf("-limit-clients: %q is not PRODUCERS+CONSUMERS", f)
		}
		out = append(out, clients{np, nc})
	}
	return out, nil
}

type options struct {
	total                       int64
	skipMM2, skipLimit, skipLat bool
	workers                     []int
	out                         string
}

func run(args []string) error {
	fs := flag.NewFlagSet("bench replication", flag.ExitOnError)
	var (
		bytesFlag  = fs.String("bytes", "256MiB", "volume each system copies (the issue's full figure is 2GiB)")
		recSize    = fs.Int("record-size", 1024, "record size in bytes")
		workloadsF = fs.String("workloads", "1x12,100x4", "workloads to run one after the other, TOPICSxPARTITIONS, comma-separated")
		parts      = fs.Int("partitions", 0, "partitions per topic (with -topics: run only that workload instead of -workloads)")
		topics     = fs.Int("topics", 0, "topics (with -partitions: run only that workload instead of -workloads)")
		skipMM2    = fs.Bool("skip-mm2", false, "do not run MirrorMaker 2")
		skipLimit  = fs.Bool("skip-limit", false, "do not measure the broker limit")
		skipLat    = fs.Bool("skip-latency", false, "do not measure latency")
		workersF   = fs.String("workers", "1,2", "worker counts to run our service with")
		source     = fs.String("source", "127.0.0.1:39092", "source cluster")
		target     = fs.String("target", "127.0.0.1:39093", "target cluster")
		outFile    = fs.String("out", "", "markdown file to write each workload's section into, between its "+
			"<!-- replbench:TxP:begin/end --> markers (replaced if present, appended if not); default BENCHMARKS.md at the repository root")
		timeout = fs.Duration("timeout", 10*time.Minute, "per-system copy timeout")
		latDur  = fs.Duration("latency-duration", 20*time.Second, "length of each latency run")
		latWarm = fs.Duration("latency-warmup", 3*time.Second, "first part of a latency run that is not counted")
		limitCl = fs.String("limit-clients", "2+2,3+3", "broker limit: PRODUCERS+CONSUMERS perf processes run at once, one run per comma-separated entry; "+
			"the limit is the highest of the runs")
		limitWu    = fs.Duration("limit-warmup", 20*time.Second, "broker limit: the producers run alone this long (JVM start, JIT) before the consumers start")
		limitSt    = fs.Duration("limit-steady", 25*time.Second, "broker limit: steady window (all processes past their warm-up) to measure")
		limitWarm  = fs.Int("limit-warmup-intervals", 1, "broker limit: first ~5 s progress intervals of each perf process not counted (JVM start, JIT, group join)")
		limitBytes = fs.String("limit-bytes", "4GiB", "broker limit: initial size of the source topic the perf consumers read (at least -bytes; grown when they read through it too early)")
		limitMax   = fs.String("limit-max-bytes", "16GiB", "broker limit: the most the source topic of the perf consumers may grow to")
		limitHead  = fs.Float64("limit-consumer-headroom", 1.5, "broker limit: hold the perf consumers together to this × the producers' summed rate of the last interval "+
			"(a consumer_byte_rate quota on the source), as a replicator reads only as fast as it writes; 0: consumers unbounded")
		limitHeap = fs.String("limit-heap", "", "broker limit: heap options of the perf tools' JVMs (KAFKA_HEAP; empty: kafka.sh's default -Xmx512m)")
		latRateF  = fs.Float64("latency-rate", 0, "records/s of the latency runs (0: 50% of our best throughput)")
		mm2Heap   = fs.String("mm2-heap", "-Xmx2g", "heap of the MirrorMaker 2 JVM")
		workerEnv = fs.String("worker-env", "", "extra settings of our workers, comma-separated KEY=VALUE (e.g. REPLICATOR_PRODUCER_LINGER=5ms); printed in the report")
	)
	_ = fs.Parse(args)
	total, err := parseBytes(*bytesFlag)
	if err != nil {
		return fmt.Errorf("-bytes: %w", err)
	}
	lb, err := parseBytes(*limitBytes)
	if err != nil {
		return fmt.Errorf("-limit-bytes: %w", err)
	}
	lmax, err := parseBytes(*limitMax)
	if err != nil {
		return fmt.Errorf("-limit-max-bytes: %w", err)
	}
	lcl, err := parseClients(*limitCl)
	if err != nil {
		return err
	}
	workloads, err := parseWorkloads(*workloadsF)
	if err != nil {
		return err
	}
	if *topics > 0 || *parts > 0 {
		workloads = []workload{{max(*topics, 1), int32(max(*parts, 1))}}
		if *parts == 0 {
			workloads[0].partitions = 12
		}
	}
	var workers []int
	for _, ws := range strings.Split(*workersF, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil || w < 1 {
			return fmt.Errorf("-workers: %q", ws)
		}
		workers = append(workers, w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmdline := bench.CommandLine(append([]string{"replication"}, args...))

	root, err := proc.RepoRoot()
	if err != nil {
		return err
	}
	out := *outFile
	if out == "" {
		out = filepath.Join(root, "BENCHMARKS.md")
	}
	opts := options{total: total, skipMM2: *skipMM2, skipLimit: *skipLimit, skipLat: *skipLat, workers: workers, out: out}
	b := &harness{root: root, source: *source, target: *target, runID: newID(), recordSize: *recSize,
		timeout: *timeout, latDur: *latDur, latWarm: *latWarm, mm2Heap: *mm2Heap, latRate: *latRateF, workerEnv: splitEnv(*workerEnv),
		limitClients: lcl, limitWarmup: *limitWu, limitSteady: *limitSt, limitWarm: *limitWarm, limitBytes: lb, limitMaxBytes: lmax, limitHeadroom: *limitHead, limitHeap: *limitHeap}
	b.logDir = filepath.Join(root, ".cache", "replbench-logs")
	_ = os.MkdirAll(b.logDir, 0o755)

	sc, sadm, err := newClient(b.source)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, dadm, err := newClient(b.target)
	if err != nil {
		return err
	}
	defer dc.Close()
	b.srcAdm, b.dstAdm = sadm, dadm

	// Build the binary and start a database, once for all workloads.
	b.bin = filepath.Join(b.logDir, "replicator-"+b.runID)
	defer os.Remove(b.bin)
	if err := bench.BuildReplicator(ctx, b.bin); err != nil {
		return err
	}
	var pg *pgserver.Server
	if u := os.Getenv("DATABASE_URL"); u != "" {
		b.dbURL = u
	} else {
		pg, err = pgserver.Start(ctx, pgserver.Options{Database: "replbench"})
		if err != nil {
			return fmt.Errorf("PostgreSQL: %w", err)
		}
		defer func() { _ = pg.Stop() }()
		b.dbURL = pg.URL()
	}
	progress("built %s; database ready; workloads %s; report into %s", b.bin, *workloadsF, out)

	var failed []string
	for _, wl := range workloads {
		// Every workload gets its own run ID: topic names, replicator
		// names and aliases never meet those of another workload.
		wb := *b
		wb.runID, wb.topics, wb.partitions = newID(), wl.topics, wl.partitions
		md, err := wb.workload(ctx, opts, cmdline)
		wb.cleanup()
		if md != "" {
			if werr := writeSection(out, wl.key(), md); werr != nil {
				return werr
			}
			fmt.Print(md)
			progress("wrote the %s section of %s; process logs in %s", wl.key(), out, b.logDir)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			progress("workload %s: %v", wl.key(), err)
			failed = append(failed, wl.key()+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return nil
}

func newID() string {
	idb := make([]byte, 3)
	_, _ = rand.Read(idb)
	return hex.EncodeToString(idb)
}

// cleanup deletes this workload's topics on both clusters.
func (b *harness) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, adm := range []*kadm.Client{b.srcAdm, b.dstAdm} {
		if td, err := adm.ListTopics(ctx); err == nil {
			var mine []string
			for _, t := range td.Names() {
				if strings.Contains(t, "rb-"+b.runID) {
					mine = append(mine, t)
				}
			}
			if len(mine) > 0 {
				_, _ = adm.DeleteTopics(ctx, mine...)
			}
		}
	}
}

// workload runs one workload shape: preload, the broker limit, our service
// with each worker count, the latency floor, MirrorMaker 2. It returns the
// markdown section (also when a later step failed, if an earlier one gave
// figures).
func (b *harness) workload(ctx context.Context, o options, cmdline string) (string, error) {
	n := o.total / int64(b.recordSize)
	total := n * int64(b.recordSize)
	progress("workload %dx%d, run %s: %d topic(s) x %d partitions, %d records of %d B (%.0f MiB) per system; source %s, target %s",
		b.topics, b.partitions, b.runID, b.topics, b.partitions, n, b.recordSize, float64(total)/(1<<20), b.source, b.target)
	sadm, dadm := b.srcAdm, b.dstAdm

	// Source topics, preloaded once; latency topics per system, empty.
	var src []string
	for i := range b.topics {
		src = append(src, fmt.Sprintf("rb-%s-t%03d", b.runID, i))
	}
	if err := createTopics(ctx, sadm, b.partitions, src...); err != nil {
		return "", err
	}
	progress("preloading %d records into %d source topic(s)", n, len(src))
	took, err := preload(ctx, b.source, src, b.partitions, n, b.recordSize)
	if err != nil {
		return "", fmt.Errorf("preload: %w", err)
	}
	progress("preloaded in %s (%.1f MiB/s)", took.Round(time.Millisecond), float64(total)/(1<<20)/took.Seconds())
	want, err := endTotal(ctx, sadm, src)
	if err != nil {
		return "", err
	}
	latTopics := func(sys string) []string {
		if o.skipLat {
			return nil
		}
		var out []string
		for i := range b.topics {
			out = append(out, fmt.Sprintf("rb-%s-lat-%s-t%03d", b.runID, sys, i))
		}
		if err := createTopics(ctx, sadm, b.partitions, out...); err != nil {
			progress("create latency topics: %v", err)
		}
		return out
	}

	rep := report{Cmd: cmdline, Machine: machine(), Bytes: total, Records: n, RecordSize: b.recordSize,
		Topics: b.topics, Partitions: int(b.partitions), LatDur: b.latDur, LatWarm: b.latWarm, MM2Heap: b.mm2Heap, WorkerEnv: b.workerEnv}

	// The limit first, while nothing else runs.
	if !o.skipLimit {
		// The perf tools take one topic each: a source topic and a
		// target topic with all the partitions of the workload.
		consTopic := fmt.Sprintf("rb-%s-limit-src", b.runID)
		if err := createTopics(ctx, sadm, int32(b.tasks()), consTopic); err != nil {
			return "", err
		}
		ln := max(n, b.limitBytes/int64(b.recordSize))
		progress("broker limit: preloading %d records (%.0f MiB) into %s", ln, float64(ln*int64(b.recordSize))/(1<<20), consTopic)
		if _, err := preload(ctx, b.source, []string{consTopic}, int32(b.tasks()), ln, b.recordSize); err != nil {
			return "", err
		}
		for i, c := range b.limitClients {
			progress("broker limit: %d ProducerPerformance -> target and %d ConsumerPerformance <- source at the same time", c.producers, c.consumers)
			// A fresh target topic per run; deleted after it, as the
			// producers write gigabytes.
			dstTopic := fmt.Sprintf("rb-%s-limit-dst%d-%dp%dc", b.runID, i+1, c.producers, c.consumers)
			if err := createTopics(ctx, dadm, int32(b.tasks()), dstTopic); err != nil {
				return "", err
			}
			l := b.limit(ctx, consTopic, dstTopic, ln, c)
			ln = max(ln, l.SourceRecords)
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, _ = dadm.DeleteTopics(dctx, dstTopic)
			cancel()
			rep.LimitRuns = append(rep.LimitRuns, l)
			if l.Err != nil {
				progress("  limit: %v", l.Err)
			} else {
				progress("  steady %s: producers %.1f MiB/s, consumers %.1f MiB/s (%s) -> %.1f MiB/s",
					l.Window.Round(100*time.Millisecond), l.prodMiBps(), l.consMiBps(), l.PerProcess, l.mibps())
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
		}
		// The limit is the highest run that succeeded (else the last).
		for i := range rep.LimitRuns {
			l := &rep.LimitRuns[i]
			if rep.Limit == nil || rep.Limit.Err != nil || (l.Err == nil && l.mibps() > rep.Limit.mibps()) {
				rep.Limit = l
			}
		}
		// Gigabytes the systems under test should not find in the page cache's way.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, _ = sadm.DeleteTopics(dctx, consTopic)
		cancel()
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}

	var bestRps float64
	for i, w := range o.workers {
		last := i == len(o.workers)-1
		progress("our service, %d worker(s)", w)
		var lt []string
		if last {
			lt = latTopics(fmt.Sprintf("%dw", w))
		}
		// The latency rate is 50% of our best throughput so far, known
		// once this run's copy is done: measure it inside the run.
		r := b.oursWithRate(ctx, w, src, lt, want, &bestRps)
		rep.Systems = append(rep.Systems, r)
		if r.Err != nil {
			progress("  %s: %v", r.Name, r.Err)
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	rep.LatRate = bestRps / 2
	if b.latRate > 0 {
		rep.LatRate = b.latRate
	}
	if !o.skipLat && rep.LatRate > 0 {
		// The floor of the latency measurement itself: the same producer
		// and consumer on one cluster, nothing replicating.
		progress("latency floor: the same load produced and consumed on the source, no replication")
		lt := latTopics("floor")
		l, err := measureLatency(ctx, b.source, b.source, lt, lt, b.partitions, b.recordSize, rep.LatRate, b.latDur, b.latWarm)
		if err != nil {
			progress("  floor: %v", err)
		} else {
			rep.Floor = &l
			progress("  latency p50 %s p99 %s max %s", l.P50, l.P99, l.Max)
		}
	}
	if !o.skipMM2 {
		progress("MirrorMaker 2, dedicated mode")
		r := b.mm2(ctx, src, latTopics("mm2"), want, rep.LatRate)
		rep.Systems = append(rep.Systems, r)
		if r.Err != nil {
			progress("  MirrorMaker 2: %v", r.Err)
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	return rep.markdown(), nil
}

// oursWithRate runs our service; when latTopics are given it measures
// latency at 50% of the best throughput seen so far, including this run's.
func (b *harness) oursWithRate(ctx context.Context, workers int, src, latTopics []string, want int64, best *float64) sysResult {
	// ours() takes a fixed rate; a negative rate means "50% of best after
	// the copy" and is resolved through b.rateHook.
	b.rateHook = func(r float64) float64 {
		*best = max(*best, r)
		return *best / 2
	}
	defer func() { b.rateHook = nil }()
	rate := 0.0
	if len(latTopics) > 0 {
		rate = -1
	}
	res := b.ours(ctx, workers, src, latTopics, want, rate)
	if res.Err == nil && res.Copy.window() > 0 {
		*best = max(*best, res.Copy.rps())
	}
	return res
}

// splitEnv reads -worker-env.
func splitEnv(v string) []string {
	var out []string
	for _, kv := range strings.Split(v, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			out = append(out, kv)
		}
	}
	return out
}
