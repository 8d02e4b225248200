package replbench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/openreplicator/replicator/internal/proc"
)

// The broker limit: what the two brokers sustain for the work a replicator
// makes them do (produce to the target, consume from the source, at the same
// time), measured with the brokers' own perf tools. One Java client in one
// short-lived JVM measures mostly itself (JIT warm-up, one sender thread), so
// several producer and consumer processes run at once, with full JIT and long
// enough, and only their steady state counts: the producers warm up alone
// first, the consumers are held near the producers' rate (a replicator reads
// only as fast as it writes), and the rates come from the tools' periodic
// progress lines, summed over the window in which every process is past its
// first interval. -limit-clients runs this with several process counts; the
// limit is the highest.

// Our worker's producer (pkg/kafka/connect.go and franz-go defaults, with the
// benchmark's TargetCompressionType NONE): acks=all, idempotent, linger 2 ms,
// batches of at most 1,000,012 bytes, 32 MiB buffered, no compression.
// max.request.size lets one request carry many batches, as franz-go's does.
var perfProducerProps = []string{"acks=all", "enable.idempotence=true", "linger.ms=2", "batch.size=1000012",
	"buffer.memory=33554432", "compression.type=none", "max.request.size=16777216"}

// Our worker's consumer: 16 MiB per fetch, 2 MiB per partition (the tool's
// --fetch-size sets max.partition.fetch.bytes), 100 ms max wait, read_committed.
const (
	perfConsumerConfig = "fetch.max.bytes=16777216\nfetch.max.wait.ms=100\nisolation.level=read_committed\nmax.poll.records=10000\n"
	perfFetchSize      = 2 << 20
	perfInterval       = 5 * time.Second // ProducerPerformance's fixed window; ConsumerPerformance gets the same
)

// limitResult is the broker limit and how it was obtained.
type limitResult struct {
	Producers, Consumers int
	ProducerWarmup       time.Duration // the producers run alone this long before the consumers start
	RecordSize           int
	ProdRps, ConsRps     float64       // summed over the processes of each side, steady window
	Window               time.Duration // the steady window all processes share
	WarmIntervals        int           // progress intervals of each process not counted
	SourceRecords        int64         // records in the source topic (each consumer reads it whole)
	Attempts             int
	JVMOpts, Heap        string
	Capped               float64 // consumers held to this × the producers' rate (0: not held)
	Short                string  // why the window is shorter than asked for ("": it is not)
	PerProcess           string  // e.g. "producers 61.2, 60.8, 59.9; consumers ..." (MiB/s)
	Err                  error
}

func (l limitResult) rps() float64       { return min(l.ProdRps, l.ConsRps) }
func (l limitResult) mibps() float64     { return l.rps() * float64(l.RecordSize) / (1 << 20) }
func (l limitResult) prodMiBps() float64 { return l.ProdRps * float64(l.RecordSize) / (1 << 20) }
func (l limitResult) consMiBps() float64 { return l.ConsRps * float64(l.RecordSize) / (1 << 20) }

// perfPoint is one periodic progress line: when replbench read it, and the
// records the process had produced or consumed by then.
type perfPoint struct {
	t   time.Time
	cum int64
}

// perfProc is one perf-tool JVM whose stdout replbench reads line by line.
type perfProc struct {
	name     string
	producer bool
	group    string // consumers: their consumer group
	cmd      *exec.Cmd
	done     chan struct{}
	stopped  atomic.Bool // stopped by us: its exit status does not matter
	mu       sync.Mutex
	pts      []perfPoint
	err      error
	log      string
}

var perfProdRE = regexp.MustCompile(`^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.$`)

// parse reads one output line into the running total; ok if it was a
// periodic progress line. ProducerPerformance prints the records of each
// ~5 s window (and a final total with percentiles, which does not match);
// ConsumerPerformance --show-detailed-stats prints "time, threadId, MB,
// MB.sec, nMsg (cumulative), nMsg.sec, rebalance.ms, fetch.ms, ...".
func (p *perfProc) parse(line string, cum int64) (int64, bool) {
	line = strings.TrimSpace(line)
	if p.producer {
		m := perfProdRE.FindStringSubmatch(line)
		if m == nil {
			return cum, false
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return cum, false
		}
		return cum + n, true
	}
	f := strings.Split(line, ",")
	if len(f) != 10 || strings.TrimSpace(f[1]) != "0" {
		return cum, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(f[4]), 10, 64)
	if err != nil {
		return cum, false
	}
	return n, true
}

func startPerf(logDir, name string, producer bool, env []string, argv ...string) (*perfProc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "# %s\n", strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = f
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &perfProc{name: name, producer: producer, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		defer close(p.done)
		defer f.Close()
		var cum int64
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			now := time.Now()
			line := sc.Text()
			// Every line with the time replbench read it: the rates are
			// computed from these times.
			fmt.Fprintf(f, "%s %s\n", now.Format("15:04:05.000"), line)
			if c, ok := p.parse(line, cum); ok {
				cum = c
				p.mu.Lock()
				p.pts = append(p.pts, perfPoint{now, cum})
				p.mu.Unlock()
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
	}()
	return p, nil
}

func (p *perfProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *perfProc) points() []perfPoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]perfPoint(nil), p.pts...)
}

func (p *perfProc) stop() {
	if p.exited() {
		return
	}
	p.stopped.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// at is the cumulative count at t, linear between two progress lines (the
// rate within one interval is taken as even). t must lie within pts.
func at(pts []perfPoint, t time.Time) float64 {
	i := sort.Search(len(pts), func(i int) bool { return !pts[i].t.Before(t) })
	if i >= len(pts) {
		return float64(pts[len(pts)-1].cum)
	}
	if i == 0 || pts[i].t.Equal(t) {
		return float64(pts[i].cum)
	}
	a, b := pts[i-1], pts[i]
	f := float64(t.Sub(a.t)) / float64(b.t.Sub(a.t))
	return float64(a.cum) + f*float64(b.cum-a.cum)
}

// steadyWindow is the window in which every process has finished its first
// warm progress intervals and still reports: from the latest end of a
// warm-up to the earliest last line. ok is false while some process has not
// reported past its warm-up yet.
func steadyWindow(procs []*perfProc, warm int) (from, to time.Time, ok bool) {
	for i, p := range procs {
		pts := p.points()
		if len(pts) < warm+1 {
			return from, to, false
		}
		s, e := pts[warm-1].t, pts[len(pts)-1].t
		if i == 0 || s.After(from) {
			from = s
		}
		if i == 0 || e.Before(to) {
			to = e
		}
	}
	return from, to, to.After(from)
}

// limit measures the broker limit: cl.producers ProducerPerformance
// processes write to dstTopic (target); once they have run alone for
// -limit-warmup (JVM start, JIT), cl.consumers ConsumerPerformance
// processes, each in its own group, read srcTopic (source, preloaded with
// have records) from the start. The rates are taken over the window in which
// every process is past its first progress interval(s), until that window is
// -limit-steady long. If a consumer runs out of records before that, the
// source topic is topped up and the measurement is run again with fresh
// processes.
func (b *harness) limit(ctx context.Context, srcTopic, dstTopic string, have int64, cl clients) limitResult {
	np, nc := max(cl.producers, 1), max(cl.consumers, 1)
	warm := max(b.limitWarm, 1)
	res := limitResult{Producers: np, Consumers: nc, RecordSize: b.recordSize, WarmIntervals: warm, SourceRecords: have,
		ProducerWarmup: b.limitWarmup, JVMOpts: javaJVMOpts(), Heap: cmp.Or(b.limitHeap, javaHeap())}
	kafkaSh := filepath.Join(b.root, "test", "kafka", "kafka.sh")
	cfg := filepath.Join(b.logDir, "perf-consumer-"+b.runID+".properties")
	// All perf consumers share one client.id: the consumer quota below
	// holds them together.
	clientID := "replbench-limit-" + b.runID
	if err := os.WriteFile(cfg, []byte("client.id="+clientID+"\n"+perfConsumerConfig), 0o644); err != nil {
		res.Err = err
		return res
	}
	env := javaEnv()
	if b.limitHeap != "" {
		env = append(env, "KAFKA_HEAP="+b.limitHeap)
	}
	tag := strings.TrimPrefix(dstTopic, "rb-") // unique per run: log files and consumer groups

	const attempts = 3
	for attempt := 1; attempt <= attempts; attempt++ {
		res.Attempts = attempt
		var procs []*perfProc
		stopAll := func() {
			var wg sync.WaitGroup
			for _, p := range procs {
				wg.Add(1)
				go func() { defer wg.Done(); p.stop() }()
			}
			wg.Wait()
		}
		fail := func(err error) limitResult {
			stopAll()
			if b.limitHeadroom > 0 {
				_ = b.consumerQuota(context.Background(), clientID, 0)
			}
			res.Err = err
			return res
		}
		// lost is a process that exited, or reported and then stopped
		// reporting for two intervals (out of records, or stuck).
		lost := func() *perfProc {
			for _, p := range procs {
				if p.exited() {
					return p
				}
				if pts := p.points(); len(pts) > 0 && time.Since(pts[len(pts)-1].t) > 2*perfInterval+5*time.Second {
					return p
				}
			}
			return nil
		}
		sleep := func() error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
				return nil
			}
		}

		progress("  attempt %d: %d ProducerPerformance -> target, alone for %s", attempt, np, b.limitWarmup)
		for i := range np {
			// Records enough for hours: replbench stops the producers.
			argv := []string{"bash", kafkaSh, "run", "org.apache.kafka.tools.ProducerPerformance",
				"--topic", dstTopic, "--num-records", strconv.FormatInt(1<<40, 10), "--record-size", strconv.Itoa(b.recordSize),
				"--throughput", "-1", "--producer-props", "bootstrap.servers=" + b.target}
			argv = append(argv, perfProducerProps...)
			p, err := startPerf(b.logDir, fmt.Sprintf("perf-producer-%s-a%d-%d", tag, attempt, i+1), true, env, argv...)
			if err != nil {
				return fail(err)
			}
			procs = append(procs, p)
		}
		began := time.Now()
		// The producers' summed rate, sampled every interval: the consumer
		// quota follows the highest of the last three samples, so that it
		// rises at once and falls only after a dip has lasted (a quota
		// lowered at once throttles consumers that read ahead for seconds).
		var prodRates []float64
		lastSample := began
		sample := func() float64 {
			prodRates = append(prodRates, lastProduceRate(procs))
			return slices.Max(prodRates[max(len(prodRates)-3, 0):])
		}
		for time.Since(began) < b.limitWarmup || !allReported(procs) {
			if err := sleep(); err != nil {
				return fail(err)
			}
			if allReported(procs) && time.Since(lastSample) >= perfInterval {
				lastSample = time.Now()
				sample()
			}
			if p := lost(); p != nil {
				return fail(fmt.Errorf("%s stopped during its warm-up: %v (see %s)", p.name, p.err, p.log))
			}
			if time.Since(began) > b.limitWarmup+time.Minute {
				return fail(fmt.Errorf("the perf producers did not report within %s (see %s)", time.Since(began).Round(time.Second), b.logDir))
			}
		}
		var alone []string
		for _, p := range procs {
			if pts := p.points(); len(pts) >= 2 {
				a, z := pts[len(pts)-2], pts[len(pts)-1]
				alone = append(alone, fmt.Sprintf("%.1f", float64(z.cum-a.cum)/z.t.Sub(a.t).Seconds()*float64(b.recordSize)/(1<<20)))
			}
		}
		progress("  producers warm (last interval alone: %s MiB/s)", strings.Join(alone, ", "))
		if b.limitHeadroom > 0 {
			// A replicator reads only as fast as it writes: hold the
			// consumers to headroom × what the producers do, so that they
			// do not take the cores the producers and the brokers need.
			prodMax := sample()
			if err := b.consumerQuota(ctx, clientID, b.limitHeadroom*prodMax*float64(b.recordSize)); err != nil {
				return fail(fmt.Errorf("consumer quota: %w", err))
			}
			res.Capped = b.limitHeadroom
			// Records enough for each consumer at a little more than its
			// share of the producers' rate through its warm-up, the window
			// and a margin (if they read faster, the topic is grown and
			// the run repeated below).
			need := int64(1.2 * prodMax / float64(nc) * (time.Duration(warm+1)*perfInterval + b.limitSteady + 10*time.Second).Seconds())
			if b.limitMaxBytes > 0 {
				need = min(need, b.limitMaxBytes/int64(b.recordSize))
			}
			if need > res.SourceRecords {
				progress("  adding %d records to the source topic first (each consumer reads it whole)", need-res.SourceRecords)
				if _, err := preload(ctx, b.source, []string{srcTopic}, int32(b.tasks()), need-res.SourceRecords, b.recordSize); err != nil {
					return fail(fmt.Errorf("top up the source topic: %w", err))
				}
				res.SourceRecords = need
			}
		}
		progress("  %d ConsumerPerformance <- source (%d records, %.0f MiB), until all are %s past their first %d interval(s)",
			nc, res.SourceRecords, float64(res.SourceRecords*int64(b.recordSize))/(1<<20), b.limitSteady, warm)
		for i := range nc {
			// --timeout (between records, counted from before the group
			// join) only ends a consumer left without records; replbench
			// notices that sooner, from the missing progress lines.
			group := fmt.Sprintf("replbench-limit-%s-a%d-%d", tag, attempt, i+1)
			c, err := startPerf(b.logDir, fmt.Sprintf("perf-consumer-%s-a%d-%d", tag, attempt, i+1), false, env,
				"bash", kafkaSh, "run", "org.apache.kafka.tools.ConsumerPerformance",
				"--bootstrap-server", b.source, "--topic", srcTopic, "--messages", strconv.FormatInt(1<<62, 10),
				"--timeout", "120000", "--consumer.config", cfg, "--fetch-size", strconv.Itoa(perfFetchSize),
				"--group", group, "--show-detailed-stats", "--reporting-interval", strconv.FormatInt(perfInterval.Milliseconds(), 10))
			if err != nil {
				return fail(err)
			}
			c.group = group
			procs = append(procs, c)
		}
		consBegan := time.Now()
		deadline := consBegan.Add(time.Duration(warm+2)*perfInterval + b.limitSteady + 2*time.Minute)
		var died *perfProc
		lastLog, lastQuota := consBegan, consBegan
		for {
			if err := sleep(); err != nil {
				return fail(err)
			}
			if b.limitHeadroom > 0 && time.Since(lastQuota) >= perfInterval {
				lastQuota = time.Now()
				if err := b.consumerQuota(ctx, clientID, b.limitHeadroom*sample()*float64(b.recordSize)); err != nil {
					return fail(fmt.Errorf("consumer quota: %w", err))
				}
			}
			if from, to, ok := steadyWindow(procs, warm); ok && to.Sub(from) >= b.limitSteady {
				break
			}
			if died = lost(); died != nil || time.Now().After(deadline) {
				break
			}
			if time.Since(lastLog) >= 10*time.Second {
				lastLog = time.Now()
				if from, to, ok := steadyWindow(procs, warm); ok {
					progress("    steady window so far %s", to.Sub(from).Round(time.Second))
				} else {
					progress("    consumers warming up (%s)", time.Since(consBegan).Round(time.Second))
				}
			}
		}
		stopAll()
		if b.limitHeadroom > 0 {
			_ = b.consumerQuota(ctx, clientID, 0)
		}
		var failed []string
		for _, p := range procs {
			if p.err != nil && !p.stopped.Load() {
				failed = append(failed, fmt.Sprintf("%s: %v (see %s)", p.name, p.err, p.log))
			}
		}
		if len(failed) > 0 {
			res.Err = fmt.Errorf("%s", strings.Join(failed, "; "))
			return res
		}
		from, to, ok := steadyWindow(procs, warm)
		outOfRecords := false
		why := "the run timed out"
		if died != nil {
			why = fmt.Sprintf("%s stopped reporting", died.name)
		}
		if died != nil && !died.producer {
			// Did the consumer read the whole source topic? Its group's
			// committed offsets tell (the tool commits every 5 s).
			consumed := b.committed(ctx, died.group)
			if consumed >= res.SourceRecords*98/100 {
				why = fmt.Sprintf("%s read all %d records of the source topic", died.name, res.SourceRecords)
				outOfRecords = attempt < attempts && (!ok || to.Sub(from) < b.limitSteady)
			} else {
				why = fmt.Sprintf("%s stopped reporting after %d of %d records", died.name, consumed, res.SourceRecords)
			}
		}
		if !outOfRecords {
			if !ok {
				res.Err = fmt.Errorf("the perf tools did not all report past their warm-up: %s (see %s)", why, b.logDir)
				return res
			}
			res.Window = to.Sub(from)
			if res.Window < b.limitSteady {
				res.Short = why
			}
			var prod, cons []string
			for _, p := range procs {
				pts := p.points()
				r := (at(pts, to) - at(pts, from)) / to.Sub(from).Seconds()
				s := fmt.Sprintf("%.1f", r*float64(b.recordSize)/(1<<20))
				if p.producer {
					res.ProdRps += r
					prod = append(prod, s)
				} else {
					res.ConsRps += r
					cons = append(cons, s)
				}
			}
			res.PerProcess = fmt.Sprintf("producers %s; consumers %s MiB/s", strings.Join(prod, ", "), strings.Join(cons, ", "))
			return res
		}
		// It did: add records for the steady window at the fastest
		// consumer's rate, with a margin, and run again with fresh JVMs.
		var need int64
		for _, p := range procs {
			if p.producer {
				continue
			}
			pts := p.points()
			if len(pts) < warm+1 {
				need = max(need, 3*res.SourceRecords)
				continue
			}
			a, z := pts[warm-1], pts[len(pts)-1]
			rate := float64(z.cum-a.cum) / z.t.Sub(a.t).Seconds()
			need = max(need, a.cum+int64(rate*(b.limitSteady+perfInterval+20*time.Second).Seconds()))
		}
		need = max(need, res.SourceRecords*3/2)
		if b.limitMaxBytes > 0 {
			need = min(need, b.limitMaxBytes/int64(b.recordSize))
		}
		if need <= res.SourceRecords {
			res.Err = fmt.Errorf("the consumers read the whole source topic (%d records, the -limit-max-bytes cap) before %s of steady state", res.SourceRecords, b.limitSteady)
			return res
		}
		progress("  %s read all %d records before the steady window reached %s: adding %d records to the source topic",
			died.name, res.SourceRecords, b.limitSteady, need-res.SourceRecords)
		if _, err := preload(ctx, b.source, []string{srcTopic}, int32(b.tasks()), need-res.SourceRecords, b.recordSize); err != nil {
			res.Err = fmt.Errorf("top up the source topic: %w", err)
			return res
		}
		res.SourceRecords = need
	}
	res.Err = fmt.Errorf("no steady window after %d attempts", attempts)
	return res
}

// lastProduceRate is the producers' summed records/s over each one's last
// progress interval.
func lastProduceRate(procs []*perfProc) float64 {
	var sum float64
	for _, p := range procs {
		if !p.producer {
			continue
		}
		if pts := p.points(); len(pts) >= 2 {
			a, z := pts[len(pts)-2], pts[len(pts)-1]
			sum += float64(z.cum-a.cum) / z.t.Sub(a.t).Seconds()
		} else if len(pts) == 1 {
			sum += float64(pts[0].cum) / perfInterval.Seconds()
		}
	}
	return sum
}

// consumerQuota sets the consumer_byte_rate quota of clientID on the source
// (at least 1 MiB/s); 0 removes it.
func (b *harness) consumerQuota(ctx context.Context, clientID string, bytesPerSec float64) error {
	// The broker takes whole bytes only.
	op := kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Value: math.Floor(max(bytesPerSec, 1<<20))}
	if bytesPerSec == 0 {
		op = kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Remove: true}
	}
	res, err := b.srcAdm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &clientID}},
		Ops:    []kadm.AlterClientQuotaOp{op},
	}})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("%w %s", r.Err, r.ErrMessage)
		}
	}
	return nil
}

func allReported(procs []*perfProc) bool {
	for _, p := range procs {
		if len(p.points()) == 0 {
			return false
		}
	}
	return true
}

// committed is the sum of the committed offsets of group on the source.
func (b *harness) committed(ctx context.Context, group string) int64 {
	var sum int64
	for range 10 {
		offs, err := b.srcAdm.FetchOffsets(ctx, group)
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At > 0 {
					sum += o.At
				}
			})
			return sum
		}
		time.Sleep(500 * time.Millisecond)
	}
	return sum
}

// javaEnv is the environment of the JVMs replbench starts (perf tools,
// MirrorMaker 2): full JIT unless KAFKA_JVM_OPTS says otherwise (kafka.sh
// alone defaults to C1 only, which suits tests, not throughput).
func javaEnv() []string {
	env := proc.ChildEnv()
	if _, ok := os.LookupEnv("KAFKA_JVM_OPTS"); !ok {
		env = append(env, "KAFKA_JVM_OPTS=")
	}
	return env
}

func javaJVMOpts() string {
	if v := os.Getenv("KAFKA_JVM_OPTS"); v != "" {
		return v
	}
	return "full JIT"
}

func javaHeap() string {
	if v := os.Getenv("KAFKA_HEAP"); v != "" {
		return v
	}
	return "-Xmx512m"
}
