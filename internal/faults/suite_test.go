//go:build faults

package faults

// The fault suite (make test-faults): `replicator serve` ×2, `replicator
// worker` ×3, a throwaway PostgreSQL and two real Kafka clusters of three
// brokers each (test/faults/run.sh starts them), TCP proxies in this
// process between the workers and the brokers and between the workers and
// serve, a continuous checksummed stream, and seeded random faults of the
// selected kinds (FAULTS_KINDS), each followed by a check of what arrived.
// It writes its table into RELIABILITY.md.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/internal/testutil"
)

const (
	topic      = "faults.stream"
	group      = "faults-group"
	numServe   = 2
	numWorkers = 3
	recordSize = 200 // payload bytes
)

type env struct {
	t       *testing.T
	root    string
	sys     *System
	kafkaSh string
	kv      map[string]string
	brokers int

	// source and target are what the suite's own clients use (straight to
	// the brokers); sourceRepl and targetRepl what the replicator is given
	// (through the broker proxies when kafka.sh set them up).
	source, target         string
	sourceRepl, targetRepl string
	brokerProxies          []*Proxy
	serveProxies           [numWorkers][numServe]*Proxy

	ttl        time.Duration
	rng        *rand.Rand
	seed       uint64
	t0         time.Time
	rate       float64
	partitions int32

	// The stream: one producer per incarnation (epoch) of the source topic.
	prods       []*Producer
	chk         *Checker
	targetTopic string
	stopTail    func()
	grp         *groupConsumer
	smp         *sampler
	groupChecks int      // samples checked so far
	groupViol   []string // what they found
	patience    time.Duration
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "faults: [%6.1fs] %s\n", time.Since(e.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (e *env) prod() *Producer { return e.prods[len(e.prods)-1] }
func (e *env) epoch() int32    { return e.prod().Epoch() }

func TestFaults(t *testing.T) {
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := KafkaEnv(root)
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
	rounds, _ := strconv.Atoi(envOr("FAULTS_ROUNDS", "1"))
	maxFaults, _ := strconv.Atoi(envOr("FAULTS_MAX", "0"))
	kinds, err := SelectKinds(os.Getenv("FAULTS_KINDS"))
	if err != nil {
		t.Fatal(err)
	}
	brokers, _ := strconv.Atoi(envOr("KAFKA_BROKERS", kv["KAFKA_BROKERS"]))
	brokers = max(brokers, 1)

	e := &env{t: t, root: root, kv: kv, brokers: brokers, source: kv["KAFKA_SOURCE"], target: kv["KAFKA_TARGET"], ttl: ttl,
		kafkaSh: filepath.Join(root, "test", "kafka", "kafka.sh"), rng: rand.New(rand.NewPCG(seed, seed>>1|1)), seed: seed,
		t0: time.Now(), rate: rate, partitions: 6, chk: NewChecker(), patience: 120 * time.Second}
	schedule := Schedule(kinds, rounds, maxFaults, e.rng)
	kindIDs := make([]string, len(kinds))
	for i, k := range kinds {
		kindIDs[i] = k.ID
	}
	replay := fmt.Sprintf("FAULTS_SEED=%d FAULTS_KINDS=%s", seed, strings.Join(kindIDs, ","))
	if rounds != 1 {
		replay += fmt.Sprintf(" FAULTS_ROUNDS=%d", rounds)
	}
	if maxFaults > 0 {
		replay += fmt.Sprintf(" FAULTS_MAX=%d", maxFaults)
	}
	rep := &Report{Seed: seed, TTL: ttl, Rate: rate, Partitions: e.partitions, KafkaVersion: kv["KAFKA_VERSION"], Brokers: brokers,
		Replay: replay, RecordBytes: recordSize + RecordOverhead, Command: "make test-faults", Started: time.Now()}
	e.logf("seed %d (%s reproduces the schedule), lease TTL %s, %0.f records/s over %d partitions, Kafka %s, %d broker(s) per cluster; %d faults: %s",
		seed, replay, ttl, rate, e.partitions, kv["KAFKA_VERSION"], brokers, len(schedule), scheduleIDs(schedule))

	e.startProxies()
	t.Cleanup(e.closeProxies)
	sys, err := StartSystem(t.TempDir(), SystemOptions{Root: root, LogDir: envOr("FAULTS_LOG_DIR", filepath.Join(root, ".cache", "faults-logs")),
		Database: "faults", Serves: numServe, Workers: numWorkers, LeaseTTL: ttl, LogLevel: envOr("FAULTS_LOG_LEVEL", "info"),
		ControlPlane: e.controlPlane, Logf: e.logf})
	if err != nil {
		t.Fatal(err)
	}
	e.sys = sys
	t.Cleanup(sys.Stop)
	rep.PGVersion = sys.PGVersion()
	rep.Proxied = len(e.brokerProxies) > 0

	// The source topic and the stream.
	ctx := context.Background()
	if err := e.createSourceTopic(); err != nil {
		t.Fatal(err)
	}
	if err := e.startProducer(0); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range e.prods {
			_ = p.Stop(context.Background())
		}
	}()
	if err := sys.CreateReplicator(ReplicatorSpec{Name: "faults", Source: e.sourceRepl, Target: e.targetRepl,
		Topics: `faults\..*`, Groups: `faults-.*`, CopyTopicConfigs: true}); err != nil {
		t.Fatal(err)
	}
	if e.targetTopic, err = TargetTopic(e.target, topic, testutil.Scale(60*time.Second)); err != nil {
		t.Fatalf("%v; state %s", err, sys.State())
	}
	e.logf("replicating %s → %s", topic, e.targetTopic)
	if e.stopTail, err = Tail(e.target, e.targetTopic, e.chk); err != nil {
		t.Fatal(err)
	}
	defer func() { e.stopTail() }()
	e.grp = startGroup(e, 0)
	defer func() { e.grp.stop() }()
	e.smp = startSampler(e)

	// Steady state before the first fault: a few seconds of the stream
	// copied.
	for deadline := time.Now().Add(testutil.Scale(30 * time.Second)); ; time.Sleep(100 * time.Millisecond) {
		var n int64
		for _, a := range e.prod().Acked() {
			n += a
		}
		if n >= int64(3*rate) {
			break
		}
		if time.Now().After(deadline) {
			f, last := e.prod().Failures()
			t.Fatalf("the stream did not start: %d records acknowledged in 30 s, %d failed (%s)", n, f, last)
		}
	}
	if _, err := e.waitRecovered("start"); err != "" {
		t.Fatalf("replication did not start: %s", err)
	}
	e.logf("steady: %d records copied so far", e.chk.Summary().Unique)

	for i, kind := range schedule {
		// Faults come one at a time: after the previous recovery, a
		// heartbeat stores the checkpoints of the new owners (the duplicate
		// bound is per fault), then a random moment.
		time.Sleep(1500*time.Millisecond + time.Duration(e.rng.IntN(2500))*time.Millisecond)
		before := e.chk.Summary()
		fr := FaultResult{N: i + 1, Kind: kind.Label, ID: kind.ID}
		e.chk.ResetDelays()
		fr.Injected = time.Now()
		fr.Detail, err = e.inject(kind.ID)
		fr.Restored = time.Now()
		if err != nil {
			fr.Err = "injecting it failed: " + err.Error()
			e.logf("fault %d/%d: %s: %s", i+1, len(schedule), kind.ID, fr.Err)
		} else {
			e.logf("fault %d/%d: %s (%s); restored after %.1fs", i+1, len(schedule), kind.Label, fr.Detail, fr.Restored.Sub(fr.Injected).Seconds())
			fr.Recovered, fr.Err = e.waitRecovered(kind.ID)
		}
		fr.Delay = e.chk.MaxDelay()
		after := e.chk.Summary()
		fr.Duplicates = after.Duplicates - before.Duplicates
		for _, r := range after.Rewinds[len(before.Rewinds):] {
			fr.MaxSpan = max(fr.MaxSpan, r.Span)
			if kind.ID == "zombie" && r.At.After(fr.Restored) {
				fr.LateRewinds++
			}
		}
		fr.NewViolations = len(after.Violations) - len(before.Violations)
		rep.Faults = append(rep.Faults, fr)
		if fr.Err != "" {
			e.logf("fault %d: NOT recovered (seed %d): %s", i+1, seed, fr.Err)
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
	if err := e.prod().Stop(ctx); err != nil {
		t.Errorf("producer flush: %v", err)
	}
	rep.Ended = time.Now()
	var producing time.Duration
	for _, p := range e.prods {
		acked := p.Acked()
		for _, a := range acked {
			rep.Produced += a
		}
		f, last := p.Failures()
		rep.SourceFailures += f
		if last != "" {
			rep.SourceLastError = last
		}
		producing += p.Producing()
	}
	if d := producing.Seconds(); d > 0 {
		rep.ProducerRate = float64(rep.Produced) / d
	}
	rep.Epochs = len(e.prods)
	acked := e.prod().Acked()
	failed := len(rep.Faults) > 0 && rep.Faults[len(rep.Faults)-1].Err != ""
	if failed {
		// The schedule stopped at a fault that did not recover: do not
		// wait the full time again for what it already waited for.
		e.patience = 15 * time.Second
	}
	if _, err := e.waitRecovered("final"); err != "" {
		t.Errorf("final catch-up: %s", err)
	}
	if msg := e.grp.finish(acked); msg != "" {
		rep.Violations = append(rep.Violations, msg)
	}
	var groupExact bool
	rep.GroupFinal, groupExact = e.waitGroupFinal()
	if !groupExact {
		rep.Violations = append(rep.Violations, "group offsets not translated to the target end once the group had consumed everything: "+rep.GroupFinal)
	}
	e.checkSamples()
	e.stopTail()

	sum := e.chk.Summary()
	rep.Checked, rep.Unique, rep.Duplicates, rep.Rewinds, rep.MaxSpan = sum.Records, sum.Unique, sum.Duplicates, len(sum.Rewinds), sum.MaxSpan
	rep.TargetResets = sum.TargetResets
	for _, p := range e.prods {
		rep.Lost += e.chk.Missing(p.Epoch(), p.Produced(), p.Refused)
	}
	rep.Violations = append(rep.Violations, sum.Violations...)
	rep.CopyViolations = len(sum.Violations)
	rep.SourceViolations = checkStream(e.source, topic, e.partitions, e.epoch(), acked)
	rep.Violations = append(rep.Violations, rep.SourceViolations...)
	rep.GroupSamples = e.groupChecks
	rep.GroupViolations = e.groupViol
	rep.Violations = append(rep.Violations, rep.GroupViolations...)
	for _, r := range sum.Rewinds {
		if r.Span > ttl && !r.AfterTargetReset {
			rep.Violations = append(rep.Violations, fmt.Sprintf("epoch %d partition %d: duplicates of seq %d..%d span %s of data, over the documented bound (the lease TTL, %s)",
				r.Epoch, r.Partition, r.From, r.To, r.Span.Round(time.Millisecond), ttl))
		}
	}
	if rep.Lost > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d acknowledged records never reached the target", rep.Lost))
	}
	// Secrets in no log line of the whole run (every restart included).
	logs, _ := filepath.Glob(filepath.Join(sys.opts.LogDir, "*.log"))
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secret := range []string{SecretKey, WorkerToken} {
			if strings.Contains(string(b), secret) {
				rep.Violations = append(rep.Violations, fmt.Sprintf("a secret appears in %s", f))
			}
		}
		rep.LogBytes += int64(len(b))
	}
	rep.FinalState = sys.State()
	if rep.FinalState != "RUNNING" {
		rep.Violations = append(rep.Violations, "final state "+rep.FinalState)
	}
	if rep.ProducerRate < rate/2 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("the stream ran at %.0f records/s, under the minimum %.0f", rep.ProducerRate, rate/2))
	}
	for _, f := range rep.Faults {
		if f.Err != "" {
			rep.Violations = append(rep.Violations, fmt.Sprintf("fault %d (%s) not recovered: %s", f.N, f.ID, f.Err))
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
		t.Errorf("only %d of %d faults ran (seed %d)", len(rep.Faults), len(schedule), seed)
	}
}

func scheduleIDs(s []Kind) string {
	out := make([]string, len(s))
	for i, k := range s {
		out[i] = k.ID
	}
	return strings.Join(out, " ")
}

// --- proxies ------------------------------------------------------------------

// startProxies puts a proxy on every broker's advertised EXTERNAL address
// (kafka.sh KAFKA_PROXY_OFFSET) and one between each worker and each serve
// replica (their addresses come later: the serve proxies forward to the
// replica's address once the system has one).
func (e *env) startProxies() {
	e.sourceRepl, e.targetRepl = e.source, e.target
	for _, side := range []string{"SOURCE", "TARGET"} {
		ext, adv := e.kv["KAFKA_"+side+"_EXTERNAL"], e.kv["KAFKA_"+side+"_ADVERTISED"]
		if ext == "" || adv == "" {
			continue
		}
		exts, advs := strings.Split(ext, ","), strings.Split(adv, ",")
		for i := range exts {
			p, err := Listen(fmt.Sprintf("%s broker %d", strings.ToLower(side), i+1), advs[i], exts[i])
			if err != nil {
				e.t.Fatalf("proxy on %s: %v", advs[i], err)
			}
			e.brokerProxies = append(e.brokerProxies, p)
		}
		if side == "SOURCE" {
			e.sourceRepl = adv
		} else {
			e.targetRepl = adv
		}
	}
	if len(e.brokerProxies) == 0 {
		e.logf("no broker proxies (kafka.sh ran without KAFKA_PROXY_OFFSET): the worker↔broker network faults are skipped")
	}
}

// controlPlane is worker i's REPLICATOR_CONTROL_PLANE_URL: its own proxies
// in front of the serve replicas, started the first time.
func (e *env) controlPlane(i int, serveAddrs []string) string {
	var urls []string
	for j := range serveAddrs {
		s := (i + j) % len(serveAddrs)
		if e.serveProxies[i][s] == nil {
			p, err := Listen(fmt.Sprintf("worker%d→serve%d", i+1, s+1), "127.0.0.1:0", serveAddrs[s])
			if err != nil {
				e.t.Fatal(err)
			}
			e.serveProxies[i][s] = p
		}
		urls = append(urls, "http://"+e.serveProxies[i][s].Addr())
	}
	return strings.Join(urls, ",")
}

func (e *env) closeProxies() {
	for _, p := range e.brokerProxies {
		p.Close()
	}
	for i := range e.serveProxies {
		for _, p := range e.serveProxies[i] {
			if p != nil {
				p.Close()
			}
		}
	}
}

// --- the stream ---------------------------------------------------------------

func (e *env) admin(bootstrap string) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

func (e *env) createSourceTopic() error {
	adm, done, err := e.admin(e.source)
	if err != nil {
		return err
	}
	defer done()
	rf := int16(min(3, e.brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, e.partitions, rf, nil, topic); err != nil {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	return nil
}

func (e *env) startProducer(epoch int32) error {
	p, err := NewProducer(e.source, topic, e.partitions, recordSize, e.rate, epoch)
	if err != nil {
		return err
	}
	p.Start(e.seed + uint64(epoch))
	e.prods = append(e.prods, p)
	return nil
}

// waitRecovered waits until the target holds every record produced so far
// in the current epoch (handed to the producer: records it still buffers
// while the source is down count too) and the replicator is RUNNING. It
// returns when that held, or why it did not.
func (e *env) waitRecovered(what string) (time.Time, string) {
	at, err := WaitCopied(e.chk, e.epoch(), e.prod().Produced(), testutil.Scale(e.patience), e.sys.State)
	if err != "" {
		err = "after " + what + ": " + err
	}
	return at, err
}

// --- faults -------------------------------------------------------------------

func (e *env) sleepRand(minMs, maxMs int) time.Duration {
	d := time.Duration(minMs+e.rng.IntN(maxMs-minMs+1)) * time.Millisecond
	time.Sleep(d)
	return d
}

// inject applies one fault and undoes it; it returns what it did.
func (e *env) inject(kind string) (string, error) {
	sys := e.sys
	switch kind {
	case "worker-kill":
		i := sys.BusyWorker(e.rng)
		sys.Workers[i].Kill()
		d := e.sleepRand(500, 3000)
		return fmt.Sprintf("worker%d killed, restarted after %.1fs", i+1, d.Seconds()), sys.StartWorker(i)
	case "zombie":
		i := sys.BusyWorker(e.rng)
		if err := sys.Workers[i].Pause(); err != nil {
			return "", err
		}
		d := e.ttl + e.sleepRand(1000, 3000)
		time.Sleep(e.ttl)
		return fmt.Sprintf("worker%d paused %.1fs (TTL %s), resumed", i+1, d.Seconds(), e.ttl), sys.Workers[i].Resume()
	case "pg-kill":
		n, err := sys.KillPostgres()
		if err != nil {
			return "", err
		}
		d := e.sleepRand(2000, 8000)
		t1 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = sys.PG.Resume(ctx)
		return fmt.Sprintf("%d processes killed, down %.1fs, crash recovery and start %.1fs", n, d.Seconds(), time.Since(t1).Seconds()), err
	case "pg-stop":
		if err := sys.PG.Halt("fast"); err != nil {
			return "", err
		}
		d := e.sleepRand(2000, 8000)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return fmt.Sprintf("down %.1fs", d.Seconds()), sys.PG.Resume(ctx)
	case "serve-kill":
		i := e.rng.IntN(numServe)
		sys.Serves[i].Kill()
		d := e.sleepRand(1000, 4000)
		return fmt.Sprintf("serve%d killed, restarted after %.1fs", i+1, d.Seconds()), sys.StartServe(i)
	case "source-restart", "target-restart":
		name := strings.TrimSuffix(kind, "-restart")
		t0 := time.Now()
		if err := e.kafka("stop", name); err != nil {
			return "", err
		}
		stopped := time.Since(t0)
		d := e.sleepRand(1000, 3000)
		t1 := time.Now()
		if err := e.kafka("start", name); err != nil {
			return "", err
		}
		started := time.Since(t1)
		isr, err := e.waitISR(name)
		return fmt.Sprintf("%d broker(s): stop %.1fs, down %.1fs, start %.1fs, in sync %.1fs later", e.brokers, stopped.Seconds(), d.Seconds(), started.Seconds(), isr.Seconds()), err
	case "source-leader-kill", "target-leader-kill":
		return e.killLeader(strings.TrimSuffix(kind, "-leader-kill"))
	case "net-broker-drop", "net-broker-delay", "net-broker-cut":
		if len(e.brokerProxies) == 0 {
			return "skipped: no broker proxies", nil
		}
		return e.netFault(strings.TrimPrefix(kind, "net-broker-"), e.brokerProxies, "every worker↔broker connection")
	case "net-serve-drop", "net-serve-delay", "net-serve-cut":
		i := sys.BusyWorker(e.rng)
		var ps []*Proxy
		for _, p := range e.serveProxies[i] {
			if p != nil {
				ps = append(ps, p)
			}
		}
		return e.netFault(strings.TrimPrefix(kind, "net-serve-"), ps, fmt.Sprintf("worker%d↔serve", i+1))
	case "source-recreate":
		return e.recreateSource()
	case "target-delete":
		return e.deleteTarget()
	}
	return "", fmt.Errorf("unknown fault %q", kind)
}

func (e *env) kafka(args ...string) error {
	cmd := exec.Command("bash", append([]string{e.kafkaSh}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (e *env) bootstrapOf(cluster string) string {
	if cluster == "source" {
		return e.source
	}
	return e.target
}

// killLeader SIGKILLs the broker that leads a random partition of the
// stream's topic on cluster, waits, starts it again and waits until every
// replica is back in sync.
func (e *env) killLeader(cluster string) (string, error) {
	tp := topic
	if cluster == "target" {
		tp = e.targetTopic
	}
	adm, done, err := e.admin(e.bootstrapOf(cluster))
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	md, err := adm.Metadata(ctx, tp)
	cancel()
	done()
	if err != nil {
		return "", err
	}
	p := int32(e.rng.IntN(int(e.partitions)))
	leader := md.Topics[tp].Partitions[p].Leader
	if leader < 0 {
		return "", fmt.Errorf("%s[%d] has no leader", tp, p)
	}
	node := cluster
	if e.brokers > 1 {
		node = fmt.Sprintf("%s%d", cluster, leader)
	}
	if err := e.kafka("kill", node); err != nil {
		return "", err
	}
	d := e.sleepRand(1000, 4000)
	t1 := time.Now()
	if err := e.kafka("start", node); err != nil {
		return "", err
	}
	started := time.Since(t1)
	isr, err := e.waitISR(cluster)
	return fmt.Sprintf("%s (leader of %s[%d]) killed, down %.1fs, start %.1fs, in sync %.1fs later", node, tp, p, d.Seconds(), started.Seconds(), isr.Seconds()), err
}

// waitISR waits until every partition of the cluster's stream topic and of
// __consumer_offsets has all its replicas in sync, so that the next fault
// meets a healthy cluster.
func (e *env) waitISR(cluster string) (time.Duration, error) {
	t0 := time.Now()
	if e.brokers == 1 {
		return 0, nil
	}
	adm, done, err := e.admin(e.bootstrapOf(cluster))
	if err != nil {
		return 0, err
	}
	defer done()
	within := testutil.Scale(90 * time.Second)
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.Metadata(ctx)
		cancel()
		if err != nil {
			last = err.Error()
			continue
		}
		under := 0
		for _, td := range md.Topics {
			for _, pd := range td.Partitions {
				if len(pd.ISR) < len(pd.Replicas) || pd.Leader < 0 {
					under++
				}
			}
		}
		if under == 0 {
			return time.Since(t0), nil
		}
		last = fmt.Sprintf("%d partitions under-replicated", under)
	}
	return time.Since(t0), fmt.Errorf("%s: replicas not back in sync within %s: %s", cluster, within, last)
}

// netFault applies a network fault to proxies, for a bounded time, and
// heals them.
func (e *env) netFault(what string, ps []*Proxy, where string) (string, error) {
	defer func() {
		for _, p := range ps {
			p.Heal()
		}
	}()
	switch what {
	case "drop":
		for _, p := range ps {
			p.Hold(true)
		}
		d := e.sleepRand(2000, int(e.ttl/time.Millisecond)+4000)
		return fmt.Sprintf("%s: nothing passed for %.1fs", where, d.Seconds()), nil
	case "delay":
		lat := time.Duration(100+e.rng.IntN(700)) * time.Millisecond
		for _, p := range ps {
			p.Delay(lat)
		}
		d := e.sleepRand(4000, 10000)
		return fmt.Sprintf("%s: %s each way for %.1fs", where, lat, d.Seconds()), nil
	case "cut":
		cut := 0
		for _, p := range ps {
			p.Refuse(true)
			cut += p.Cut()
		}
		d := e.sleepRand(500, 4000)
		return fmt.Sprintf("%s: %d connections reset, new ones refused for %.1fs", where, cut, d.Seconds()), nil
	}
	return "", fmt.Errorf("unknown network fault %q", what)
}

// recreateSource deletes the source topic and creates it again under the
// same name, with the stream going on in a new epoch. Before the deletion
// the producer stops and the old incarnation is copied whole (so nothing
// of it may be missing), and the group is stopped and its samples checked.
// Meanwhile the workers are cut off from the brokers (the broker proxies
// hold) until the new incarnation is longer than the old one was: a copy
// that went on from the old incarnation's offsets would then find records
// there, and skip those below (the silent loss of issue 11, finding 1),
// rather than an offset out of range that resets it to the start.
func (e *env) recreateSource() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := e.prod().Stop(ctx); err != nil {
		return "", fmt.Errorf("producer flush: %w", err)
	}
	if _, err := e.waitRecovered("stopping the producer of epoch " + strconv.Itoa(int(e.epoch()))); err != "" {
		return "", errors.New(err)
	}
	old := e.epoch()
	copied := e.chk.Next(old, e.partitions)
	e.checkSamples()
	if msg := e.grp.finish(e.prod().Acked()); msg != "" {
		e.groupViol = append(e.groupViol, msg)
	}
	for _, p := range e.brokerProxies {
		p.Hold(true)
	}
	defer func() {
		for _, p := range e.brokerProxies {
			p.Heal()
		}
	}()
	held := time.Now()
	adm, done, err := e.admin(e.source)
	if err != nil {
		return "", err
	}
	defer done()
	oldID, err := topicID(ctx, adm, topic)
	if err != nil {
		return "", err
	}
	if _, err := adm.DeleteTopic(ctx, topic); err != nil {
		return "", fmt.Errorf("delete %s: %w", topic, err)
	}
	if err := waitTopicGone(ctx, adm, topic, oldID); err != nil {
		return "", err
	}
	// The group's offsets were those of the deleted topic.
	if _, err := adm.DeleteGroup(ctx, group); err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		e.logf("deleting the group on the source: %v", err)
	}
	gap := e.sleepRand(0, 3000)
	if err := e.createSourceTopic(); err != nil {
		return "", err
	}
	var newID string
	for range 50 {
		if newID, err = topicID(ctx, adm, topic); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := e.startProducer(old + 1); err != nil {
		return "", err
	}
	// Longer than the old incarnation, at once, then the steady stream.
	var most int64
	for _, n := range copied {
		most = max(most, n)
	}
	burst := most + int64(e.rate)/int64(e.partitions)
	e.prod().Burst(burst)
	if err := e.waitAcked(burst * int64(e.partitions)); err != nil {
		return "", err
	}
	released := time.Since(held)
	for _, p := range e.brokerProxies {
		p.Heal()
	}
	e.grp = startGroup(e, old+1)
	e.smp = startSampler(e)
	// The fault is undone once the new incarnation has two more seconds
	// of the stream: recovery means they were all copied.
	if err := e.waitAcked(burst*int64(e.partitions) + int64(e.rate)*2); err != nil {
		return "", err
	}
	how := fmt.Sprintf("workers cut off from the brokers for %.1fs meanwhile", released.Seconds())
	if len(e.brokerProxies) == 0 {
		how = "workers not cut off (no broker proxies)"
	}
	return fmt.Sprintf("epoch %d (%v records copied, all) deleted; re-created after %.1fs (topic ID %s → %s) with %d records per partition of epoch %d at once, %s",
		old, copied, gap.Seconds(), short(oldID), short(newID), burst, old+1, how), nil
}

// waitAcked waits until the current producer has n records acknowledged.
func (e *env) waitAcked(n int64) error {
	deadline := time.Now().Add(testutil.Scale(60 * time.Second))
	for {
		var got int64
		for _, a := range e.prod().Acked() {
			got += a
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			f, last := e.prod().Failures()
			return fmt.Errorf("epoch %d: %d of %d records acknowledged within 60 s, %d refused (%s)", e.epoch(), got, n, f, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deleteTarget deletes the target topic while the replicator runs. The
// producer pauses until the checker has seen every record (so the copies
// the deletion takes count as arrived), the samples of the group so far
// are checked, then the topic goes and the stream resumes at once.
func (e *env) deleteTarget() (string, error) {
	p := e.prod()
	p.Pause()
	defer p.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		return "", fmt.Errorf("producer flush: %w", err)
	}
	if _, err := e.waitRecovered("pausing the producer"); err != "" {
		return "", errors.New(err)
	}
	copied := e.chk.Next(e.epoch(), e.partitions)
	e.checkSamples()
	e.stopTail()
	adm, done, err := e.admin(e.target)
	if err != nil {
		return "", err
	}
	defer done()
	oldID, err := topicID(ctx, adm, e.targetTopic)
	if err != nil {
		return "", err
	}
	if _, err := adm.DeleteTopic(ctx, e.targetTopic); err != nil {
		return "", fmt.Errorf("delete %s: %w", e.targetTopic, err)
	}
	if err := waitTopicGone(ctx, adm, e.targetTopic, oldID); err != nil {
		return "", err
	}
	e.chk.ResetTarget()
	if e.stopTail, err = Tail(e.target, e.targetTopic, e.chk); err != nil {
		return "", err
	}
	e.smp = startSampler(e)
	// The stream resumes at once; the fault is undone once two more
	// seconds of it were acknowledged: recovery means the copy went on
	// from the checkpoint into a re-created topic and holds them all.
	var before int64
	for _, n := range copied {
		before += n
	}
	p.Resume()
	if err := e.waitAcked(before + int64(e.rate)*2); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (ID %s) deleted with %v records copied; the stream resumed at once", e.targetTopic, short(oldID), copied), nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func topicID(ctx context.Context, adm *kadm.Client, name string) (string, error) {
	td, err := adm.ListTopics(ctx, name)
	if err != nil {
		return "", err
	}
	d, ok := td[name]
	if !ok || d.Err != nil {
		return "", fmt.Errorf("topic %s: not found (%v)", name, d.Err)
	}
	return d.ID.String(), nil
}

// waitTopicGone waits until the metadata no longer shows the topic with
// the old ID (it may already be back under a new one), five times in a
// row: the requests go to any broker, and every broker must have seen the
// deletion before the suite reads the topic again.
func waitTopicGone(ctx context.Context, adm *kadm.Client, name, oldID string) error {
	for gone := 0; ; {
		id, err := topicID(ctx, adm, name)
		if err != nil || id != oldID {
			if gone++; gone == 5 {
				return nil
			}
		} else {
			gone = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still there after its deletion: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkSamples stops the sampler and checks what it collected against the
// copies the checker saw.
func (e *env) checkSamples() {
	if e.smp == nil {
		return
	}
	e.smp.stop()
	s := e.smp.samples()
	e.groupChecks += len(s)
	e.groupViol = append(e.groupViol, e.chk.CheckGroup(s)...)
	e.smp = nil
}

// --- the consumer group ------------------------------------------------------------

// groupConsumer consumes the source topic (epoch) in the group and commits
// what it consumed every second; committed holds what the source
// acknowledged.
type groupConsumer struct {
	epoch     int32
	cl        *kgo.Client
	mu        sync.Mutex
	committed map[int32]int64
	cancel    context.CancelFunc
	done      chan struct{}
	stopped   sync.Once
}

func startGroup(e *env, epoch int32) *groupConsumer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.source, ",")...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupConsumer{epoch: epoch, cl: cl, committed: map[int32]int64{}, cancel: cancel, done: make(chan struct{})}
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
	deadline := time.Now().Add(testutil.Scale(60 * time.Second))
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
			return fmt.Sprintf("the test's consumer group did not consume everything of epoch %d on the source within 60 s: %s", g.epoch, strings.Join(short, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (g *groupConsumer) stop() {
	g.stopped.Do(func() {
		g.cancel()
		<-g.done
		g.cl.Close()
	})
}

// sampler reads the group's translated offsets on the target twice a
// second, and the source commits right after.
type sampler struct {
	mu     sync.Mutex
	out    []GroupSample
	cancel context.CancelFunc
	done   chan struct{}
}

func startSampler(e *env) *sampler {
	g := e.grp
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.target, ",")...))
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
						s.out = append(s.out, GroupSample{At: at, Epoch: g.epoch, Partition: o.Partition, TargetOffset: o.At, SourceCommitted: committed[o.Partition]})
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
func (e *env) waitGroupFinal() (string, bool) {
	adm, done, err := e.admin(e.target)
	if err != nil {
		return err.Error(), false
	}
	defer done()
	within := testutil.Scale(min(60*time.Second, e.patience))
	deadline := time.Now().Add(within)
	var last string
	for {
		resp, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			exact, total := 0, 0
			var parts []string
			for p := range e.partitions {
				end := e.chk.EndOffset(p)
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
			return fmt.Sprintf("%s after %s", last, within), false
		}
		time.Sleep(500 * time.Millisecond)
	}
}
