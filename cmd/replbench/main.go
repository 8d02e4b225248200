// Command replbench measures replication throughput, latency and cost on
// two real Kafka clusters, in one run, for the same workload:
//
//   - our service (replicator serve + 1 worker, then + 2 workers);
//   - MirrorMaker 2 in dedicated mode (test/bench-replication/mm2.properties);
//   - the limit: the brokers' own perf tools (ProducerPerformance to the
//     target and ConsumerPerformance from the source at the same time).
//
// The source topics are preloaded once; every system copies them to its own
// target topics (ours: <alias>.<topic> with a fresh alias per run; MM2:
// source.<topic>). It reports throughput (first → last record on the
// target), time from create (MM2: process start) to the first record on the
// target, CPU seconds and peak RSS of the replicating processes, and
// end-to-end latency (record timestamp at produce → arrival at a consumer on
// the target) at a steady 50% of our best throughput, as markdown in -out.
// Progress goes to stderr. `make bench-replication` (test/bench-replication/run.sh)
// starts the clusters with full JIT first.
//
//	go run ./cmd/replbench -source 127.0.0.1:39092 -target 127.0.0.1:39093 -bytes 256MiB
//	go run ./cmd/replbench -topics 100 -partitions 4 -bytes 128MiB
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/openreplicator/replicator/pkg/pgserver"
)

type bench struct {
	root, bin, logDir, dbURL string
	source, target           string
	runID                    string
	recordSize               int
	partitions               int32
	topics                   int
	timeout                  time.Duration
	latDur, latWarm          time.Duration
	mm2Heap                  string
	srcAdm, dstAdm           *kadm.Client
	rateHook                 func(rps float64) float64
	latRate                  float64 // fixed latency rate (records/s); 0: 50% of our best
	limitClients             int
}

func (b *bench) tasks() int { return b.topics * int(b.partitions) }

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "replbench: [%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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

func main() {
	if err := run(); err != nil {
		progress("error: %v", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		bytesFlag = flag.String("bytes", "256MiB", "volume each system copies (the issue's full figure is 2GiB)")
		recSize   = flag.Int("record-size", 1024, "record size in bytes")
		parts     = flag.Int("partitions", 12, "partitions per topic")
		topics    = flag.Int("topics", 1, "topics")
		skipMM2   = flag.Bool("skip-mm2", false, "do not run MirrorMaker 2")
		skipLimit = flag.Bool("skip-limit", false, "do not measure the broker limit")
		skipLat   = flag.Bool("skip-latency", false, "do not measure latency")
		workersF  = flag.String("workers", "1,2", "worker counts to run our service with")
		source    = flag.String("source", "127.0.0.1:39092", "source cluster")
		target    = flag.String("target", "127.0.0.1:39093", "target cluster")
		outFile   = flag.String("out", "BENCHMARKS-replication.md", "markdown report")
		timeout   = flag.Duration("timeout", 10*time.Minute, "per-system copy timeout")
		latDur    = flag.Duration("latency-duration", 20*time.Second, "length of each latency run")
		latWarm   = flag.Duration("latency-warmup", 3*time.Second, "first part of a latency run that is not counted")
		appendF   = flag.Bool("append", false, "append the report to -out instead of replacing it (a second workload shape)")
		limitCl   = flag.Int("limit-clients", 1, "perf producers (and consumers) run at once for the broker limit")
		latRateF  = flag.Float64("latency-rate", 0, "records/s of the latency runs (0: 50% of our best throughput)")
		mm2Heap   = flag.String("mm2-heap", "-Xmx2g", "heap of the MirrorMaker 2 JVM")
	)
	flag.Parse()
	total, err := parseBytes(*bytesFlag)
	if err != nil {
		return fmt.Errorf("-bytes: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmdline := "go run ./cmd/replbench " + strings.Join(os.Args[1:], " ")

	root, err := os.Getwd()
	if err != nil {
		return err
	}
	for d := root; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			return fmt.Errorf("no go.mod above %s", root)
		}
	}
	idb := make([]byte, 3)
	_, _ = rand.Read(idb)
	b := &bench{root: root, source: *source, target: *target, runID: hex.EncodeToString(idb), recordSize: *recSize,
		partitions: int32(*parts), topics: *topics, timeout: *timeout, latDur: *latDur, latWarm: *latWarm, mm2Heap: *mm2Heap, latRate: *latRateF, limitClients: *limitCl}
	b.logDir = filepath.Join(root, ".cache", "replbench-logs")
	_ = os.MkdirAll(b.logDir, 0o755)
	n := total / int64(b.recordSize)
	total = n * int64(b.recordSize)
	progress("run %s: %d topic(s) x %d partitions, %d records of %d B (%.0f MiB) per system; source %s, target %s",
		b.runID, b.topics, b.partitions, n, b.recordSize, float64(total)/(1<<20), b.source, b.target)

	var scl, dcl interface{ Close() }
	sc, sadm, err := newClient(b.source)
	if err != nil {
		return err
	}
	scl = sc
	defer scl.Close()
	dc, dadm, err := newClient(b.target)
	if err != nil {
		return err
	}
	dcl = dc
	defer dcl.Close()
	b.srcAdm, b.dstAdm = sadm, dadm

	// Build the binary and start a database.
	b.bin = filepath.Join(b.logDir, "replicator-"+b.runID)
	defer os.Remove(b.bin)
	build := exec.Command("go", "build", "-o", b.bin, "./cmd/replicator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
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
	progress("built %s; database ready", b.bin)

	// Source topics, preloaded once; latency topics per system, empty.
	var src []string
	for i := range b.topics {
		src = append(src, fmt.Sprintf("rb-%s-t%03d", b.runID, i))
	}
	if err := createTopics(ctx, sadm, b.partitions, src...); err != nil {
		return err
	}
	progress("preloading %d records into %d source topic(s)", n, len(src))
	took, err := preload(ctx, b.source, src, b.partitions, n, b.recordSize)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	progress("preloaded in %s (%.1f MiB/s)", took.Round(time.Millisecond), float64(total)/(1<<20)/took.Seconds())
	want, err := endTotal(ctx, sadm, src)
	if err != nil {
		return err
	}
	latTopics := func(sys string) []string {
		if *skipLat {
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

	rep := report{LimitClients: b.limitClients, Cmd: cmdline, Machine: machine(), Bytes: total, Records: n, RecordSize: b.recordSize,
		Topics: b.topics, Partitions: int(b.partitions), LatDur: b.latDur, LatWarm: b.latWarm, MM2Heap: b.mm2Heap}

	// The limit first, while nothing else runs.
	if !*skipLimit {
		progress("broker limit: ProducerPerformance -> target and ConsumerPerformance <- source at the same time")
		consTopic := src[0]
		if b.topics > 1 {
			// The perf consumer reads one topic: a preloaded topic with
			// all the partitions of the workload.
			consTopic = fmt.Sprintf("rb-%s-limit-src", b.runID)
			if err := createTopics(ctx, sadm, int32(b.tasks()), consTopic); err != nil {
				return err
			}
			if _, err := preload(ctx, b.source, []string{consTopic}, int32(b.tasks()), n, b.recordSize); err != nil {
				return err
			}
		}
		dstTopic := fmt.Sprintf("rb-%s-limit-dst", b.runID)
		if err := createTopics(ctx, dadm, int32(b.tasks()), dstTopic); err != nil {
			return err
		}
		l := b.limit(ctx, consTopic, dstTopic, n)
		rep.Limit = &l
		if l.Err != nil {
			progress("  limit: %v", l.Err)
		} else {
			progress("  producer %.1f MiB/s, consumer %.1f MiB/s -> limit %.1f MiB/s", l.ProdMiBps, l.ConsMiBps, l.mibps())
		}
	}

	var bestRps float64
	for _, ws := range strings.Split(*workersF, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil || w < 1 {
			return fmt.Errorf("-workers: %q", ws)
		}
		last := ws == strings.Split(*workersF, ",")[len(strings.Split(*workersF, ","))-1]
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
			return ctx.Err()
		}
	}
	rep.LatRate = bestRps / 2
	if b.latRate > 0 {
		rep.LatRate = b.latRate
	}
	if !*skipLat && rep.LatRate > 0 {
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
	if !*skipMM2 {
		progress("MirrorMaker 2, dedicated mode")
		r := b.mm2(ctx, src, latTopics("mm2"), want, rep.LatRate)
		rep.Systems = append(rep.Systems, r)
		if r.Err != nil {
			progress("  MirrorMaker 2: %v", r.Err)
		}
	}
	md := rep.markdown()
	if *appendF {
		f, err := os.OpenFile(*outFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString("\n" + md)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	} else if err := os.WriteFile(*outFile, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	progress("wrote %s; process logs in %s", *outFile, b.logDir)
	// Leave the clusters clean for the next run.
	cleanup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, adm := range []*kadm.Client{sadm, dadm} {
		if td, err := adm.ListTopics(cleanup); err == nil {
			var mine []string
			for _, t := range td.Names() {
				if strings.Contains(t, "rb-"+b.runID) {
					mine = append(mine, t)
				}
			}
			if len(mine) > 0 {
				_, _ = adm.DeleteTopics(cleanup, mine...)
			}
		}
	}
	return nil
}

// oursWithRate runs our service; when latTopics are given it measures
// latency at 50% of the best throughput seen so far, including this run's.
func (b *bench) oursWithRate(ctx context.Context, workers int, src, latTopics []string, want int64, best *float64) sysResult {
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
