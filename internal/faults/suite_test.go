//go:build faults

package faults

// The fault suite (make test-faults): `replicator serve` ×2, `replicator
// worker` ×3, a throwaway PostgreSQL and two real Kafka clusters
// (test/faults/run.sh starts them), a continuous checksummed stream, and
// seeded random faults of every kind, each followed by a check of what
// arrived. It writes its table into RELIABILITY.md.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/pgserver"
)

const (
	region      = "us-east-1"
	account     = "666666666666"
	accessKeyID = "AKIDFAULTSUITE000001"
	secretKey   = "faults-secret-key"
	workerToken = "faults-worker-token"
	topic       = "faults.stream"
	group       = "faults-group"
	numServe    = 2
	numWorkers  = 3
)

type env struct {
	t      *testing.T
	root   string
	logDir string
	bin    string
	pg     *pgserver.Server
	base   []string // settings every process gets

	source, target string
	kafkaSh        string

	serveAddrs [numServe]string
	serves     [numServe]*proc.Proc
	workers    [numWorkers]*proc.Proc
	workerGen  [numWorkers]int
	sdks       [numServe]*awskafka.Client
	arn        string
	ttl        time.Duration
	rng        *rand.Rand
	t0         time.Time
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func scale(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REPLICATOR_TEST_TIME_SCALE"), 64); err == nil && f > 0 {
		return time.Duration(float64(d) * f)
	}
	return d
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "faults: [%6.1fs] %s\n", time.Since(e.t0).Seconds(), fmt.Sprintf(format, args...))
}

// kafkaEnv reads the env file kafka.sh up wrote.
func kafkaEnv(root string) (map[string]string, error) {
	run := os.Getenv("KAFKA_RUN")
	if run == "" {
		return nil, errors.New("KAFKA_RUN is not set (run test/faults/run.sh)")
	}
	if !filepath.IsAbs(run) {
		run = filepath.Join(root, run)
	}
	b, err := os.ReadFile(filepath.Join(run, "env"))
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			vals[k] = v
		}
	}
	return vals, nil
}

func TestFaults(t *testing.T) {
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kafkaEnv(root)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Kafka clusters: %v", err)
		}
		t.Skipf("no Kafka clusters: %v", err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FAULTS_SEED: %v", err)
		}
	}
	ttl, err := time.ParseDuration(envOr("FAULTS_LEASE_TTL", "5s"))
	if err != nil {
		t.Fatal(err)
	}
	rate, _ := strconv.ParseFloat(envOr("FAULTS_RATE", "1000"), 64)
	rounds, _ := strconv.Atoi(envOr("FAULTS_ROUNDS", "2"))
	partitions := int32(6)

	e := &env{t: t, root: root, source: kv["KAFKA_SOURCE"], target: kv["KAFKA_TARGET"], ttl: ttl,
		kafkaSh: filepath.Join(root, "test", "kafka", "kafka.sh"), rng: rand.New(rand.NewPCG(seed, seed>>1|1)), t0: time.Now()}
	e.logf("seed %d (FAULTS_SEED=%d reproduces the schedule), lease TTL %s, %0.f records/s over %d partitions, Kafka %s",
		seed, seed, ttl, rate, partitions, kv["KAFKA_VERSION"])
	rep := &Report{Seed: seed, TTL: ttl, Rate: rate, Partitions: partitions, KafkaVersion: kv["KAFKA_VERSION"],
		Command: "make test-faults", Started: time.Now()}

	e.start()
	t.Cleanup(e.stopAll)
	rep.PGVersion = e.pgVersion()

	// The source topic and the stream.
	ctx := context.Background()
	srcCl, err := kgo.NewClient(kgo.SeedBrokers(e.source))
	if err != nil {
		t.Fatal(err)
	}
	defer srcCl.Close()
	if _, err := kadm.NewClient(srcCl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	prod, err := NewProducer(e.source, topic, partitions, 200, rate)
	if err != nil {
		t.Fatal(err)
	}
	prod.Start(seed)
	defer prod.Stop(context.Background())

	e.createReplicator()
	targetTopic := e.waitTargetTopic()
	e.logf("replicating %s → %s", topic, targetTopic)

	chk := NewChecker()
	stopTail := e.tail(targetTopic, chk)
	defer stopTail()
	grp := startGroup(e, partitions)
	defer grp.stop()
	sampler := startSampler(e, grp, partitions)

	// Steady state before the first fault: a few seconds of the stream
	// copied.
	for deadline := time.Now().Add(scale(30 * time.Second)); ; time.Sleep(100 * time.Millisecond) {
		var n int64
		for _, a := range prod.Acked() {
			n += a
		}
		if n >= int64(3*rate) {
			break
		}
		if time.Now().After(deadline) {
			f, last := prod.Failures()
			t.Fatalf("the stream did not start: %d records acknowledged in 30 s, %d failed (%s)", n, f, last)
		}
	}
	if _, err := e.waitRecovered(prod, chk, "start"); err != "" {
		t.Fatalf("replication did not start: %s", err)
	}
	e.logf("steady: %d records copied so far", chk.Summary().Unique)

	// The schedule: every kind of fault `rounds` times, in a seeded order;
	// a broker round restarts the target, then the source.
	var kinds []string
	for range rounds {
		kinds = append(kinds, "worker SIGKILL", "worker SIGKILL", "zombie worker (SIGSTOP past its lease)",
			"PostgreSQL stop/start", "serve replica SIGKILL", "brokers")
	}
	e.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	var schedule []string
	for _, k := range kinds {
		if k == "brokers" {
			schedule = append(schedule, "target broker restart", "source broker restart")
		} else {
			schedule = append(schedule, k)
		}
	}

	for i, kind := range schedule {
		// Faults come one at a time: after the previous recovery, a
		// heartbeat stores the checkpoints of the new owners (the duplicate
		// bound is per fault), then a random moment.
		time.Sleep(1500*time.Millisecond + time.Duration(e.rng.IntN(2500))*time.Millisecond)
		before := chk.Summary()
		fr := FaultResult{N: i + 1, Kind: kind}
		chk.ResetDelays()
		fr.Injected = time.Now()
		fr.Detail = e.inject(kind)
		fr.Restored = time.Now()
		e.logf("fault %d/%d: %s (%s); restored after %.1fs", i+1, len(schedule), kind, fr.Detail, fr.Restored.Sub(fr.Injected).Seconds())
		fr.Recovered, fr.Err = e.waitRecovered(prod, chk, kind)
		fr.Delay = chk.MaxDelay()
		after := chk.Summary()
		fr.Duplicates = after.Duplicates - before.Duplicates
		for _, r := range after.Rewinds[len(before.Rewinds):] {
			fr.MaxSpan = max(fr.MaxSpan, r.Span)
			if strings.HasPrefix(kind, "zombie") && r.At.After(fr.Restored) {
				fr.LateRewinds++
			}
		}
		fr.NewViolations = len(after.Violations) - len(before.Violations)
		rep.Faults = append(rep.Faults, fr)
		if fr.Err != "" {
			e.logf("fault %d: NOT recovered: %s", i+1, fr.Err)
		} else {
			e.logf("fault %d: recovered %.1fs after injection (longest record delay %.1fs); %d duplicates (max span %s, %d zombie runs after it resumed), %d records checked",
				i+1, fr.Recovered.Sub(fr.Injected).Seconds(), fr.Delay.Seconds(), fr.Duplicates, fr.MaxSpan.Round(time.Millisecond), fr.LateRewinds, after.Records)
		}
		if fr.NewViolations > 0 {
			e.logf("fault %d: violations: %q", i+1, after.Violations[len(before.Violations):])
		}
		if fr.Err != "" {
			break
		}
	}

	// The end: stop producing, let everything arrive, then check it all.
	if err := prod.Stop(ctx); err != nil {
		t.Errorf("producer flush: %v", err)
	}
	rep.Ended = time.Now()
	acked := prod.Acked()
	rep.ProducerRate = prod.Rate()
	rep.SourceFailures, rep.SourceLastError = prod.Failures()
	for _, a := range acked {
		rep.Produced += a
	}
	if _, err := e.waitRecovered(prod, chk, "final"); err != "" {
		t.Errorf("final catch-up: %s", err)
	}
	if msg := grp.finish(acked); msg != "" {
		rep.Violations = append(rep.Violations, msg)
	}
	var groupExact bool
	rep.GroupFinal, groupExact = e.waitGroupFinal(chk, partitions)
	if !groupExact {
		rep.Violations = append(rep.Violations, "group offsets not translated to the target end once the group had consumed everything: "+rep.GroupFinal)
	}
	sampler.stop()
	stopTail()

	sum := chk.Summary()
	rep.Checked, rep.Unique, rep.Duplicates, rep.Rewinds, rep.MaxSpan = sum.Records, sum.Unique, sum.Duplicates, len(sum.Rewinds), sum.MaxSpan
	rep.Lost = chk.Missing(acked)
	rep.Violations = append(rep.Violations, sum.Violations...)
	rep.CopyViolations = len(sum.Violations)
	rep.SourceViolations = checkStream(e.source, topic, partitions, acked)
	rep.Violations = append(rep.Violations, rep.SourceViolations...)
	samples := sampler.samples()
	rep.GroupSamples = len(samples)
	rep.GroupViolations = chk.CheckGroup(samples)
	rep.Violations = append(rep.Violations, rep.GroupViolations...)
	for _, r := range sum.Rewinds {
		if r.Span > ttl {
			rep.Violations = append(rep.Violations, fmt.Sprintf("partition %d: duplicates of seq %d..%d span %s of data, over the documented bound (the lease TTL, %s)",
				r.Partition, r.From, r.To, r.Span.Round(time.Millisecond), ttl))
		}
	}
	// Secrets in no log line of the whole run (every restart included).
	logs, _ := filepath.Glob(filepath.Join(e.logDir, "*.log"))
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secret := range []string{secretKey, workerToken} {
			if strings.Contains(string(b), secret) {
				rep.Violations = append(rep.Violations, fmt.Sprintf("a secret appears in %s", f))
			}
		}
		rep.LogBytes += int64(len(b))
	}
	rep.FinalState = e.state()
	if rep.FinalState != "RUNNING" {
		rep.Violations = append(rep.Violations, "final state "+rep.FinalState)
	}
	if rep.ProducerRate < rate/2 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("the stream ran at %.0f records/s, under the minimum %.0f", rep.ProducerRate, rate/2))
	}
	for _, f := range rep.Faults {
		if f.Err != "" {
			rep.Violations = append(rep.Violations, fmt.Sprintf("fault %d (%s) not recovered: %s", f.N, f.Kind, f.Err))
		}
	}
	rep.MinFaults = len(schedule)

	text := rep.Markdown()
	fmt.Fprintln(os.Stderr, "\n"+text)
	if path := envOr("FAULTS_REPORT", filepath.Join(root, "RELIABILITY.md")); path != "-" {
		if err := WriteSection(path, text); err != nil {
			t.Errorf("write %s: %v", path, err)
		} else {
			e.logf("wrote the table into %s", path)
		}
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
	if len(rep.Faults) < len(schedule) {
		t.Errorf("only %d of %d faults ran", len(rep.Faults), len(schedule))
	}
}

// --- the system --------------------------------------------------------------

func (e *env) start() {
	t := e.t
	e.logDir = envOr("FAULTS_LOG_DIR", filepath.Join(e.root, ".cache", "faults-logs"))
	_ = os.RemoveAll(e.logDir)
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	e.bin = filepath.Join(work, "replicator")
	build := exec.Command("go", "build", "-o", e.bin, "./cmd/replicator")
	build.Dir = e.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// PostgreSQL of our own: the suite stops and restarts it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := pgserver.Start(ctx, pgserver.Options{Database: "faults"})
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	e.pg = pg
	e.base = []string{"DATABASE_URL=" + pg.URL(), "REPLICATOR_LOG_LEVEL=" + envOr("FAULTS_LOG_LEVEL", "info"),
		"REPLICATOR_WORKER_TOKEN=" + workerToken}
	migrate := exec.Command(e.bin, "migrate")
	migrate.Env = proc.ChildEnv(e.base...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for i := range numServe {
		addr, err := proc.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		e.serveAddrs[i] = addr
		e.startServe(i)
		e.sdks[i] = awskafka.New(awskafka.Options{Region: region, BaseEndpoint: aws.String("http://" + addr),
			Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, ""),
			Retryer:     aws.NopRetryer{}})
	}
	for i := range numWorkers {
		e.startWorker(i)
	}
	e.logf("system up: PostgreSQL on %d, serve on %s and %s, %d workers; logs in %s",
		pg.Port(), e.serveAddrs[0], e.serveAddrs[1], numWorkers, e.logDir)
}

func (e *env) pgVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.pg.URL())
	if err != nil {
		return "?"
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}

func (e *env) startServe(i int) {
	p, err := proc.Start(fmt.Sprintf("serve%d", i+1), e.logDir, e.bin, []string{"serve"}, proc.ChildEnv(append(e.base,
		"REPLICATOR_LISTEN_ADDR="+e.serveAddrs[i], "REPLICATOR_REGION="+region,
		"REPLICATOR_ACCESS_KEYS="+accessKeyID+":"+secretKey+":"+account,
		"REPLICATOR_LEASE_TTL="+e.ttl.String(), "REPLICATOR_FAILURE_THRESHOLD=30s")...))
	if err != nil {
		e.t.Fatal(err)
	}
	e.serves[i] = p
	if err := p.WaitHTTP("http://"+e.serveAddrs[i]+"/readyz", scale(60*time.Second)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) startWorker(i int) {
	e.workerGen[i]++
	addr, err := proc.FreeAddr()
	if err != nil {
		e.t.Fatal(err)
	}
	urls := "http://" + e.serveAddrs[0] + ",http://" + e.serveAddrs[1]
	if i%2 == 1 {
		urls = "http://" + e.serveAddrs[1] + ",http://" + e.serveAddrs[0]
	}
	p, err := proc.Start(fmt.Sprintf("worker%d", i+1), e.logDir, e.bin, []string{"worker"}, proc.ChildEnv(append(e.base,
		"REPLICATOR_CONTROL_PLANE_URL="+urls,
		fmt.Sprintf("REPLICATOR_WORKER_ID=fw%d-gen%d", i+1, e.workerGen[i]),
		"REPLICATOR_WORKER_LISTEN_ADDR="+addr)...))
	if err != nil {
		e.t.Fatal(err)
	}
	e.workers[i] = p
	if err := p.WaitHTTP("http://"+addr+"/healthz", scale(30*time.Second)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) stopAll() {
	for _, w := range e.workers {
		if w != nil {
			w.Stop(15 * time.Second)
		}
	}
	for _, s := range e.serves {
		if s != nil {
			s.Stop(15 * time.Second)
		}
	}
	if e.pg != nil {
		_ = e.pg.Stop()
	}
}

// sdk returns a client of a serve replica that answers.
func (e *env) describe() (*awskafka.DescribeReplicatorOutput, error) {
	var last error
	for i := range numServe {
		if e.serves[i] == nil || e.serves[i].Exited() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := e.sdks[i].DescribeReplicator(ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &e.arn})
		cancel()
		if err == nil {
			return d, nil
		}
		last = err
	}
	return nil, last
}

func (e *env) state() string {
	d, err := e.describe()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	s := string(d.ReplicatorState)
	if d.StateInfo != nil && s != "RUNNING" {
		s += " (" + aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message) + ")"
	}
	return s
}

func (e *env) createReplicator() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.sdks[0].CreateReplicator(ctx, &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String("faults"),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::" + account + ":role/faults"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("source"), BootstrapBrokerString: aws.String(e.source)}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("target"), BootstrapBrokerString: aws.String(e.target)}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String("source"), TargetKafkaClusterId: aws.String("target"),
			TargetCompressionType: types.TargetCompressionTypeNone,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: []string{`faults\..*`},
				StartingPosition:                &types.ReplicationStartingPosition{Type: types.ReplicationStartingPositionTypeEarliest},
				CopyTopicConfigurations:         aws.Bool(true),
				CopyAccessControlListsForTopics: aws.Bool(false),
				DetectAndCopyNewTopics:          aws.Bool(true)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{`faults-.*`},
				SynchroniseConsumerGroupOffsets: aws.Bool(true), DetectAndCopyNewConsumerGroups: aws.Bool(true)},
		}},
	})
	if err != nil {
		e.t.Fatalf("CreateReplicator: %v", err)
	}
	e.arn = aws.ToString(out.ReplicatorArn)
}

func (e *env) waitTargetTopic() string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.target))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(scale(60 * time.Second))
	for time.Now().Before(deadline) {
		td, err := adm.ListTopics(context.Background())
		if err == nil {
			for _, n := range td.Names() {
				if strings.HasSuffix(n, "."+topic) || n == topic {
					return n
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("no copy of %s on the target within 60 s; state %s", topic, e.state())
	return ""
}

// tail reads the target topic into the checker until stopped.
func (e *env) tail(targetTopic string, chk *Checker) (stop func()) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.target), kgo.ConsumeTopics(targetTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(chk.Observe)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			cl.Close()
		})
	}
}

// --- faults -------------------------------------------------------------------

func (e *env) sleepRand(minMs, maxMs int) time.Duration {
	d := time.Duration(minMs+e.rng.IntN(maxMs-minMs+1)) * time.Millisecond
	time.Sleep(d)
	return d
}

// inject applies one fault and undoes it; it returns what it did.
func (e *env) inject(kind string) string {
	t := e.t
	switch kind {
	case "worker SIGKILL":
		i := e.busyWorker()
		e.workers[i].Kill()
		d := e.sleepRand(500, 3000)
		e.startWorker(i)
		return fmt.Sprintf("worker%d killed, restarted after %.1fs", i+1, d.Seconds())
	case "zombie worker (SIGSTOP past its lease)":
		i := e.busyWorker()
		if err := e.workers[i].Pause(); err != nil {
			t.Fatal(err)
		}
		d := e.ttl + e.sleepRand(1000, 3000)
		time.Sleep(e.ttl)
		if err := e.workers[i].Resume(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("worker%d paused %.1fs (TTL %s), resumed", i+1, d.Seconds(), e.ttl)
	case "PostgreSQL stop/start":
		if err := e.pg.Halt("fast"); err != nil {
			t.Fatal(err)
		}
		d := e.sleepRand(2000, 8000)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.pg.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("down %.1fs", d.Seconds())
	case "serve replica SIGKILL":
		i := e.rng.IntN(numServe)
		e.serves[i].Kill()
		d := e.sleepRand(1000, 4000)
		e.startServe(i)
		return fmt.Sprintf("serve%d killed, restarted after %.1fs", i+1, d.Seconds())
	case "target broker restart", "source broker restart":
		name := strings.Fields(kind)[0]
		t0 := time.Now()
		e.kafka("stop", name)
		stopped := time.Since(t0)
		d := e.sleepRand(1000, 3000)
		t1 := time.Now()
		e.kafka("start", name)
		return fmt.Sprintf("stop %.1fs, down %.1fs, start %.1fs", stopped.Seconds(), d.Seconds(), time.Since(t1).Seconds())
	}
	t.Fatalf("unknown fault %q", kind)
	return ""
}

// busyWorker picks, at random, one of the workers that hold partition
// jobs (a worker holding none would make a fault that tests nothing).
func (e *env) busyWorker() int {
	var busy []int
	for i := range numServe {
		req, _ := http.NewRequest("GET", "http://"+e.serveAddrs[i]+"/v1/workers", nil)
		req.Header.Set("Authorization", "Bearer "+workerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var out struct {
			Workers []fleet.WorkerInfo `json:"workers"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			continue
		}
		for _, w := range out.Workers {
			parts := 0
			for _, j := range w.Jobs {
				if j.Kind == fleet.KindPartition {
					parts++
				}
			}
			for n := range numWorkers {
				if parts > 0 && w.ID == fmt.Sprintf("fw%d-gen%d", n+1, e.workerGen[n]) {
					busy = append(busy, n)
				}
			}
		}
		break
	}
	if len(busy) == 0 {
		return e.rng.IntN(numWorkers)
	}
	sort.Ints(busy)
	return busy[e.rng.IntN(len(busy))]
}

func (e *env) kafka(args ...string) {
	cmd := exec.Command("bash", append([]string{e.kafkaSh}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("kafka.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitRecovered waits until the target holds every record produced so far
// (handed to the producer: records it still buffers while the source is
// down count too) and the replicator is RUNNING. It returns when that held,
// or why it did not.
func (e *env) waitRecovered(prod *Producer, chk *Checker, what string) (time.Time, string) {
	want := prod.Produced()
	deadline := time.Now().Add(scale(120 * time.Second))
	var st string
	for {
		if chk.CaughtUp(want) {
			if st = e.state(); st == "RUNNING" {
				return time.Now(), ""
			}
		}
		if time.Now().After(deadline) {
			have := chk.Next(int32(len(want)))
			return time.Time{}, fmt.Sprintf("after %s: not caught up within %s: target has %v of %v; state %s", what, scale(120*time.Second), have, want, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- the consumer group ------------------------------------------------------------

// groupConsumer consumes the source topic in the group and commits what it
// consumed every second; committed holds what the source acknowledged.
type groupConsumer struct {
	cl        *kgo.Client
	mu        sync.Mutex
	committed map[int32]int64
	cancel    context.CancelFunc
	done      chan struct{}
}

func startGroup(e *env, partitions int32) *groupConsumer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.source), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupConsumer{cl: cl, committed: map[int32]int64{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		last := time.Now()
		for ctx.Err() == nil {
			// A bounded poll, so that the last records are committed even
			// when no more arrive.
			pctx, pc := context.WithTimeout(ctx, 500*time.Millisecond)
			cl.PollFetches(pctx)
			pc()
			if time.Since(last) >= time.Second {
				last = time.Now()
				g.commit(ctx)
			}
		}
	}()
	return g
}

func (g *groupConsumer) commit(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	g.cl.CommitUncommittedOffsets(cctx)
	// What the group has committed, as the source says.
	resp, err := kadm.NewClient(g.cl).FetchOffsets(cctx, group)
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == topic && o.At > g.committed[o.Partition] {
			g.committed[o.Partition] = o.At
		}
	})
}

func (g *groupConsumer) snapshot() map[int32]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[int32]int64, len(g.committed))
	for p, o := range g.committed {
		out[p] = o
	}
	return out
}

// finish waits until the group has consumed and committed all of acked,
// and stops it. It returns what is missing, if anything.
func (g *groupConsumer) finish(acked []int64) string {
	defer g.stop()
	deadline := time.Now().Add(scale(60 * time.Second))
	for {
		c := g.snapshot()
		var short []string
		for p, n := range acked {
			if c[int32(p)] < n {
				short = append(short, fmt.Sprintf("partition %d committed %d of %d", p, c[int32(p)], n))
			}
		}
		if len(short) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return "the test's consumer group did not consume everything on the source within 60 s: " + strings.Join(short, ", ")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (g *groupConsumer) stop() {
	g.cancel()
	<-g.done
	g.cl.Close()
}

// sampler reads the group's translated offsets on the target twice a
// second, and the source commits right after.
type sampler struct {
	mu     sync.Mutex
	out    []GroupSample
	cancel context.CancelFunc
	done   chan struct{}
}

func startSampler(e *env, g *groupConsumer, partitions int32) *sampler {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.target))
	if err != nil {
		e.t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer cl.Close()
		for ctx.Err() == nil {
			rctx, rc := context.WithTimeout(ctx, 5*time.Second)
			resp, err := adm.FetchOffsets(rctx, group)
			rc()
			at := time.Now()
			if err == nil {
				committed := g.snapshot() // read after the target: never older
				s.mu.Lock()
				resp.Each(func(o kadm.OffsetResponse) {
					if o.Err == nil && strings.HasSuffix(o.Topic, topic) && o.At >= 0 {
						s.out = append(s.out, GroupSample{At: at, Partition: o.Partition, TargetOffset: o.At, SourceCommitted: committed[o.Partition]})
					}
				})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) stop() { s.cancel(); <-s.done }

func (s *sampler) samples() []GroupSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GroupSample(nil), s.out...)
}

// waitGroupFinal waits for the group's target offsets to reach the end of
// the target partitions (the group consumed everything on the source) and
// describes where they ended.
func (e *env) waitGroupFinal(chk *Checker, partitions int32) (string, bool) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.target))
	if err != nil {
		return err.Error(), false
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(scale(60 * time.Second))
	var last string
	for {
		resp, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			exact, total := 0, 0
			var parts []string
			for p := range partitions {
				end := chk.EndOffset(p)
				total++
				o := int64(-1)
				resp.Each(func(r kadm.OffsetResponse) {
					if r.Partition == p && strings.HasSuffix(r.Topic, topic) {
						o = r.At
					}
				})
				if o == end {
					exact++
				}
				parts = append(parts, fmt.Sprintf("%d/%d", o, end))
			}
			last = fmt.Sprintf("%d of %d partitions at the target end (offset/end: %s)", exact, total, strings.Join(parts, " "))
			if exact == total {
				return last, true
			}
		}
		if time.Now().After(deadline) {
			return last + " after 60 s", false
		}
		time.Sleep(500 * time.Millisecond)
	}
}
