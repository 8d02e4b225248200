package apibench

import (
	"fmt"
	"strings"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
)

// Row is one line of the results table.
type Row struct {
	Workload string
	Clients  int
	RPS      float64
	P50, P99 time.Duration
	Errors   uint64
	Note     string
}

// Goal is the target for DescribeReplicator relative to pgbench -S.
type Goal struct {
	MinRatio float64       // 0.4
	MaxP99   time.Duration // 20 ms
}

// Report is everything the markdown output shows.
type Report struct {
	Command  string
	Machine  bench.Machine
	Setup    []string // bullet lines
	Rows     []Row
	Goal     Goal
	Baseline *Row // pgbench row, nil if it did not run
	Describe *Row // DescribeReplicator row, nil if it did not run
	Notes    []string
	// CPU is the CPU use per measured phase; Background is the machine's
	// use before the benchmark started anything.
	CPU        []PhaseCPU
	Background *bench.CPUUsage
	InProcess  bool
}

// PhaseCPU is the CPU use of one phase.
type PhaseCPU struct {
	Phase string
	Usage bench.CPUUsage
	RPS   float64 // to express CPU per request
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func thousands(f float64) string { return bench.Thousands(int64(f + 0.5)) }

func metStr(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**NOT met**"
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	b.WriteString("## API benchmark: MSK Replicator API vs. pgbench -S\n\n")
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(&b, "Machine: %d CPUs (nproc; GOMAXPROCS %d), %s, %.1f GiB RAM, %s; Go %s; %s\n\n",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion, m.Postgres)
	if len(r.Setup) > 0 {
		for _, s := range r.Setup {
			if s != "" {
				b.WriteString("- " + s + "\n")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| Workload | clients | requests/s | p50 ms | p99 ms | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d |\n", row.Workload, row.Clients, thousands(row.RPS), ms(row.P50), ms(row.P99), row.Errors)
	}
	b.WriteString("\n")
	if r.Baseline != nil && r.Describe != nil && r.Baseline.RPS > 0 {
		ratio := r.Describe.RPS / r.Baseline.RPS
		okRatio := ratio >= r.Goal.MinRatio
		okP99 := r.Describe.P99 < r.Goal.MaxP99 && r.Describe.P99 > 0
		okErr := r.Describe.Errors == 0
		fmt.Fprintf(&b, "Goal: DescribeReplicator ≥ %.1f × pgbench -S throughput with p99 < %s, at the same %d clients.\n\n",
			r.Goal.MinRatio, r.Goal.MaxP99, r.Describe.Clients)
		fmt.Fprintf(&b, "- Throughput ratio DescribeReplicator / pgbench -S = %s / %s = **%.2f** (goal ≥ %.2f): %s\n",
			thousands(r.Describe.RPS), thousands(r.Baseline.RPS), ratio, r.Goal.MinRatio, metStr(okRatio))
		fmt.Fprintf(&b, "- DescribeReplicator p99 = %s ms (goal < %s ms): %s\n", ms(r.Describe.P99), ms(r.Goal.MaxP99), metStr(okP99))
		if !okErr {
			fmt.Fprintf(&b, "- DescribeReplicator had %d errors: the run is not clean\n", r.Describe.Errors)
		}
		fmt.Fprintf(&b, "- Overall: %s\n\n", metStr(okRatio && okP99 && okErr))
	} else {
		b.WriteString("Goal: not evaluated (the baseline or DescribeReplicator did not run).\n\n")
	}
	if len(r.CPU) > 0 {
		fmt.Fprintf(&b, "CPU use during each measured window, in cores of %d (from /proc; \"other\" is everything not started by this benchmark):\n\n", m.CPUs)
		server := "API server"
		self := "load generator"
		if r.InProcess {
			server, self = "API server (in apibench)", "apibench (API + load generator)"
		}
		fmt.Fprintf(&b, "| Phase | machine busy | %s | PostgreSQL | pgbench | %s | other | API µs/req | PostgreSQL µs/req |\n", server, self)
		b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
		for _, c := range r.CPU {
			u := c.Usage
			if !u.OK {
				fmt.Fprintf(&b, "| %s | n/a | | | | | | | |\n", c.Phase)
				continue
			}
			perReq := func(cores float64) string {
				if c.RPS <= 0 || cores <= 0 {
					return "–"
				}
				return fmt.Sprintf("%.0f", cores*1e6/c.RPS)
			}
			api := u.Serve
			if r.InProcess {
				api = u.Self // includes the load generator
			}
			other := fmt.Sprintf("%.2f", u.Other)
			if d := u.OtherDetail(); d != "" {
				other += " (" + d + ")"
			}
			apiPer := perReq(api)
			if strings.HasPrefix(c.Phase, "pgbench") {
				apiPer = "–"
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n", c.Phase, u.Machine, u.Serve, u.Postgres, u.Pgbench, u.Self, other, apiPer, perReq(u.Postgres))
		}
		b.WriteString("\nProcess CPU times come from /proc/PID/task/*/schedstat (time on CPU), the machine total and irq from /proc/stat; µs/req = cores × 10⁶ / requests per second.\n\n")
	}
	if bg := r.Background; bg != nil && bg.OK {
		fmt.Fprintf(&b, "Background load before the run: %.2f of %d cores busy", bg.Machine, m.CPUs)
		if d := bg.OtherDetail(); d != "" {
			fmt.Fprintf(&b, " (%s)", d)
		}
		if bg.Machine >= 0.15 {
			b.WriteString(" — **the machine was not idle: other work competed with this benchmark, so its numbers are pessimistic**")
		}
		b.WriteString(".\n\n")
	}
	for _, n := range r.Notes {
		b.WriteString("- " + n + "\n")
	}
	return b.String()
}
