// Package fleetbench measures the control plane's lease protocol at fleet
// scale: many jobs, many simulated workers and one PostgreSQL, everything
// through the internal worker HTTP API (see package fleet). It is
// `bench fleet` (make bench-fleet):
//
//	go run ./cmd/bench fleet                                  # 10,000 jobs, 200 workers (a few minutes)
//	go run ./cmd/bench fleet -jobs 1000 -workers 20 -duration 5s -kills 3
//	go run ./cmd/bench fleet -cpuprofile /tmp/fleet           # then go tool pprof /tmp/fleet-heartbeats-full.pprof
//
// It prints a markdown table (metric | measured | goal | met?) on stdout and
// in -out, with details and the machine it ran on; progress goes to stderr.
// Everything it started is stopped on exit, also on Ctrl-C.
//
// The phases, in order:
//
//  1. grant: every worker asks for jobs (POST /internal/v1/acquire) in a
//     closed loop until every job is leased: leases granted per second;
//  2. heartbeats at full load: every worker heartbeats all its leases
//     (with a checkpoint, target checkpoint and progress per partition, like
//     the Kafka engine) back to back: heartbeat requests and lease
//     renewals per second, latency;
//  3. heartbeats at 5 leases per worker: every worker releases all but 5
//     of its leases (POST /internal/v1/release) and the closed loop runs
//     again, as the testing guide defines the figure;
//  4. release and re-grant: the workers give back every lease, the tables
//     are compacted (VACUUM FULL, unless Config.Vacuum is off) so that the
//     stress phases' bloat does not carry over, and the workers take all
//     the jobs again;
//  5. failover: workers run at their normal cadence, in one loop like
//     workers.Worker (heartbeat every min(1s, TTL/4), acquire every
//     500 ms); one at a time a worker stops dead (no release) and the time
//     until every job it held is leased by another worker is measured by
//     polling the jobs table every 50 ms.
package fleetbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/workers"
)

// Config is what the flags of `bench fleet` set.
type Config struct {
	Jobs        int
	Workers     int
	Replicators int
	TTL         time.Duration
	Duration    time.Duration // measured window of each heartbeat phase
	Warmup      time.Duration // before each measured window
	Kills       int
	// SmallLeases is the leases per worker of the second heartbeat phase
	// (the testing guide's figure); 0 skips that phase.
	SmallLeases  int
	GrantTimeout time.Duration
	// Mappings sends a target checkpoint with every checkpoint, as the
	// Kafka engine does (every renewal then also records an offset
	// mapping point).
	Mappings bool
	// Vacuum has the workers release every lease after the closed-loop
	// heartbeat phases and compacts the tables (VACUUM FULL), so that the
	// re-grant and failover phases do not inherit the bloat of the stress
	// phases.
	Vacuum       bool
	DatabaseURL  string
	PoolMaxConns int // 0: the store's default, as `replicator serve`
	// MaxConcurrentAcquires is the control plane's admission limit on
	// acquires (0: its default, as `replicator serve`).
	MaxConcurrentAcquires int
	PGStats               bool
	PGSettings            []string
	// PGLog, if set, receives the throwaway server's log (deadlocks, lock
	// waits with -pg-setting log_lock_waits=on).
	PGLog io.Writer
	// CPUProfile, if set, is a path prefix: each heartbeat phase writes
	// PREFIX-<phase>.pprof (labels side=control-plane|workers|scheduler).
	CPUProfile string
	Command    string // for the report
	Progress   io.Writer
	Logger     *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Jobs < 1:
		return errors.New("-jobs must be at least 1")
	case c.Workers < 2:
		return errors.New("-workers must be at least 2")
	case c.Replicators < 1:
		return errors.New("-replicators must be at least 1")
	case c.TTL < time.Second:
		return errors.New("-ttl must be at least 1s")
	case c.Duration <= 0:
		return errors.New("-duration must be positive")
	case c.Kills < 0 || c.Kills >= c.Workers:
		return errors.New("-kills must be between 0 and -workers minus 1")
	}
	if c.GrantTimeout <= 0 {
		c.GrantTimeout = 5 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Result is everything a run measured.
type Result struct {
	Config      Config
	Machine     bench.Machine
	PGVersion   string
	PGExternal  bool
	PoolMax     int32
	Setup       time.Duration
	Grant       *GrantResult
	Full        *HeartbeatResult // heartbeats, all jobs leased
	Trim        *TrimResult
	Small       *HeartbeatResult // heartbeats, SmallLeases per worker
	Vacuum      *VacuumResult
	Regrant     *GrantResult
	Failover    *FailoverResult
	Interrupted bool // the run ended early (Ctrl-C): the report is partial
	ErrorCount  int
	Errors      []string // the first few error messages
	// LogCount and Logs are the control plane's warnings and errors (the
	// first of each kind).
	LogCount int
	Logs     []string
}

// VacuumResult is the VACUUM FULL between the stress and the failover
// phases.
type VacuumResult struct {
	Released                *TrimResult
	Dead                    int64
	BytesBefore, BytesAfter int64
	Took                    time.Duration
}

func progress(cfg *Config, format string, args ...any) {
	fmt.Fprintf(cfg.Progress, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// Run sets up PostgreSQL, the control plane and the simulated fleet, runs
// the phases and returns what they measured. It stops everything it
// started before it returns, also when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	res := &Result{Config: cfg, Machine: bench.DescribeMachine(), PGExternal: cfg.DatabaseURL != ""}
	capture := newLogCapture(cfg.Logger.Handler())
	cfg.Logger = slog.New(capture)
	defer func() { res.LogCount, res.Logs = capture.result() }()
	start := time.Now()
	e, err := startEnv(ctx, &cfg, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	defer func() {
		progress(&cfg, "cleanup: stopping the control plane and PostgreSQL")
		e.close()
	}()
	res.PGVersion, res.PoolMax = e.pgVersion, e.poolMax
	progress(&cfg, "setup: creating %d replicators and %s jobs", min(cfg.Replicators, cfg.Jobs), bench.Thousands(int64(cfg.Jobs)))
	if err := e.seed(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	f := &fleetRun{cfg: &cfg, env: e, owners: newOwnerTable(), hbEvery: min(time.Second, cfg.TTL/4), errs: &errorLog{}}
	for i := range cfg.Workers {
		c, err := workers.NewClient(e.baseURL, workerToken)
		if err != nil {
			return nil, err
		}
		w := newSimWorker(fmt.Sprintf("%sworker-%03d", namePrefix, i), c, f.owners, cfg.Mappings)
		w.onLost = f.lost
		f.workers = append(f.workers, w)
	}
	if err := f.register(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	res.Setup = time.Since(start)
	progress(&cfg, "setup: done in %s", secs(res.Setup))
	defer func() {
		res.ErrorCount, res.Errors = f.errs.n, f.errs.samples
		res.Interrupted = ctx.Err() != nil
	}()

	if res.Grant, err = f.grant(ctx, "grant"); err != nil {
		return res, err
	}
	if res.Full, err = f.heartbeats(ctx, "heartbeats", profilePath(cfg.CPUProfile, "heartbeats-full")); err != nil {
		return res, err
	}
	if cfg.SmallLeases > 0 {
		if res.Trim, err = f.trim(ctx, cfg.SmallLeases); err != nil {
			return res, err
		}
		name := fmt.Sprintf("heartbeats-%d", cfg.SmallLeases)
		if res.Small, err = f.heartbeats(ctx, name, profilePath(cfg.CPUProfile, name)); err != nil {
			return res, err
		}
		if cfg.Kills > 0 && cfg.Vacuum {
			rel, err := f.trim(ctx, 0)
			if err != nil {
				return res, err
			}
			vs := time.Now()
			dead, before, after, err := e.vacuumFull(ctx)
			if err != nil {
				return res, err
			}
			res.Vacuum = &VacuumResult{Released: rel, Dead: dead, BytesBefore: before, BytesAfter: after, Took: time.Since(vs)}
			progress(&cfg, "[vacuum] VACUUM FULL after the stress phases: %s dead row versions; %.0f MB → %.0f MB; %s",
				bench.Thousands(dead), float64(before)/(1<<20), float64(after)/(1<<20), secs(res.Vacuum.Took))
		}
		if cfg.Kills > 0 {
			if res.Regrant, err = f.grant(ctx, "re-grant"); err != nil {
				return res, err
			}
		}
	}
	if cfg.Kills > 0 {
		if res.Failover, err = f.failover(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

func profilePath(prefix, phase string) string {
	if prefix == "" {
		return ""
	}
	return filepath.Clean(prefix) + "-" + phase + ".pprof"
}
