package fleetbench

import (
	"fmt"
	"strings"
	"time"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/bench"
)

// heartbeatGoal is the goal for heartbeat requests per second.
const heartbeatGoal = 2000

// failoverSlack is what the failover goal allows beyond the lease TTL.
const failoverSlack = 2 * time.Second

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Markdown renders the result: the goal table first, then the details.
func (r *Result) Markdown() string {
	var b strings.Builder
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Fleet benchmark: %s jobs, %d simulated workers, one PostgreSQL\n\n", bench.Thousands(int64(c.Jobs)), c.Workers)
	p("Command: `%s`\n\n", c.Command)
	if r.Interrupted {
		p("**Interrupted: only the phases shown here completed.**\n\n")
	}
	where := "a throwaway server started by the benchmark on this machine"
	if r.PGExternal {
		where = "the server at -database-url"
	}
	p("Machine: %s. PostgreSQL %s (%s); the control plane's store pool has %d connections. "+
		"The control plane (worker API and scheduler, in this process), the %d simulated workers (in this process, through HTTP on loopback) "+
		"and PostgreSQL all share these CPUs.\n\n", r.Machine, r.PGVersion, where, r.PoolMax, c.Workers)
	acq := c.MaxConcurrentAcquires
	if acq <= 0 {
		acq = api.DefaultConcurrentAcquires
	}
	p("Lease TTL %s; heartbeat phases: %s measured after %s of warm-up; reports carry a checkpoint%s and a progress object per partition. "+
		"The control plane serves %d acquires at once and sheds those that wait for a slot over 250 ms (503, Retry-After).\n\n",
		c.TTL, c.Duration, c.Warmup, map[bool]string{true: ", a target checkpoint (offset mapping)", false: ""}[c.Mappings], acq)

	p("| metric | measured | goal | met? |\n|---|---|---|---|\n")
	if g := r.Grant; g != nil {
		p("| leases granted/s (%s jobs to %d workers, closed-loop acquire) | %s (all leased in %s) | — | — |\n",
			bench.Thousands(int64(g.Target)), c.Workers, rate(g.Granted, g.Elapsed), secs(g.Elapsed))
	}
	hbRows := func(h *HeartbeatResult, per string) {
		if h == nil {
			return
		}
		rps := perSec(h.Requests, h.Window)
		p("| heartbeat requests/s at %s (%d workers) | %s | ≥ %s/s | %s |\n", per, h.Workers, rate(h.Requests, h.Window),
			bench.Thousands(heartbeatGoal), yesNo(rps >= heartbeatGoal))
		p("| lease renewals/s at %s | %s | — | — |\n", per, rate(h.Renewals, h.Window))
		p("| heartbeat latency p50 / p99 at %s | %s / %s | — | — |\n", per, ms(h.Latency.Quantile(.5)), ms(h.Latency.Quantile(.99)))
	}
	hbRows(r.Small, fmt.Sprintf("%d leases/worker", c.SmallLeases))
	if r.Full != nil {
		hbRows(r.Full, fmt.Sprintf("%s leases/worker", strings.TrimSuffix(fmt.Sprintf("%.1f", r.Full.PerWorker()), ".0")))
	}
	if fo := r.Failover; fo != nil && len(fo.Failovers) > 0 {
		goal := c.TTL + failoverSlack
		p95 := quantile(fo.Failovers, .95)
		p("| failover p95: worker death → all its jobs leased elsewhere (%d kills) | %s | ≤ TTL + 2 s = %s | %s |\n",
			len(fo.Failovers), secs(p95), secs(goal), yesNo(p95 <= goal && !anyTimedOut(fo)))
		p("| failover p50 / max | %s / %s | — | — |\n", secs(quantile(fo.Failovers, .5)), secs(fo.Failovers[len(fo.Failovers)-1]))
	}
	errs, lost := r.errorTotals()
	p("| errors: non-2xx answers or transport errors / leases lost by live workers | %d / %d | 0 / 0 | %s |\n", errs, lost, yesNo(errs == 0 && lost == 0))
	p("| acquires shed by the control plane (503 with Retry-After, asked again later; not errors) | %s | — | — |\n\n", bench.Thousands(r.shedTotal()))

	p("## Details\n\n")
	sqlTable := func(stats []sqlStat) {
		if len(stats) == 0 {
			return
		}
		p("\nPostgreSQL statements by execution time in the measured window (pg_stat_statements):\n\n")
		p("| share | calls | mean | rows | statement |\n|---|---|---|---|---|\n")
		for _, s := range stats {
			q := s.Query
			if len(q) > 110 {
				q = q[:110] + "…"
			}
			p("| %.0f%% | %s | %.2f ms | %s | `%s` |\n", 100*s.Share, bench.Thousands(s.Calls), s.MeanMS, bench.Thousands(s.Rows),
				strings.ReplaceAll(q, "|", "\\|"))
		}
	}
	tables := func(ts []tableStat) {
		if len(ts) == 0 {
			return
		}
		var parts []string
		for _, t := range ts {
			hot := "—"
			if t.Updates > 0 {
				hot = fmt.Sprintf("%.0f%%", 100*float64(t.HOT)/float64(t.Updates))
			}
			parts = append(parts, fmt.Sprintf("%s %s updated (HOT %s), %s inserted, %s deleted; now %s live / %s dead rows, %.1f MB",
				t.Name, bench.Thousands(t.Updates), hot, bench.Thousands(t.Inserts), bench.Thousands(t.Delete), bench.Thousands(t.Live), bench.Thousands(t.Dead),
				float64(t.Bytes)/(1<<20)))
		}
		p("- tables: %s\n", strings.Join(parts, "; "))
	}
	grantDetails := func(title string, g *GrantResult) {
		if g == nil {
			return
		}
		p("### %s\n\n", title)
		p("- %s leases granted in %s to %d workers: %s; %s acquire requests, latency p50 %s, p99 %s, max %s\n",
			bench.Thousands(g.Granted), secs(g.Elapsed), c.Workers, rate(g.Granted, g.Elapsed), bench.Thousands(g.Requests),
			ms(g.Latency.Quantile(.5)), ms(g.Latency.Quantile(.99)), ms(g.Latency.Quantile(1)))
		p("- afterwards each worker held %d to %d jobs; the database shows %s valid leases (want %s)\n",
			g.MinHeld, g.MaxHeld, bench.Thousands(int64(g.DBLeased)), bench.Thousands(int64(g.Target)))
		p("- heartbeats sent meanwhile: %s; errors %d, leases lost %d, revoked %d; acquires shed (503, Retry-After) %s\n",
			bench.Thousands(g.Heartbeats), g.Errors, g.Lost, g.Revoked, bench.Thousands(g.Shed))
		p("- CPU: %s\n", g.CPU)
		sqlTable(g.TopSQL)
		p("\n")
	}
	grantDetails("Grant", r.Grant)
	hbDetails := func(h *HeartbeatResult) {
		if h == nil {
			return
		}
		p("### Heartbeats at %.1f leases per worker (closed loop)\n\n", h.PerWorker())
		p("- %d workers holding %s leases; one heartbeat body is about %s bytes of JSON\n", h.Workers, bench.Thousands(int64(h.Leases)), bench.Thousands(int64(h.BodyBytes)))
		p("- in %s: %s heartbeat requests (%s), %s lease renewals (%s)\n", secs(h.Window), bench.Thousands(h.Requests),
			rate(h.Requests, h.Window), bench.Thousands(h.Renewals), rate(h.Renewals, h.Window))
		p("- latency p50 %s, p90 %s, p99 %s, max %s\n", ms(h.Latency.Quantile(.5)), ms(h.Latency.Quantile(.9)),
			ms(h.Latency.Quantile(.99)), ms(h.Latency.Quantile(1)))
		p("- errors %d, leases lost %d, revoked %d (warm-up included)\n", h.Errors, h.Lost, h.Revoked)
		p("- CPU: %s\n", h.CPU)
		if h.Requests > 0 {
			per := func(cores float64) float64 { return cores * h.Window.Seconds() / float64(h.Requests) * 1000 }
			line := fmt.Sprintf("- CPU per heartbeat: fleetbench process %.2f ms (control plane and simulated workers)", per(h.CPU.Self))
			if h.CPU.PGKnown {
				total := per(h.CPU.Self) + per(h.CPU.Postgres)
				line += fmt.Sprintf(", PostgreSQL %.2f ms; at that cost these %d CPUs, doing nothing else, would answer at most about %s heartbeats/s",
					per(h.CPU.Postgres), r.Machine.CPUs, bench.Thousands(int64(float64(r.Machine.CPUs)*1000/total)))
			}
			p("%s\n", line)
		}
		tables(h.Tables)
		if h.Profile != "" {
			p("- CPU profile: `%s` (`go tool pprof -tagfocus side=control-plane %s`)\n", h.Profile, h.Profile)
		}
		sqlTable(h.TopSQL)
		p("\n")
	}
	hbDetails(r.Full)
	if t := r.Trim; t != nil {
		p("### Release to %d leases per worker\n\n", t.Keep)
		p("- %s leases given back with final checkpoints in %d release requests, %s; errors %d\n\n",
			bench.Thousands(int64(t.Released)), t.Requests, secs(t.Took), t.Errors)
	}
	hbDetails(r.Small)
	if v := r.Vacuum; v != nil {
		p("### Release all, VACUUM FULL\n\n")
		if v.Released != nil {
			p("- the workers released their %s remaining leases (%d requests, %s)\n", bench.Thousands(int64(v.Released.Released)),
				v.Released.Requests, secs(v.Released.Took))
		}
		p("- VACUUM (FULL, ANALYZE) of jobs, checkpoints, offset_mappings and workers: %s dead row versions; %.0f MB → %.0f MB; %s. "+
			"Without it (-vacuum=false) the re-grant and failover phases inherit the stress phases' bloat.\n\n",
			bench.Thousands(v.Dead), float64(v.BytesBefore)/(1<<20), float64(v.BytesAfter)/(1<<20), secs(v.Took))
	}
	grantDetails("Re-grant of the released jobs", r.Regrant)
	if fo := r.Failover; fo != nil {
		p("### Failover\n\n")
		p("%d workers run at a real worker's cadence (heartbeat every %s, acquire every 500 ms, heartbeat at once after a grant). "+
			"One at a time, a worker stops dead (no release) at a random moment; the jobs table is polled every 50 ms until every job "+
			"it held is leased by another worker.\n\n", fo.Workers, min(time.Second, c.TTL/4))
		p("| kill | worker | jobs | its leases expired after | all leased elsewhere after (DB) | last grant seen by a worker |\n|---|---|---|---|---|---|\n")
		for i, k := range fo.Kills {
			f := secs(k.Failover)
			if k.TimedOut {
				f = "not within " + f
			}
			p("| %d | %s | %d | %s | %s | %s |\n", i+1, k.Worker, k.Jobs, secs(k.Expired), f, secs(k.LastGrant))
		}
		p("\n- meanwhile: %s heartbeats (p50 %s, p99 %s, max %s), %s acquire requests (p50 %s, p99 %s, max %s), %s leases granted\n",
			bench.Thousands(fo.Heartbeats), ms(fo.HBLatency.Quantile(.5)), ms(fo.HBLatency.Quantile(.99)), ms(fo.HBLatency.Quantile(1)),
			bench.Thousands(fo.Acquires), ms(fo.AcqLatency.Quantile(.5)), ms(fo.AcqLatency.Quantile(.99)), ms(fo.AcqLatency.Quantile(1)),
			bench.Thousands(fo.Granted))
		p("- errors %d, leases lost by live workers %d, revoked %d; acquires shed (503, Retry-After) %s\n", fo.Errors, fo.Lost, fo.Revoked, bench.Thousands(fo.Shed))
		p("- CPU: %s\n", fo.CPU)
		tables(fo.Tables)
		p("\n")
	}
	if r.ErrorCount > 0 {
		p("### Errors and lost leases\n\n%d in all; the first:\n\n", r.ErrorCount)
		for _, e := range r.Errors {
			p("- `%s`\n", e)
		}
		p("\n")
	}
	if r.LogCount > 0 {
		p("### Control-plane warnings and errors\n\n%d in all; the first of each kind:\n\n", r.LogCount)
		for _, l := range r.Logs {
			p("- `%s`\n", strings.ReplaceAll(l, "`", "'"))
		}
		p("\n")
	}
	p("### Method\n\n")
	p("- Setup (not measured): %d replicators created through the store (each with its metadata job), then their partition jobs and "+
		"checkpoints inserted with SQL, and each replicator's topology marked current; every worker registers with an empty heartbeat "+
		"so that the first acquires share the jobs among all of them.\n", min(c.Replicators, c.Jobs))
	p("- Everything measured goes through the internal worker API over HTTP (workers.Client, one per simulated worker) to the handler " +
		"`replicator serve` uses (api.NewServer), with the scheduler (tick 250 ms) running.\n")
	p("- Heartbeat phases: each worker sends its next heartbeat as soon as the previous one is answered; requests answered in the "+
		"measured window count. The %d-leases figure comes from every worker releasing all but %d of its leases (POST /internal/v1/release).\n",
		c.SmallLeases, c.SmallLeases)
	p("- In the failover phase each simulated worker runs one loop: a select over the acquire ticker and the heartbeat timer, so a slow " +
		"acquire delays the next heartbeat (workers.Worker runs them on two goroutines; the benchmark keeps the harder case).\n")
	p("- The control plane serves a bounded number of acquires at once and sheds those that find no free slot within 250 ms (503 " +
		"ServiceUnavailableException with Retry-After); a shed worker asks again after Retry-After plus up to half of it, as workers.Worker does. " +
		"Shed acquires are counted, not errors. Heartbeats and releases use a second pool of as many connections, reserved for them.\n")
	p("- Failover is measured from the kill, so it includes the part of the TTL left since the victim's last renewal (up to one heartbeat interval less than the TTL) " +
		"and the other workers' acquire interval (500 ms).\n")
	return b.String()
}

func anyTimedOut(fo *FailoverResult) bool {
	for _, k := range fo.Kills {
		if k.TimedOut {
			return true
		}
	}
	return false
}

func (r *Result) shedTotal() int64 {
	var n int64
	for _, g := range []*GrantResult{r.Grant, r.Regrant} {
		if g != nil {
			n += g.Shed
		}
	}
	if r.Failover != nil {
		n += r.Failover.Shed
	}
	return n
}

func (r *Result) errorTotals() (errs, lost int64) {
	for _, g := range []*GrantResult{r.Grant, r.Regrant} {
		if g != nil {
			errs += g.Errors
			lost += g.Lost + int64(max(g.Target-g.DBLeased, 0))
		}
	}
	for _, h := range []*HeartbeatResult{r.Full, r.Small} {
		if h != nil {
			errs += h.Errors
			lost += h.Lost
		}
	}
	if r.Trim != nil {
		errs += r.Trim.Errors
	}
	if fo := r.Failover; fo != nil {
		errs += fo.Errors
		lost += fo.Lost
	}
	return errs, lost
}
