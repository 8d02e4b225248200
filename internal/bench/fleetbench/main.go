package fleetbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Main runs the benchmark with the command-line arguments args (after the
// subcommand) and returns the exit code.
func Main(args []string) int {
	var (
		c          Config
		out        string
		pgSettings multiFlag
		verbose    bool
		pgLog      string
	)
	fs := flag.NewFlagSet("bench fleet", flag.ExitOnError)
	fs.IntVar(&c.Jobs, "jobs", 10000, "replication jobs in all (metadata + partition jobs)")
	fs.IntVar(&c.Workers, "workers", 200, "simulated workers")
	fs.IntVar(&c.Replicators, "replicators", 10, "replicators the jobs belong to")
	fs.DurationVar(&c.TTL, "ttl", 10*time.Second, "lease TTL")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured window of each heartbeat phase")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "warm-up before each measured window")
	fs.IntVar(&c.Kills, "kills", 10, "workers killed, one at a time, in the failover phase (0 skips it)")
	fs.IntVar(&c.SmallLeases, "small-leases", 5, "leases per worker of the second heartbeat phase (0 skips it)")
	fs.BoolVar(&c.Mappings, "mappings", true, "send a target checkpoint with each checkpoint, as the Kafka engine does")
	fs.BoolVar(&c.Vacuum, "vacuum", true, "after the closed-loop heartbeat phases, release every lease and VACUUM FULL the tables before the re-grant and failover phases")
	fs.StringVar(&out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "use this (empty, migrated or not) database instead of a throwaway server")
	fs.IntVar(&c.PoolMaxConns, "pool-max-conns", 0, "the control plane's store pool size (0: the store's default, as replicator serve uses)")
	fs.IntVar(&c.MaxConcurrentAcquires, "max-concurrent-acquires", 0, "acquires the control plane serves at once, the rest shed with 503 (0: its default, as replicator serve uses)")
	fs.BoolVar(&c.PGStats, "pg-stats", true, "collect per-statement figures with pg_stat_statements")
	fs.Var(&pgSettings, "pg-setting", "extra setting of the throwaway server, key=value (repeatable)")
	fs.StringVar(&pgLog, "pg-log", "", "write the throwaway server's log to this file")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of each heartbeat phase to PREFIX-<phase>.pprof")
	fs.DurationVar(&c.GrantTimeout, "grant-timeout", 5*time.Minute, "give up when the jobs are not all leased by then")
	fs.BoolVar(&verbose, "v", false, "log the control plane's warnings")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench fleet: unexpected arguments %q\n", fs.Args())
		return 2
	}
	c.PGSettings = pgSettings
	if pgLog != "" {
		f, err := os.Create(pgLog)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench fleet: %v\n", err)
			return 1
		}
		defer f.Close()
		c.PGLog = f
	}
	c.Command = bench.CommandLine(append([]string{"fleet"}, args...))
	c.Progress = os.Stderr
	if verbose {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
		case <-ctx.Done():
			stop() // a second Ctrl-C ends the process at once
			fmt.Fprintln(os.Stderr, "bench fleet: interrupted; cleaning up (Ctrl-C again to exit at once)")
		}
	}()
	res, err := Run(ctx, c)
	close(finished)
	stop()
	if res != nil && res.Grant != nil {
		report := res.Markdown()
		fmt.Print(report)
		if out != "" {
			if werr := os.WriteFile(out, []byte(report), 0o644); werr != nil {
				fmt.Fprintf(os.Stderr, "bench fleet: %v\n", werr)
				return 1
			}
			fmt.Fprintf(os.Stderr, "bench fleet: report written to %s\n", out)
		}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "bench fleet: interrupted")
			return 130
		}
		fmt.Fprintf(os.Stderr, "bench fleet: %v\n", err)
		return 1
	}
	return 0
}
