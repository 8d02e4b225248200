// Package apibench is `bench api` (make bench-api): it measures the read
// path of the MSK Replicator API against a plain PostgreSQL baseline, in one
// run on one machine:
//
//  1. setup: a throwaway PostgreSQL server (or -database-url), the schema,
//     N replicators in one account inserted through the store, pgbench's
//     tables, and the real `replicator serve` process on a loopback port
//     (or, with -inprocess, the same handler inside this process);
//  2. pgbench -S -M prepared with -clients connections (the baseline);
//  3. closed-loop SigV4-signed HTTP load with -clients workers:
//     DescribeReplicator on random ARNs, ListReplicators with a name filter
//     matching ten replicators, ListReplicators' first page of 100;
//  4. a markdown table on stdout (and in -out), with the goal
//     (DescribeReplicator ≥ 0.4 × pgbench -S, p99 < 20 ms) marked met or not.
//
// Progress goes to stderr. Everything it started is stopped on exit,
// including on Ctrl-C.
//
//	go run ./cmd/bench api                       # defaults: 10,000 replicators, 32 clients, 30 s per phase
//	go run ./cmd/bench api -duration 5s -replicators 1000
//	go run ./cmd/bench api -inprocess -cpuprofile /tmp/apibench   # then go tool pprof /tmp/apibench-describe.pprof
package apibench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

type config struct {
	replicators   int
	clients       int
	duration      time.Duration
	warmup        time.Duration
	databaseURL   string
	out           string
	inProcess     bool
	cpuProfile    string
	replicatorBin string
	scenarios     string
	pgbenchScale  int
	seedWorkers   int
	pgSettings    multiFlag
	keep          bool
	command       string // for the report
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const (
	region    = "us-east-1"
	accessKey = "AKIAAPIBENCH00000001"
)

// Main runs the benchmark with the command-line arguments args (after the
// subcommand) and returns the exit code.
func Main(args []string) int {
	var c config
	fs := flag.NewFlagSet("bench api", flag.ExitOnError)
	fs.IntVar(&c.replicators, "replicators", 10000, "replicators to create in the one account")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients: HTTP workers and pgbench connections")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured time of each phase")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured warm-up before each phase")
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL to use (default: start a throwaway server); gets a separate account's replicators and an apibench_pgbench database, removed at the end")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&c.inProcess, "inprocess", false, "serve the API from this process instead of a `replicator serve` process (for -cpuprofile)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process per API phase to PREFIX-<phase>.pprof (use with -inprocess to see the server)")
	fs.StringVar(&c.replicatorBin, "replicator-bin", "", "use this replicator binary instead of building ./cmd/replicator")
	fs.StringVar(&c.scenarios, "scenarios", "pgbench,describe,list-filter,list-page", "phases to run, comma-separated, from pgbench, describe, list-filter, list-page and healthz (the HTTP floor: no auth, no database)")
	fs.IntVar(&c.pgbenchScale, "pgbench-scale", 10, "pgbench -i scale factor")
	fs.IntVar(&c.seedWorkers, "seed-workers", 16, "concurrent inserts while seeding")
	fs.Var(&c.pgSettings, "pg-set", "extra setting key=value for the throwaway PostgreSQL (repeatable)")
	fs.BoolVar(&c.keep, "keep", false, "after the run, keep everything up until Ctrl-C (to poke at it)")
	_ = fs.Parse(args)
	c.command = bench.CommandLine(append([]string{"api"}, args...))
	if fs.NArg() > 0 || c.replicators < 1 || c.clients < 1 || c.duration <= 0 || c.warmup < 0 {
		fmt.Fprintln(os.Stderr, "bench api: bad arguments; see -h")
		return 2
	}
	return run(c)
}

func run(c config) int {
	p := bench.NewProgress(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			p.Printf("interrupted: stopping and cleaning up (this takes a few seconds)")
		case <-finished:
		}
	}()

	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		p.Printf("cleanup done")
	}()
	err := runBench(ctx, c, p, &cleanups)
	switch {
	case err == nil && c.keep:
		return 0
	case ctx.Err() != nil:
		if err != nil && !errors.Is(err, context.Canceled) {
			p.Printf("stopped by the interrupt: %v", err)
		}
		p.Printf("interrupted")
		return 130
	case err != nil:
		p.Printf("FAILED: %v", err)
		return 1
	}
	return 0
}

func runBench(ctx context.Context, c config, p *bench.Progress, cleanups *[]func()) error {
	addCleanup := func(f func()) { *cleanups = append(*cleanups, f) }
	want := map[string]bool{}
	for _, s := range strings.Split(c.scenarios, ",") {
		want[strings.TrimSpace(s)] = true
	}
	machine := bench.DescribeMachine()
	p.Printf("apibench: %s", c.command)
	p.Printf("machine: %s", machine)
	if c.cpuProfile != "" && !c.inProcess {
		p.Printf("note: -cpuprofile without -inprocess profiles only the load generator, not the server")
	}

	bgWatch := bench.CPUWatch{}
	bg0 := bgWatch.Snap()
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	background := bgWatch.Usage(bg0, bgWatch.Snap(), machine.CPUs)
	p.Printf("background load: %s", background)
	if background.OK && background.Machine >= 0.15 {
		p.Printf("WARNING: the machine is not idle (%.2f of %d cores busy before we start anything); results will be pessimistic", background.Machine, machine.CPUs)
	}

	// 1. PostgreSQL.
	var (
		appURL, adminURL string
		postmaster       int
		external         = c.databaseURL != ""
		pgBinDir         string
		account          = "123456789012"
	)
	if external {
		appURL, adminURL = c.databaseURL, c.databaseURL
		account = fmt.Sprintf("99%010d", rand.Int64N(1e10))
		p.Printf("postgres: using -database-url; replicators go to account %s and are deleted at the end", account)
	} else {
		settings := append([]string{"shared_buffers=512MB", fmt.Sprintf("max_connections=%d", max(300, c.clients+100))}, c.pgSettings...)
		p.Printf("postgres: starting a throwaway server (%s)", strings.Join(settings, " "))
		srv, err := pgserver.Start(ctx, pgserver.Options{ExtraConfig: settings})
		if err != nil {
			return err
		}
		addCleanup(func() {
			p.Printf("postgres: stopping the throwaway server")
			if err := srv.Stop(); err != nil {
				p.Printf("postgres: %v", err)
			}
		})
		appURL, adminURL = srv.URL(), srv.AdminURL()
		postmaster = srv.Pid()
		pgBinDir, _ = pgserver.BinDir()
		p.Printf("postgres: listening on 127.0.0.1:%d (postmaster pid %d, dir %s)", srv.Port(), postmaster, srv.Dir())
	}
	if err := postgres.Migrate(ctx, appURL, nil); err != nil {
		return err
	}
	p.Printf("postgres: schema migrated")

	// 2. Seed.
	store, err := postgres.Open(ctx, appURL)
	if err != nil {
		return err
	}
	var pgVersion string
	_ = store.Pool().QueryRow(ctx, "SHOW server_version").Scan(&pgVersion)
	machine.Postgres = "PostgreSQL " + pgVersion
	if external {
		addCleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn, err := pgx.Connect(cctx, appURL)
			if err != nil {
				p.Printf("cleanup: %v", err)
				return
			}
			defer conn.Close(cctx)
			tag, err := conn.Exec(cctx, "DELETE FROM replicators WHERE account_id = $1", account)
			if err != nil {
				p.Printf("cleanup: delete the benchmark's replicators: %v", err)
				return
			}
			p.Printf("cleanup: deleted %d replicators of account %s", tag.RowsAffected(), account)
		})
	}
	p.Printf("seed: inserting %d replicators into account %s with %d concurrent CreateReplicator calls", c.replicators, account, c.seedWorkers)
	seedStart := time.Now()
	step := max(1, c.replicators/10)
	arns, err := Seed(ctx, store, account, region, c.replicators, c.seedWorkers, func(done int) {
		if done%step == 0 || done == c.replicators {
			p.Printf("seed: %d/%d", done, c.replicators)
		}
	})
	if err != nil {
		store.Close()
		return err
	}
	seedTime := time.Since(seedStart)
	p.Printf("seed: %d replicators in %.1fs (%.0f/s); VACUUM ANALYZE", len(arns), seedTime.Seconds(), float64(len(arns))/seedTime.Seconds())
	if _, err := store.Pool().Exec(ctx, "VACUUM ANALYZE replicators, replicator_events"); err != nil {
		store.Close()
		return err
	}
	store.Close()

	// 3. pgbench tables, in their own database.
	var pgbenchBin string
	var pgConn PgConn
	if want["pgbench"] {
		if pgbenchBin, err = FindPgbench(pgBinDir); err != nil {
			return err
		}
		pgConn, err = pgbenchDatabase(ctx, adminURL, external, p, addCleanup, pgbenchBin)
		if err != nil {
			return err
		}
		p.Printf("pgbench: %s -i -s %d (database %s)", pgbenchBin, c.pgbenchScale, pgConn.Database)
		t := time.Now()
		if err := PgbenchInit(ctx, pgbenchBin, pgConn, c.pgbenchScale); err != nil {
			return err
		}
		p.Printf("pgbench: initialized in %.1fs", time.Since(t).Seconds())
	}

	// Start the measurements from a clean slate: no dirty buffers left for
	// the checkpointer to write while we measure.
	if err := checkpoint(ctx, adminURL); err != nil {
		p.Printf("postgres: CHECKPOINT failed (%v); continuing", err)
	} else {
		p.Printf("postgres: CHECKPOINT done")
	}

	// 4. The API server.
	secret := randomHex(20)
	serveCfg := ServeConfig{DatabaseURL: appURL, Region: region, AccessKeys: accessKey + ":" + secret + ":" + account, Log: p}
	var server Server
	servePid := 0
	serverDesc := ""
	if c.inProcess {
		p.Printf("api: starting the handler in this process")
		ip, err := StartInProcess(ctx, serveCfg)
		if err != nil {
			return err
		}
		server = ip
		serverDesc = "API: the `replicator serve` handler inside the apibench process (-inprocess): api.NewServer + api.SigV4 + postgres.Store"
	} else {
		dir, err := os.MkdirTemp("", "apibench-")
		if err != nil {
			return err
		}
		addCleanup(func() { _ = os.RemoveAll(dir) })
		bin := c.replicatorBin
		if bin == "" {
			bin = filepath.Join(dir, "replicator")
			p.Printf("api: go build -o %s ./cmd/replicator", bin)
			if err := bench.BuildReplicator(ctx, bin); err != nil {
				return err
			}
		}
		p.Printf("api: starting %s serve (log %s)", bin, filepath.Join(dir, "serve.log"))
		sp, err := StartServe(bin, dir, serveCfg)
		if err != nil {
			return err
		}
		server, servePid = sp, sp.Pid()
		serverDesc = fmt.Sprintf("API: a separate `replicator serve` process (pid %d, log level warn, built from this tree)", servePid)
		defer func() {
			if n := sp.LogLines(); n > 0 {
				p.Printf("api: the server wrote %d log lines at level warn or above; the last:\n%s", n, proc.Tail(sp.Log, 20))
			}
		}()
	}
	addCleanup(func() {
		p.Printf("api: stopping the server")
		if err := server.Stop(); err != nil {
			p.Printf("api: %v", err)
		}
	})
	p.Printf("api: ready at %s", server.URL())

	client := bench.NewClient(c.clients)
	signer := sigv4.NewSigner(accessKey, secret, region, "kafka")
	load := bench.LoadConfig{BaseURL: server.URL(), Client: client, Signer: signer, Clients: c.clients, Warmup: c.warmup, Duration: c.duration}

	escaped := make([]string, len(arns))
	for i, a := range arns {
		escaped[i] = "/replication/v1/replicators/" + bench.EscapeLabel(a)
	}
	if err := verify(ctx, load, arns, escaped, p); err != nil {
		return err
	}

	// 5. Phases.
	cpuWatch := bench.CPUWatch{ServePid: servePid, PostmasterPid: postmaster}

	// What the server costs with no requests at all (its scheduler's
	// periodic work over all replicators).
	idle0 := cpuWatch.Snap()
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	idle := cpuWatch.Usage(idle0, cpuWatch.Snap(), machine.CPUs)
	p.Printf("idle: no requests for 3s: %s", idle)
	rep := &Report{
		Command:    c.command,
		Machine:    machine,
		Goal:       Goal{MinRatio: 0.4, MaxP99: 20 * time.Millisecond},
		Background: &background,
		InProcess:  c.inProcess,
	}
	dbDesc := "throwaway PostgreSQL " + pgVersion + " on 127.0.0.1 (pgserver: fsync/synchronous_commit off, shared_buffers=512MB)"
	if external {
		dbDesc = "PostgreSQL " + pgVersion + " at -database-url"
	}
	idleLine := ""
	if idle.OK {
		what := "API server"
		if c.inProcess {
			what = "apibench (with the API server)"
		}
		idleLine = fmt.Sprintf("Idle cost: with no requests for 3 s (after start-up), the %s used %.2f cores and PostgreSQL %.2f cores (the scheduler's periodic work over all %d replicators); this continues during every phase below",
			what, map[bool]float64{true: idle.Self, false: idle.Serve}[c.inProcess], idle.Postgres, len(arns))
	}
	rep.Setup = []string{
		fmt.Sprintf("Data: %d replicators in one account (2 apacheKafkaCluster clusters with SCRAM+TLS, 1 replication info, 4 tags), inserted through postgres.Store.CreateReplicator in %.1fs, then VACUUM ANALYZE", len(arns), seedTime.Seconds()),
		"Database: " + dbDesc + "; API and pgbench use the same server",
		serverDesc + "; pgx pool max 16 connections",
		idleLine,
		fmt.Sprintf("Load: %d closed-loop workers over keep-alive HTTP/1.1, each request SigV4-signed (derived key cached per day); %s warm-up then %s measured per phase; phases run one after another; load generator, API and PostgreSQL share the %d CPUs", c.clients, c.warmup, c.duration, machine.CPUs),
	}

	if want["pgbench"] {
		if c.warmup > 0 {
			p.Printf("phase pgbench -S: warm-up %s", c.warmup)
			if _, err := PgbenchSelect(ctx, pgbenchBin, pgConn, c.clients, 2, c.warmup, 0, ""); err != nil {
				return err
			}
		}
		p.Printf("phase pgbench -S -M prepared -c %d -j 2 -T %s: start", c.clients, c.duration)
		logDir, err := os.MkdirTemp("", "apibench-pgbench-")
		if err != nil {
			return err
		}
		addCleanup(func() { _ = os.RemoveAll(logDir) })
		cpuCh := watchCPU(cpuWatch, 0, c.duration, machine.CPUs)
		res, err := PgbenchSelect(ctx, pgbenchBin, pgConn, c.clients, 2, c.duration, 0.1, logDir)
		if err != nil {
			return err
		}
		usage := <-cpuCh
		row := Row{Workload: "pgbench -S -M prepared (baseline)", Clients: c.clients, RPS: res.TPS,
			P50: res.Hist.Quantile(0.5), P99: res.Hist.Quantile(0.99), Errors: res.Failed}
		rep.Rows = append(rep.Rows, row)
		p.Printf("phase pgbench -S: end: %.0f tps, latency average %.3f ms (pgbench), p50 %s ms p99 %s ms (10%% sample, %d tx), %d failed",
			res.TPS, float64(res.LatencyAvg)/1e6, fmtMs(row.P50), fmtMs(row.P99), res.Sampled, res.Failed)
		p.Printf("phase pgbench -S: CPU %s", usage)
		rep.Notes = append(rep.Notes, fmt.Sprintf("pgbench: `pgbench %s`; tps is pgbench's \"without initial connection time\"; its latency average = %.3f ms; p50/p99 from a 10%% sample of its per-transaction log (%d transactions)",
			strings.Join(res.Args, " "), float64(res.LatencyAvg)/1e6, res.Sampled))
		rep.CPU = append(rep.CPU, PhaseCPU{Phase: "pgbench -S", Usage: usage, RPS: res.TPS})
	}

	n := len(arns)
	scenarios := []struct {
		key, workload string
		sc            bench.Scenario
	}{
		{"describe", fmt.Sprintf("DescribeReplicator (random ARN of %d)", n), bench.Scenario{Name: "DescribeReplicator",
			Path: func(r *rand.Rand) (string, string) { return escaped[r.IntN(n)], "" }}},
		{"list-filter", "ListReplicators (maxResults=10, replicatorNameFilter matching ≤10)", bench.Scenario{Name: "ListReplicators(filter)",
			Path: func(r *rand.Rand) (string, string) {
				return "/replication/v1/replicators", "maxResults=10&replicatorNameFilter=" + ReplicatorName(r.IntN(n))[:10]
			}}},
		{"list-page", "ListReplicators (first page, maxResults=100)", bench.Scenario{Name: "ListReplicators(page)",
			Path: func(r *rand.Rand) (string, string) { return "/replication/v1/replicators", "maxResults=100" }}},
		// Not in the default set: the HTTP floor of this machine, with the
		// same client and server but no SigV4 check, no database, no JSON work.
		{"healthz", "GET /healthz (no auth, no database: HTTP floor)", bench.Scenario{Name: "healthz",
			Path: func(r *rand.Rand) (string, string) { return "/healthz", "" }}},
	}
	for _, s := range scenarios {
		if !want[s.key] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p.Printf("phase %s: start (%d clients, warm-up %s, measure %s)", s.sc.Name, c.clients, c.warmup, c.duration)
		var prof *os.File
		if c.cpuProfile != "" {
			path := c.cpuProfile + "-" + s.key + ".pprof"
			if prof, err = os.Create(path); err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		}
		cpuCh := watchCPU(cpuWatch, c.warmup, c.duration, machine.CPUs)
		stopTick := ticker(p, s.sc.Name, c.warmup+c.duration)
		res := bench.Run(ctx, load, s.sc)
		stopTick()
		usage := <-cpuCh
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			p.Printf("phase %s: CPU profile in %s", s.sc.Name, prof.Name())
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		row := Row{Workload: s.workload, Clients: c.clients, RPS: res.Throughput(),
			P50: res.Hist.Quantile(0.5), P99: res.Hist.Quantile(0.99), Errors: res.Errors}
		rep.Rows = append(rep.Rows, row)
		p.Printf("phase %s: end: %d ok in %.2fs = %.0f req/s, p50 %s ms, p90 %s ms, p99 %s ms, max %s ms, %d errors",
			s.sc.Name, res.OK, res.Elapsed.Seconds(), res.Throughput(), fmtMs(row.P50), fmtMs(res.Hist.Quantile(0.9)),
			fmtMs(row.P99), fmtMs(res.Hist.Max()), res.Errors)
		p.Printf("phase %s: CPU %s", s.sc.Name, usage)
		rep.CPU = append(rep.CPU, PhaseCPU{Phase: s.sc.Name, Usage: usage, RPS: res.Throughput()})
		if res.Errors > 0 {
			p.Printf("phase %s: errors: %s; e.g. %s", s.sc.Name, res.ErrorSummary(), res.Sample)
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s errors: %s; first: %s", s.sc.Name, res.ErrorSummary(), truncate(res.Sample, 300)))
		}
	}
	for i := range rep.Rows {
		switch {
		case strings.HasPrefix(rep.Rows[i].Workload, "pgbench"):
			rep.Baseline = &rep.Rows[i]
		case strings.HasPrefix(rep.Rows[i].Workload, "DescribeReplicator"):
			rep.Describe = &rep.Rows[i]
		}
	}
	rep.Notes = append(rep.Notes, "requests/s counts 200 responses only, over the measured window; any other status or transport error is an error; latencies are client-side (sign, send, read the whole body), recorded in a log-linear histogram (≤1.6% bucket error)")

	md := rep.Markdown()
	fmt.Print("\n" + md)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
			return err
		}
		p.Printf("report written to %s", c.out)
	}
	if c.keep {
		p.Printf("-keep: API at %s, database %s; Ctrl-C to clean up", server.URL(), appURL)
		<-ctx.Done()
	}
	return nil
}

// pgbenchDatabase creates the database pgbench runs in (dropped at the end)
// and returns how to reach it.
func pgbenchDatabase(ctx context.Context, adminURL string, external bool, p *bench.Progress, addCleanup func(func()), bin string) (PgConn, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return PgConn{}, errors.New("cannot parse the database URL")
	}
	pc := PgConn{Host: cfg.Host, Port: int(cfg.Port), User: cfg.User, Password: cfg.Password, Database: cfg.Database}
	name := "pgbench"
	if external {
		name = "apibench_pgbench"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return pc, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		if !external {
			return pc, fmt.Errorf("create database %s: %w", name, err)
		}
		// No CREATE DATABASE right: use the given database, drop the tables after.
		p.Printf("pgbench: cannot create a database (%v); using %s and dropping pgbench's tables at the end", err, pc.Database)
		addCleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := PgbenchDrop(cctx, bin, pc); err != nil {
				p.Printf("cleanup: %v", err)
			}
		})
		return pc, nil
	}
	if external {
		addCleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c2, err := pgx.ConnectConfig(cctx, cfg)
			if err != nil {
				p.Printf("cleanup: %v", err)
				return
			}
			defer c2.Close(cctx)
			if _, err := c2.Exec(cctx, "DROP DATABASE IF EXISTS "+name); err != nil {
				p.Printf("cleanup: drop database %s: %v", name, err)
			}
		})
	}
	pc.Database = name
	return pc, nil
}

func checkpoint(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CHECKPOINT")
	return err
}

// verify checks, before any load, that the signer is accepted (200 on a
// Describe and a filtered List with the expected content) and that a wrong
// signature is refused, so that a 200 under load means an authenticated
// answer.
func verify(ctx context.Context, load bench.LoadConfig, arns, escaped []string, p *bench.Progress) error {
	k := len(arns) / 2
	status, body, err := bench.Get(ctx, load.Client, load.Signer, load.BaseURL+escaped[k])
	if err != nil {
		return fmt.Errorf("verify DescribeReplicator: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("verify DescribeReplicator: HTTP %d: %s", status, body)
	}
	var d struct {
		ReplicatorArn       string `json:"replicatorArn"`
		KafkaClusters       []any  `json:"kafkaClusters"`
		ReplicationInfoList []any  `json:"replicationInfoList"`
		Tags                map[string]string
	}
	if err := json.Unmarshal(body, &d); err != nil || d.ReplicatorArn != arns[k] || len(d.KafkaClusters) != 2 || len(d.ReplicationInfoList) != 1 || len(d.Tags) != 4 {
		return fmt.Errorf("verify DescribeReplicator: unexpected answer (%v): %.300s", err, body)
	}
	p.Printf("verify: DescribeReplicator %s → 200, %d bytes, content as seeded", arns[k], len(body))

	prefix := ReplicatorName(k)[:10]
	expect := 0
	for i := range arns {
		if strings.HasPrefix(ReplicatorName(i), prefix) {
			expect++
		}
	}
	status, body, err = bench.Get(ctx, load.Client, load.Signer, load.BaseURL+"/replication/v1/replicators?maxResults=10&replicatorNameFilter="+prefix)
	if err != nil {
		return fmt.Errorf("verify ListReplicators: %w", err)
	}
	var l struct {
		Replicators []struct {
			ReplicatorName string `json:"replicatorName"`
		} `json:"replicators"`
		NextToken string `json:"nextToken"`
	}
	if status != http.StatusOK {
		return fmt.Errorf("verify ListReplicators: HTTP %d: %s", status, body)
	}
	if err := json.Unmarshal(body, &l); err != nil || len(l.Replicators) != min(expect, 10) {
		return fmt.Errorf("verify ListReplicators: want %d replicators, got (%v): %.300s", min(expect, 10), err, body)
	}
	p.Printf("verify: ListReplicators filter %s → 200, %d replicators, %d bytes", prefix, len(l.Replicators), len(body))

	bad := sigv4.NewSigner(load.Signer.AccessKeyID, "wrong-secret", load.Signer.Region, load.Signer.Service)
	status, body, err = bench.Get(ctx, load.Client, bad, load.BaseURL+escaped[k])
	if err != nil {
		return fmt.Errorf("verify wrong signature: %w", err)
	}
	if status == http.StatusOK {
		return errors.New("verify: a request signed with a wrong secret got 200: authentication is not enforced")
	}
	p.Printf("verify: wrong signature → HTTP %d (%s)", status, strings.TrimSpace(truncate(string(body), 120)))
	return nil
}

// watchCPU reads CPU counters after skip and again after d, and sends the
// usage in between.
func watchCPU(w bench.CPUWatch, skip, d time.Duration, cores int) <-chan bench.CPUUsage {
	ch := make(chan bench.CPUUsage, 1)
	// Stay clear of the phase's edges: start a little late, end a little early.
	margin := min(time.Second, d/10)
	go func() {
		time.Sleep(skip + margin)
		a := w.Snap()
		time.Sleep(d - 2*margin)
		b := w.Snap()
		ch <- w.Usage(a, b, cores)
	}()
	return ch
}

// ticker prints a line every 10 s of a long phase.
func ticker(p *bench.Progress, name string, total time.Duration) func() {
	if total < 15*time.Second {
		return func() {}
	}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.Printf("phase %s: running, %.0fs of %.0fs", name, time.Since(start).Seconds(), total.Seconds())
			}
		}
	}()
	return func() { close(done) }
}

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
