// Command bench runs the project's benchmarks, one subcommand each; every
// one prints a markdown table on stdout and its progress on stderr:
//
//	go run ./cmd/bench api [flags]          signed Describe/List throughput beside pgbench -S (make bench-api)
//	go run ./cmd/bench fleet [flags]        the lease protocol at fleet scale (make bench-fleet)
//	go run ./cmd/bench load [flags]         API load while replicating (make bench-load)
//	go run ./cmd/bench replication [flags]  ours vs MirrorMaker 2 vs the broker limit on real Kafka (make bench-replication)
//
// `go run ./cmd/bench SUBCOMMAND -h` lists a subcommand's flags. The
// benchmarks live in internal/bench/* and share internal/bench (machine
// description, CPU accounting, latency histogram, report helpers).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/openreplicator/replicator/internal/bench/apibench"
	"github.com/openreplicator/replicator/internal/bench/fleetbench"
	"github.com/openreplicator/replicator/internal/bench/loadbench"
	"github.com/openreplicator/replicator/internal/bench/replbench"
)

var subcommands = []struct {
	name, what string
	main       func(args []string) int
}{
	{"api", "signed Describe/List throughput beside pgbench -S, 10,000 replicators (make bench-api)", apibench.Main},
	{"fleet", "10,000 jobs, 200 simulated workers: grants/s, heartbeats/s, failover time (make bench-fleet)", fleetbench.Main},
	{"load", "open-loop API load while replicating: errors, p50/p99, lag (make bench-load)", loadbench.Main},
	{"replication", "our service vs MirrorMaker 2 vs the broker limit on real Kafka (make bench-replication)", replbench.Main},
}

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 {
		for _, s := range subcommands {
			if s.name == args[0] {
				return s.main(args[1:])
			}
		}
	}
	fmt.Fprintln(stderr, "usage: go run ./cmd/bench SUBCOMMAND [flags]   (SUBCOMMAND -h lists its flags)")
	for _, s := range subcommands {
		fmt.Fprintf(stderr, "  %-12s %s\n", s.name, s.what)
	}
	switch {
	case len(args) == 0:
		return 2
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		return 0
	}
	fmt.Fprintf(stderr, "bench: unknown subcommand %q\n", args[0])
	return 2
}
