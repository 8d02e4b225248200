//go:build soak

package soak

// The soak run (make soak): `replicator serve` and two `replicator worker`
// processes over a PostgreSQL of their own, two real single-node Kafka
// clusters (test/soak/run.sh starts them), a steady checksummed stream
// copied the whole time and the API asked every two seconds; every
// SOAK_INTERVAL it samples each process's /metrics and PostgreSQL's tables,
// and at the end it writes the table and the verdicts into RELIABILITY.md.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/faults"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/internal/testutil"
)

const (
	topic       = "soak.stream"
	numWorkers  = 2
	metricToken = "soak-metrics-token"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envDuration(t *testing.T, k, def string) time.Duration {
	d, err := time.ParseDuration(envOr(k, def))
	if err != nil || d <= 0 {
		t.Fatalf("%s: %q is not a positive duration", k, os.Getenv(k))
	}
	return d
}

func TestSoak(t *testing.T) {
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := faults.KafkaEnv(root)
	if err != nil {
		t.Skipf("no Kafka clusters: %v", err)
	}
	duration := envDuration(t, "SOAK_DURATION", "30m")
	interval := envDuration(t, "SOAK_INTERVAL", "1m")
	warmup := envDuration(t, "SOAK_WARMUP", "30s")
	rate, _ := strconv.ParseFloat(envOr("SOAK_RATE", "500"), 64)
	// Offset mapping points are kept for a window (an hour by default);
	// a window shorter than the run shows the table level off within it.
	retention := envDuration(t, "SOAK_MAPPING_RETENTION", "5m")
	const partitions = int32(6)
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "soak: [%7.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}
	logf("%s with a sample every %s, %.0f records/s over %d partitions, Kafka %s", duration, interval, rate, partitions, kv["KAFKA_VERSION"])

	// The metrics token is sent with every scrape and given to every
	// process: where /metrics requires it (REPLICATOR_METRICS_TOKEN) the
	// scrape passes, where it does not the header is ignored.
	sys, err := faults.StartSystem(t.TempDir(), faults.SystemOptions{Root: root,
		LogDir: envOr("SOAK_LOG_DIR", filepath.Join(root, ".cache", "soak-logs")), Database: "soak",
		Serves: 1, Workers: numWorkers, LeaseTTL: 10 * time.Second, LogLevel: envOr("SOAK_LOG_LEVEL", "info"),
		ServeEnv: []string{"REPLICATOR_METRICS_TOKEN=" + metricToken, "REPLICATOR_MAPPING_RETENTION=" + retention.String()}, WorkerEnv: []string{"REPLICATOR_METRICS_TOKEN=" + metricToken},
		Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)

	source, target := kv["KAFKA_SOURCE"], kv["KAFKA_TARGET"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(source))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err = kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	cancel()
	cl.Close()
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	prod, err := faults.NewProducer(source, topic, partitions, 200, rate, 0)
	if err != nil {
		t.Fatal(err)
	}
	prod.Start(uint64(t0.UnixNano()))
	defer prod.Stop(context.Background())
	if err := sys.CreateReplicator(faults.ReplicatorSpec{Name: "soak", Source: source, Target: target,
		Topics: `soak\..*`, Groups: `soak-.*`, CopyTopicConfigs: true}); err != nil {
		t.Fatal(err)
	}
	targetTopic, err := faults.TargetTopic(target, topic, testutil.Scale(60*time.Second))
	if err != nil {
		t.Fatalf("%v; state %s", err, sys.State())
	}
	chk := faults.NewChecker()
	stopTail, err := faults.Tail(target, targetTopic, chk)
	if err != nil {
		t.Fatal(err)
	}
	defer stopTail()

	// API traffic: a Describe every two seconds for the whole run.
	var calls, apiErrs atomic.Int64
	apiCtx, apiStop := context.WithCancel(context.Background())
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		for apiCtx.Err() == nil {
			if _, err := sys.Describe(); err != nil {
				apiErrs.Add(1)
			}
			calls.Add(1)
			select {
			case <-apiCtx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
	defer func() { apiStop(); <-apiDone }()

	time.Sleep(warmup)
	if _, msg := faults.WaitCopied(chk, 0, prod.Produced(), testutil.Scale(2*time.Minute), sys.State); msg != "" {
		t.Fatalf("replication did not start: %s", msg)
	}
	logf("steady after the warm-up: %d records copied", chk.Summary().Unique)

	conn, err := pgx.Connect(context.Background(), sys.PG.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	rep := &Report{Command: "make soak", Started: time.Now(), Interval: interval, Rate: rate, Partitions: partitions,
		KafkaVersion: kv["KAFKA_VERSION"], PGVersion: sys.PGVersion(),
		System: fmt.Sprintf("1 × `replicator serve` (offset mappings kept %s: `REPLICATOR_MAPPING_RETENTION`, so the table levels off within the run), %d × `replicator worker`, lease TTL 10s", retention, numWorkers)}
	type scraped struct {
		name, url string
	}
	procs := []scraped{{"serve", "http://" + sys.ServeAddrs[0] + "/metrics"}}
	for i := range numWorkers {
		procs = append(procs, scraped{fmt.Sprintf("worker%d", i+1), "http://" + sys.WorkerAddrs[i] + "/metrics"})
	}
	byName := map[string]*Series{}
	add := func(name string, unit Unit, slack float64) *Series {
		s := &Series{Name: name, Unit: unit, Slack: slack}
		rep.Series = append(rep.Series, s)
		byName[name] = s
		return s
	}
	for _, p := range procs {
		for _, m := range ProcessMetrics {
			add(p.name+" "+m.Label, m.Unit, m.Slack)
		}
	}
	for _, tb := range Tables {
		add(tb+" size", Bytes, TableSlack)
		add(tb+" dead tuples", Count, DeadTuplesSlack)
	}
	add("PostgreSQL connections", Count, ConnectionsSlack)

	sample := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, p := range procs {
			m, err := ScrapeMetrics(ctx, p.url, metricToken)
			if err != nil {
				rep.Violations = append(rep.Violations, fmt.Sprintf("%s: %v", p.name, err))
				continue
			}
			for _, pm := range ProcessMetrics {
				s := byName[p.name+" "+pm.Label]
				s.Values = append(s.Values, m[pm.Metric])
			}
		}
		tables, conns, err := SampleTables(ctx, conn)
		if err != nil {
			rep.Violations = append(rep.Violations, "PostgreSQL: "+err.Error())
			return
		}
		for _, tb := range Tables {
			st, ok := tables[tb]
			if !ok {
				continue
			}
			byName[tb+" size"].Values = append(byName[tb+" size"].Values, st.Bytes)
			byName[tb+" dead tuples"].Values = append(byName[tb+" dead tuples"].Values, st.Dead)
		}
		byName["PostgreSQL connections"].Values = append(byName["PostgreSQL connections"].Values, float64(conns))
		rep.Times = append(rep.Times, time.Since(rep.Started))
		rep.Copied = append(rep.Copied, chk.Summary().Unique)
		logf("sample %d: serve RSS %s, %v goroutines; worker1 RSS %s, %v goroutines; offset_mappings %s; %d records copied",
			len(rep.Times), Format(Bytes, last(byName["serve RSS"])), last(byName["serve goroutines"]),
			Format(Bytes, last(byName["worker1 RSS"])), last(byName["worker1 goroutines"]),
			Format(Bytes, last(byName["offset_mappings size"])), rep.Copied[len(rep.Copied)-1])
	}
	end := rep.Started.Add(duration)
	for {
		sample()
		next := rep.Started.Add(time.Duration(len(rep.Times)) * interval)
		if next.After(end) {
			break
		}
		time.Sleep(time.Until(next))
	}
	rep.Duration = time.Since(rep.Started)

	// The end: everything produced arrived, once and in order.
	if err := prod.Stop(context.Background()); err != nil {
		t.Errorf("producer flush: %v", err)
	}
	if _, msg := faults.WaitCopied(chk, 0, prod.Produced(), testutil.Scale(2*time.Minute), sys.State); msg != "" {
		rep.Violations = append(rep.Violations, "final catch-up: "+msg)
	}
	for _, a := range prod.Acked() {
		rep.Produced += a
	}
	rep.Lost = chk.Missing(0, prod.Produced(), prod.Refused)
	sum := chk.Summary()
	rep.Duplicates = sum.Duplicates
	rep.Violations = append(rep.Violations, sum.Violations...)
	if rep.Lost > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d acknowledged records never reached the target", rep.Lost))
	}
	rep.APICalls, rep.APIErrors = calls.Load(), apiErrs.Load()
	rep.FinalState = sys.State()
	if rep.FinalState != "RUNNING" {
		rep.Violations = append(rep.Violations, "final state "+rep.FinalState)
	}

	text := rep.Markdown()
	fmt.Fprintln(os.Stderr, "\n"+text)
	if path := envOr("SOAK_REPORT", filepath.Join(root, "RELIABILITY.md")); path != "-" {
		if err := faults.WriteBetween(path, "<!-- soak:begin (written by make soak) -->", "<!-- soak:end -->", text); err != nil {
			t.Errorf("write %s: %v", path, err)
		} else {
			logf("wrote the table into %s", path)
		}
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
	for _, s := range rep.Series {
		if v := Judge(*s, interval); v.Grows {
			t.Errorf("%s grows: %s (%s → %s, %s/h)", s.Name, v.Reason, Format(s.Unit, v.MidMedian), Format(s.Unit, v.EndMedian), Format(s.Unit, v.PerHour))
		}
	}
}

func last(s *Series) float64 {
	if len(s.Values) == 0 {
		return 0
	}
	return s.Values[len(s.Values)-1]
}
