package fleetbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	workerToken = "fleetbench-worker-token"
	accountID   = "123456789012"
	region      = "us-east-1"
	namePrefix  = "fleetbench-"
)

// env is the system under test: PostgreSQL, the store, and the control
// plane (worker API + scheduler) on a loopback port.
type env struct {
	pg          *pgserver.Server // nil with -database-url
	dbURL       string
	store       *postgres.Store
	conn        *pgx.Conn // the benchmark's own queries (setup, polling)
	srv         *http.Server
	baseURL     string
	stopSched   context.CancelFunc
	schedDone   chan struct{}
	cpu         bench.CPUWatch // PostmasterPid set when the server runs here
	pgVersion   string
	pgStats     bool
	poolMax     int32
	replicators []string
	log         *slog.Logger
}

func startEnv(ctx context.Context, cfg *Config, log *slog.Logger) (e *env, err error) {
	e = &env{log: log, schedDone: make(chan struct{})}
	defer func() {
		if err != nil {
			e.close()
			e = nil
		}
	}()
	e.dbURL = cfg.DatabaseURL
	if e.dbURL == "" {
		settings := []string{"max_connections=" + strconv.Itoa(max(300, cfg.PoolMaxConns+100))}
		if cfg.PGStats {
			settings = append(settings, "shared_preload_libraries=pg_stat_statements")
		}
		settings = append(settings, cfg.PGSettings...)
		progress(cfg, "setup: starting a throwaway PostgreSQL (%s)", strings.Join(settings, ", "))
		if e.pg, err = pgserver.Start(ctx, pgserver.Options{ExtraConfig: settings, Log: cfg.PGLog}); err != nil {
			return e, err
		}
		e.dbURL = e.pg.URL()
		e.cpu.PostmasterPid = e.pg.Pid()
	}
	if err := postgres.Migrate(ctx, e.dbURL, nil); err != nil {
		return e, err
	}
	storeURL := e.dbURL
	if cfg.PoolMaxConns > 0 {
		if storeURL, err = withQuery(e.dbURL, "pool_max_conns", strconv.Itoa(cfg.PoolMaxConns)); err != nil {
			return e, err
		}
	}
	if e.store, err = postgres.Open(ctx, storeURL); err != nil {
		return e, err
	}
	e.poolMax = e.store.Pool().Config().MaxConns
	if e.conn, err = pgx.Connect(ctx, e.dbURL); err != nil {
		return e, fmt.Errorf("connect: %w", err)
	}
	if err := e.conn.QueryRow(ctx, `SELECT current_setting('server_version')`).Scan(&e.pgVersion); err != nil {
		return e, err
	}
	var jobs, replicators int
	if err := e.conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM replicators)`).Scan(&jobs, &replicators); err != nil {
		return e, err
	}
	if jobs+replicators > 0 {
		return e, fmt.Errorf("the database already holds %d replicators and %d jobs: fleetbench needs an empty one", replicators, jobs)
	}
	if cfg.PGStats {
		if _, err := e.conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err == nil {
			_, err = e.conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
			e.pgStats = err == nil
		}
		if !e.pgStats {
			progress(cfg, "setup: pg_stat_statements is not available; no per-statement figures")
		}
	}

	handler := api.NewServer(api.Config{Region: region, Store: e.store, Fleet: e.store, WorkerToken: workerToken,
		LeaseTTL: cfg.TTL, Logger: log, MaxConcurrentAcquires: cfg.MaxConcurrentAcquires})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return e, err
	}
	e.baseURL = "http://" + ln.Addr().String()
	// The same server settings as `replicator serve`.
	e.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	// Goroutines inherit profiler labels: every connection goroutine of the
	// server is labelled side=control-plane.
	go pprof.Do(context.Background(), pprof.Labels("side", "control-plane"), func(context.Context) { _ = e.srv.Serve(ln) })

	sctx, cancel := context.WithCancel(context.Background())
	e.stopSched = cancel
	sched := maintenance.New(e.store, maintenance.Config{LeaseTTL: cfg.TTL, Tick: 250 * time.Millisecond, Logger: log})
	go pprof.Do(sctx, pprof.Labels("side", "scheduler"), func(ctx context.Context) {
		defer close(e.schedDone)
		_ = sched.Run(ctx)
	})
	progress(cfg, "setup: PostgreSQL %s, store pool of %d connections, control plane at %s (lease TTL %s)",
		e.pgVersion, e.poolMax, e.baseURL, cfg.TTL)
	return e, nil
}

// cpuUse is the CPU use of a phase, in cores: this process (the control
// plane and the simulated workers), PostgreSQL when it runs on this
// machine, and everything else.
type cpuUse struct {
	bench.CPUUsage
	PGKnown bool
}

func (u cpuUse) String() string {
	s := fmt.Sprintf("fleetbench process (control plane + simulated workers) %.2f cores", u.Self)
	if u.PGKnown {
		s += fmt.Sprintf(", PostgreSQL %.2f cores", u.Postgres)
	}
	if u.OK {
		s += fmt.Sprintf(", other processes %.2f cores", u.Other)
	}
	return s
}

// cpuSince is the CPU use from a to now.
func (e *env) cpuSince(a bench.CPUSnap) cpuUse {
	u := e.cpu.Usage(a, e.cpu.Snap(), runtime.NumCPU())
	return cpuUse{CPUUsage: u, PGKnown: u.OK && e.cpu.PostmasterPid > 0}
}

func withQuery(raw, k, v string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("-database-url is not a URL (postgres://...)")
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close stops everything env started, and with an existing database
// removes what the benchmark created.
func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.srv != nil {
		_ = e.srv.Close()
	}
	if e.stopSched != nil {
		e.stopSched()
		<-e.schedDone
	}
	if e.pg == nil && e.conn != nil && len(e.replicators) > 0 {
		// Jobs, checkpoints, mappings and events go with their replicator.
		_, _ = e.conn.Exec(ctx, `DELETE FROM replicators WHERE id = ANY($1::uuid[])`, e.replicators)
		_, _ = e.conn.Exec(ctx, `DELETE FROM workers WHERE id LIKE $1`, namePrefix+"%")
	}
	if e.conn != nil {
		_ = e.conn.Close(ctx)
	}
	if e.store != nil {
		e.store.Close()
	}
	if e.pg != nil {
		if err := e.pg.Stop(); err != nil {
			e.log.Warn("fleetbench: stopping PostgreSQL", "err", err)
		}
	}
}

// seed creates n replicators through the store (each with its metadata
// job) and then, with plain SQL, their partition jobs and checkpoints, as a
// metadata job's topology report would: jobs in total. Each replicator's
// topology is marked current, so that the scheduler's state machine sees a
// consistent system.
func (e *env) seed(ctx context.Context, cfg *Config) error {
	n := min(cfg.Replicators, cfg.Jobs)
	for i := range n {
		name := fmt.Sprintf("%s%03d", namePrefix, i)
		r := &replicator.Replicator{
			ARN:                     replicator.ARN{Partition: "aws", Region: region, AccountID: accountID, Name: name, ID: uuid.NewString()},
			AccountID:               accountID,
			Name:                    name,
			ServiceExecutionRoleARN: "arn:aws:iam::" + accountID + ":role/FleetBench",
			Spec: replicator.Spec{
				Clusters: []replicator.Cluster{
					{Alias: "src", Apache: &replicator.ApacheKafkaCluster{ClusterID: "src", BootstrapBrokers: "127.0.0.1:1"}},
					{Alias: "dst", Apache: &replicator.ApacheKafkaCluster{ClusterID: "dst", BootstrapBrokers: "127.0.0.1:2"}},
				},
				ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "src", TargetAlias: "dst",
					TargetCompression: replicator.CompressionNone,
					Topics: replicator.TopicReplication{TopicsToReplicate: []string{".*"}, StartingPosition: replicator.StartEarliest,
						TopicNameConfiguration: replicator.NamePrefixed},
					Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
			},
			State:          replicator.StateCreating,
			CurrentVersion: "FLEETBENCH01",
		}
		if err := e.store.CreateReplicator(ctx, r); err != nil {
			return fmt.Errorf("create replicator %s: %w", name, err)
		}
		e.replicators = append(e.replicators, r.ARN.ID)
		// This replicator's partition jobs: its share of the jobs, less its
		// metadata job; topics of 100 partitions each.
		parts := cfg.Jobs/n - 1
		if i < cfg.Jobs%n {
			parts++
		}
		if parts == 0 {
			continue
		}
		const topicSQL = `'topic-' || lpad((g / 100)::text, 3, '0')`
		if _, err := e.conn.Exec(ctx, `INSERT INTO checkpoints (replicator_id, topic, partition, next_offset)
			SELECT $1::uuid, `+topicSQL+`, g % 100, -2 FROM generate_series(0, $2 - 1) g`, r.ARN.ID, parts); err != nil {
			return err
		}
		if _, err := e.conn.Exec(ctx, `INSERT INTO jobs (replicator_id, kind, topic, partition)
			SELECT $1::uuid, 'partition', `+topicSQL+`, g % 100 FROM generate_series(0, $2 - 1) g`, r.ARN.ID, parts); err != nil {
			return err
		}
	}
	if _, err := e.conn.Exec(ctx, `UPDATE replicators SET topology_version = spec_version WHERE id = ANY($1::uuid[])`, e.replicators); err != nil {
		return err
	}
	if _, err := e.conn.Exec(ctx, `ANALYZE replicators, jobs, checkpoints`); err != nil {
		return err
	}
	var got int
	if err := e.conn.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&got); err != nil {
		return err
	}
	if got != cfg.Jobs {
		return fmt.Errorf("seeded %d jobs, want %d", got, cfg.Jobs)
	}
	return nil
}

// jobCounts returns each replicator's number of jobs, for the per-worker
// share.
func (e *env) jobCounts(ctx context.Context) ([]int, error) {
	rows, err := e.conn.Query(ctx, `SELECT count(*) FROM jobs GROUP BY replicator_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// leasedNow counts the jobs with a valid lease, from the database.
func (e *env) leasedNow(ctx context.Context) (int, error) {
	var n int
	err := e.conn.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE owner IS NOT NULL AND lease_expires_at > statement_timestamp()`).Scan(&n)
	return n, err
}

// sqlStat is one statement's figures from pg_stat_statements.
type sqlStat struct {
	Calls   int64
	TotalMS float64
	MeanMS  float64
	Rows    int64
	Share   float64 // of all statements' execution time
	Query   string
}

func (e *env) resetSQLStats(ctx context.Context) {
	if e.pgStats {
		_, _ = e.conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	}
}

// topSQL returns the statements that took the most execution time since
// the last reset, leaving out the benchmark's own.
func (e *env) topSQL(ctx context.Context, n int) []sqlStat {
	if !e.pgStats {
		return nil
	}
	rows, err := e.conn.Query(ctx, `SELECT calls, total_exec_time, mean_exec_time, rows,
			total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0), query
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sqlStat, error) {
		var s sqlStat
		var share *float64
		err := row.Scan(&s.Calls, &s.TotalMS, &s.MeanMS, &s.Rows, &share, &s.Query)
		if share != nil {
			s.Share = *share
		}
		s.Query = strings.Join(strings.Fields(s.Query), " ")
		return s, err
	})
	if err != nil {
		return nil
	}
	return out
}

// tableStat is a table's activity counters and size.
type tableStat struct {
	Name                          string
	Inserts, Updates, HOT, Delete int64
	Dead, Live                    int64
	Bytes                         int64
}

// tableStats reads the counters of the tables the lease protocol writes.
func (e *env) tableStats(ctx context.Context) map[string]tableStat {
	rows, err := e.conn.Query(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, n_live_tup,
			pg_total_relation_size(relid)
		FROM pg_stat_user_tables WHERE relname IN ('jobs', 'checkpoints', 'offset_mappings', 'workers')`)
	if err != nil {
		return nil
	}
	out := map[string]tableStat{}
	for rows.Next() {
		var t tableStat
		if rows.Scan(&t.Name, &t.Inserts, &t.Updates, &t.HOT, &t.Delete, &t.Dead, &t.Live, &t.Bytes) == nil {
			out[t.Name] = t
		}
	}
	rows.Close()
	return out
}

// tableDelta is what happened to each table between two snapshots (dead,
// live and size as of the second).
func tableDelta(a, b map[string]tableStat) []tableStat {
	var out []tableStat
	for _, name := range []string{"jobs", "checkpoints", "offset_mappings", "workers"} {
		y, ok := b[name]
		if !ok {
			continue
		}
		x := a[name]
		out = append(out, tableStat{Name: name, Inserts: y.Inserts - x.Inserts, Updates: y.Updates - x.Updates,
			HOT: y.HOT - x.HOT, Delete: y.Delete - x.Delete, Dead: y.Dead, Live: y.Live, Bytes: y.Bytes})
	}
	return out
}

// vacuumFull compacts the tables the lease protocol writes (VACUUM FULL,
// then ANALYZE) and returns their dead row versions and total size before
// and after.
func (e *env) vacuumFull(ctx context.Context) (dead, before, after int64, err error) {
	for _, t := range e.tableStats(ctx) {
		dead += t.Dead
		before += t.Bytes
	}
	if _, err = e.conn.Exec(ctx, `VACUUM (FULL, ANALYZE) jobs, checkpoints, offset_mappings, workers`); err != nil {
		return
	}
	for _, t := range e.tableStats(ctx) {
		after += t.Bytes
	}
	return
}
