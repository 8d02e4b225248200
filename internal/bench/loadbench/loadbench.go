// Package loadbench is `bench load` (make bench-load): it holds the API
// under an open-loop load while replication runs, and reports latency,
// errors and the replicator's lag.
//
//	go run ./cmd/bench load -dev                     # starts `replicator dev` itself
//	go run ./cmd/bench load -endpoint http://127.0.0.1:8080 -key AKIA... -secret ... \
//	    -source 127.0.0.1:19092 -target 127.0.0.1:19093
//
// It creates a replicator between the two clusters (topic "orders",
// EARLIEST), waits until it runs and has caught up, then for -duration:
//
//   - produces -produce-rate records/s to "orders" on the source (franz-go);
//   - offers -rate requests/s (open loop: request i is due at start+i/rate,
//     whether or not earlier ones have finished) over -clients keep-alive
//     connections, one per client, mixing DescribeReplicator (40 %),
//     ListReplicators (20 %), ListTagsForResource (20 %) and the status
//     extension (20 %), all SigV4-signed. Latency is measured from the
//     scheduled send time, so time spent waiting for a free client counts;
//   - samples the lag every second: the status extension's summary.messageLag
//     (what the workers report) and the end-offset difference between the
//     source topic and the target topic (what a consumer would see).
//
// After the load it keeps producing for -settle and checks that the lag
// came back to at most -lag-bound records, then stops producing and measures
// how long the target takes to hold every record. It prints a markdown table
// and whether the goals were met; the exit code is 1 when they were not.
package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

type config struct {
	clients     int
	duration    time.Duration
	rate        float64
	produceRate int
	endpoint    string
	key, secret string
	region      string
	source      string
	target      string
	dev         bool
	settle      time.Duration
	drain       time.Duration
	lagBound    int64
	p99Goal     time.Duration
	topic       string
	bin         string
}

// Main runs the benchmark with the command-line arguments args (after the
// subcommand) and returns the exit code: 1 when a goal was not met, 2 when
// the run failed.
func Main(args []string) int {
	var c config
	fs := flag.NewFlagSet("bench load", flag.ExitOnError)
	fs.IntVar(&c.clients, "clients", 200, "concurrent API clients (one keep-alive connection each)")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long the API load runs")
	fs.Float64Var(&c.rate, "rate", 1000, "API requests offered per second (open loop)")
	fs.IntVar(&c.produceRate, "produce-rate", 500, "records per second produced to the source topic during the run")
	fs.StringVar(&c.endpoint, "endpoint", "", "API endpoint, e.g. http://127.0.0.1:8080 (not with -dev)")
	fs.StringVar(&c.key, "key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key id")
	fs.StringVar(&c.secret, "secret", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret access key")
	fs.StringVar(&c.region, "region", "us-east-1", "region of the SigV4 scope")
	fs.StringVar(&c.source, "source", "127.0.0.1:19092", "source cluster bootstrap (not with -dev)")
	fs.StringVar(&c.target, "target", "127.0.0.1:19093", "target cluster bootstrap (not with -dev)")
	fs.BoolVar(&c.dev, "dev", false, "build and start `replicator dev` on free ports and use it")
	fs.DurationVar(&c.settle, "settle", 10*time.Second, "after the load: producing goes on this long; the lag must be back under -lag-bound by then")
	fs.DurationVar(&c.drain, "drain", 30*time.Second, "after producing stops: how long the target may take to hold every record")
	fs.Int64Var(&c.lagBound, "lag-bound", 300, "lag (records) the replicator must return to after the load")
	fs.DurationVar(&c.p99Goal, "p99", 50*time.Millisecond, "p99 latency goal")
	fs.StringVar(&c.topic, "topic", "orders", "source topic")
	fs.StringVar(&c.bin, "bin", "", "with -dev: a prebuilt replicator binary (default: go build ./cmd/replicator)")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench load:", err)
		return 2
	}
	if !ok {
		return 1
	}
	return 0
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench load: "+format+"\n", a...)
}

func run(ctx context.Context, c config) (bool, error) {
	if c.dev {
		d, err := startDev(ctx, c.bin)
		if err != nil {
			return false, err
		}
		defer d.stop()
		c.endpoint, c.key, c.secret, c.region, c.source, c.target = d.endpoint, d.key, d.secret, d.region, d.source, d.target
	}
	if c.endpoint == "" || c.key == "" || c.secret == "" {
		return false, errors.New("give -dev, or -endpoint, -key and -secret")
	}
	c.endpoint = strings.TrimRight(c.endpoint, "/")
	progress("endpoint %s, source %s, target %s", c.endpoint, c.source, c.target)

	// --- the replicator ---
	sdk := awskafka.New(awskafka.Options{Region: c.region, BaseEndpoint: aws.String(c.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(c.key, c.secret, "")})
	tag := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	srcID, dstID := "loadsrc-"+tag, "loaddst-"+tag
	out, err := sdk.CreateReplicator(ctx, &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String("loadtest-" + tag),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/loadtest"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(srcID), BootstrapBrokerString: aws.String(c.source)}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(dstID), BootstrapBrokerString: aws.String(c.target)}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String(srcID), TargetKafkaClusterId: aws.String(dstID),
			TargetCompressionType: types.TargetCompressionTypeNone,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: []string{c.topic},
				StartingPosition:       &types.ReplicationStartingPosition{Type: types.ReplicationStartingPositionTypeEarliest},
				TopicNameConfiguration: &types.ReplicationTopicNameConfiguration{Type: types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias},
				DetectAndCopyNewTopics: aws.Bool(false), CopyTopicConfigurations: aws.Bool(true)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{"loadtest-none"}},
		}},
		Tags: map[string]string{"purpose": "loadtest"},
	})
	if err != nil {
		return false, fmt.Errorf("CreateReplicator: %w", err)
	}
	arn := aws.ToString(out.ReplicatorArn)
	targetTopic := replicator.ApacheClusterAlias(srcID) + "." + c.topic
	progress("replicator %s (target topic %s)", arn, targetTopic)
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := sdk.DeleteReplicator(dctx, &awskafka.DeleteReplicatorInput{ReplicatorArn: aws.String(arn)}); err != nil {
			progress("warning: DeleteReplicator: %v", err)
		}
	}()

	signer := sigv4.NewSigner(c.key, c.secret, c.region, "kafka")
	label := bench.EscapeLabel(arn)
	statusURL := c.endpoint + "/replication/v1/replicators/" + label + "/status"
	ctl := bench.NewClient(4)

	srcCl, err := kgo.NewClient(kgo.SeedBrokers(c.source), kgo.DefaultProduceTopic(c.topic), kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		return false, err
	}
	defer srcCl.Close()
	dstCl, err := kgo.NewClient(kgo.SeedBrokers(c.target))
	if err != nil {
		return false, err
	}
	defer dstCl.Close()
	lagOf := offsetLag(kadm.NewClient(srcCl), kadm.NewClient(dstCl), c.topic, targetTopic)

	// Wait for RUNNING and for the target to hold what the source has.
	progress("waiting for RUNNING and the initial catch-up")
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := getStatus(ctx, ctl, signer, statusURL)
		lag, lerr := lagOf(ctx)
		if err == nil && lerr == nil && st.ReplicatorState == "RUNNING" && lag == 0 && st.Summary.LeasedJobs == st.Summary.Jobs && st.Summary.Jobs > 0 {
			break
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("replicator not RUNNING and caught up in 90 s (state %q, offset lag %d, status err %v, lag err %v)", st.ReplicatorState, lag, err, lerr)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}

	// --- producer: from now until the end of the settle window ---
	prodCtx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	var produced, prodErrs atomic.Int64
	var prodWG sync.WaitGroup
	prodWG.Add(1)
	go func() {
		defer prodWG.Done()
		produce(prodCtx, srcCl, c.produceRate, &produced, &prodErrs)
	}()

	// --- lag sampler: every second, for the whole run ---
	type sample struct {
		at        time.Duration
		status    int64
		offsets   int64
		statusErr bool
	}
	var samplesMu sync.Mutex
	var samples []sample
	runStart := time.Now()
	sampCtx, stopSampling := context.WithCancel(ctx)
	var sampWG sync.WaitGroup
	sampWG.Add(1)
	go func() {
		defer sampWG.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sampCtx.Done():
				return
			case <-t.C:
			}
			s := sample{at: time.Since(runStart), status: -1, offsets: -1}
			if st, err := getStatus(sampCtx, ctl, signer, statusURL); err == nil {
				s.status = st.Summary.MessageLag
			} else {
				s.statusErr = true
			}
			if lag, err := lagOf(sampCtx); err == nil {
				s.offsets = lag
			}
			samplesMu.Lock()
			samples = append(samples, s)
			samplesMu.Unlock()
		}
	}()

	// --- the API load ---
	progress("load: %.0f req/s offered over %d clients for %s, producing %d records/s", c.rate, c.clients, c.duration, c.produceRate)
	scen := []struct {
		name   string
		weight int
		path   string
		query  string
	}{
		{"DescribeReplicator", 40, "/replication/v1/replicators/" + label, ""},
		{"ListReplicators", 20, "/replication/v1/replicators", "maxResults=20"},
		{"ListTagsForResource", 20, "/v1/tags/" + label, ""},
		{"DescribeReplicatorStatus", 20, "/replication/v1/replicators/" + label + "/status", ""},
	}
	var pick []int
	for i, s := range scen {
		for range s.weight {
			pick = append(pick, i)
		}
	}
	res := openLoop(ctx, c, signer, func(r *rand.Rand) (string, string, string) {
		s := scen[pick[r.IntN(len(pick))]]
		return s.name, s.path, s.query
	})
	loadEnd := time.Since(runStart)
	progress("load done: %d sent, %d ok, %d errors; settling %s", res.sent, res.ok, res.errors, c.settle)

	select {
	case <-ctx.Done():
	case <-time.After(c.settle):
	}
	stopProducing()
	prodWG.Wait()
	settleEnd := time.Since(runStart)
	// Drain: the target must get every record.
	drainStart := time.Now()
	drainTime := time.Duration(-1)
	for time.Since(drainStart) < c.drain && ctx.Err() == nil {
		if lag, err := lagOf(ctx); err == nil && lag == 0 {
			drainTime = time.Since(drainStart)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopSampling()
	sampWG.Wait()

	// --- report ---
	var maxStatus, maxOff, lastStatus, lastOff int64 = -1, -1, -1, -1
	var maxStatusLoad, maxOffLoad int64 = -1, -1
	backAt := time.Duration(-1) // first sample after the load with both lags within the bound
	statusErrs := 0
	for _, s := range samples {
		if s.statusErr {
			statusErrs++
		}
		maxStatus, maxOff = max(maxStatus, s.status), max(maxOff, s.offsets)
		if s.at <= loadEnd {
			maxStatusLoad, maxOffLoad = max(maxStatusLoad, s.status), max(maxOffLoad, s.offsets)
		}
		if s.at > loadEnd && s.at <= settleEnd {
			if s.status >= 0 && s.offsets >= 0 {
				lastStatus, lastOff = s.status, s.offsets
			}
			if backAt < 0 && s.status >= 0 && s.status <= c.lagBound && s.offsets >= 0 && s.offsets <= c.lagBound {
				backAt = s.at - loadEnd
			}
		}
	}
	p50, p99, pmax := res.hist.Quantile(0.50), res.hist.Quantile(0.99), res.hist.Max()
	achieved := float64(res.sent) / res.elapsed.Seconds()

	fmt.Printf("\n## API load while replicating (%s, %d clients, open loop)\n\n", c.duration, c.clients)
	fmt.Printf("| offered req/s | achieved req/s | requests | errors | p50 | p99 | max | produced rec/s | max lag during load (status / offsets) | max lag overall | lag %s after load (status / offsets) | back ≤ %d after | drain to 0 |\n", c.settle, c.lagBound)
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %.0f | %.0f | %d | %d | %s | %s | %s | %.0f | %d / %d | %d / %d | %d / %d | %s | %s |\n\n",
		c.rate, achieved, res.sent, res.errors, ms(p50), ms(p99), ms(pmax),
		float64(produced.Load())/settleEnd.Seconds(), maxStatusLoad, maxOffLoad, max(maxStatus, 0), max(maxOff, 0),
		lastStatus, lastOff, durOrNever(backAt), durOrNever(drainTime))

	fmt.Printf("| operation | requests | errors | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	names := make([]string, 0, len(res.byOp))
	for n := range res.byOp {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o := res.byOp[n]
		fmt.Printf("| %s | %d | %d | %s | %s | %s |\n", n, o.hist.Count()+o.errors, o.errors, ms(o.hist.Quantile(0.5)), ms(o.hist.Quantile(0.99)), ms(o.hist.Max()))
	}
	fmt.Println()
	if res.errors > 0 {
		fmt.Printf("errors: %s\n  sample: %s\n\n", res.errorSummary(), res.sample)
	}
	fmt.Printf("producer: %d records acknowledged, %d produce errors; lag samples: %d (%d status errors)\n", produced.Load(), prodErrs.Load(), len(samples), statusErrs)
	fmt.Printf("latency is measured from each request's scheduled send time; the achieved rate is requests sent / load window (%s)\n\n", res.elapsed.Round(time.Millisecond))

	goalErr := res.errors == 0
	goalP99 := res.hist.Count() > 0 && p99 < c.p99Goal
	goalLag := backAt >= 0 && lastStatus >= 0 && lastStatus <= c.lagBound && lastOff >= 0 && lastOff <= c.lagBound && drainTime >= 0 && prodErrs.Load() == 0
	goalRate := achieved >= 0.95*c.rate
	fmt.Printf("Goals:\n")
	fmt.Printf("- zero errors: %s (%d)\n", verdict(goalErr), res.errors)
	fmt.Printf("- p99 < %s: %s (%s)\n", c.p99Goal, verdict(goalP99), ms(p99))
	fmt.Printf("- offered rate achieved (≥ 95 %%): %s (%.0f of %.0f req/s)\n", verdict(goalRate), achieved, c.rate)
	fmt.Printf("- lag bounded (≤ %d records within %s after the load, every record on the target within %s after producing stops): %s\n",
		c.lagBound, c.settle, c.drain, verdict(goalLag))
	return goalErr && goalP99 && goalLag && goalRate, nil
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func durOrNever(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(100 * time.Millisecond).String()
}

// --- open-loop load ---

type opStats struct {
	hist   bench.Histogram
	errors uint64
}

type loadResult struct {
	sent, ok, errors uint64
	elapsed          time.Duration
	hist             bench.Histogram
	byOp             map[string]*opStats
	byErr            map[string]uint64
	sample           string
}

func (r *loadResult) errorSummary() string {
	var parts []string
	for k, n := range r.byErr {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

type job struct {
	due         time.Time
	op          string
	path, query string
}

// openLoop offers c.rate requests per second for c.duration: request i is
// due at start + i/rate. Due requests queue for the next free client (each
// client owns one keep-alive connection); latency runs from the due time to
// the end of the response.
func openLoop(ctx context.Context, c config, signer *sigv4.Signer, next func(*rand.Rand) (op, path, query string)) loadResult {
	type workerRes struct {
		ok, errs uint64
		hist     bench.Histogram
		byOp     map[string]*opStats
		byErr    map[string]uint64
		sample   string
	}
	jobs := make(chan job, int(c.rate*c.duration.Seconds())+1024)
	results := make([]workerRes, c.clients)
	clients := make([]*http.Client, c.clients)
	for i := range clients {
		clients[i] = oneConnClient()
	}
	// Open every connection first (not measured), so the run holds them all.
	var warm sync.WaitGroup
	for i := range clients {
		warm.Add(1)
		go func() {
			defer warm.Done()
			_, _, _ = bench.Send(ctx, clients[i], signer, c.endpoint+"/replication/v1/replicators?maxResults=1")
		}()
	}
	warm.Wait()

	var wg sync.WaitGroup
	for w := range c.clients {
		wg.Add(1)
		go func(res *workerRes, cl *http.Client) {
			defer wg.Done()
			res.byOp, res.byErr = map[string]*opStats{}, map[string]uint64{}
			for j := range jobs {
				if ctx.Err() != nil {
					return
				}
				status, kind, detail := bench.Send(ctx, cl, signer, bench.URL(c.endpoint, j.path, j.query))
				lat := time.Since(j.due)
				o := res.byOp[j.op]
				if o == nil {
					o = &opStats{}
					res.byOp[j.op] = o
				}
				if status >= 200 && status < 300 {
					res.ok++
					res.hist.Record(lat)
					o.hist.Record(lat)
					continue
				}
				res.errs++
				o.errors++
				res.byErr[kind]++
				if res.sample == "" {
					res.sample = detail
				}
			}
		}(&results[w], clients[w])
	}

	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	total := int(c.rate * c.duration.Seconds())
	start := time.Now()
	var sent uint64
	for i := range total {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / c.rate))
		if ctx.Err() != nil {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		op, path, query := next(rng)
		jobs <- job{due: due, op: op, path: path, query: query}
		sent++
	}
	elapsed := time.Since(start)
	close(jobs)
	wg.Wait()

	out := loadResult{sent: sent, elapsed: elapsed, byOp: map[string]*opStats{}, byErr: map[string]uint64{}}
	for i := range results {
		r := &results[i]
		out.ok += r.ok
		out.errors += r.errs
		out.hist.Merge(&r.hist)
		for k, o := range r.byOp {
			d := out.byOp[k]
			if d == nil {
				d = &opStats{}
				out.byOp[k] = d
			}
			d.hist.Merge(&o.hist)
			d.errors += o.errors
		}
		for k, n := range r.byErr {
			out.byErr[k] += n
		}
		if out.sample == "" {
			out.sample = r.sample
		}
	}
	return out
}

func oneConnClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
		},
	}
}

// --- status and lag ---

type status struct {
	ReplicatorState string `json:"replicatorState"`
	Summary         struct {
		Jobs       int   `json:"jobs"`
		LeasedJobs int   `json:"leasedJobs"`
		MessageLag int64 `json:"messageLag"`
	} `json:"summary"`
}

func getStatus(ctx context.Context, cl *http.Client, signer *sigv4.Signer, u string) (status, error) {
	var st status
	code, body, err := bench.Get(ctx, cl, signer, u)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("status: HTTP %d: %s", code, strings.TrimSpace(string(body)))
	}
	return st, json.Unmarshal(body, &st)
}

// offsetLag returns a function giving the records on the source topic that
// are not yet on the target topic: the sum over partitions of the end-offset
// differences (a missing target topic counts as empty).
func offsetLag(src, dst *kadm.Client, srcTopic, dstTopic string) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		so, err := src.ListEndOffsets(ctx, srcTopic)
		if err != nil {
			return 0, err
		}
		if err := so.Error(); err != nil {
			return 0, err
		}
		do, err := dst.ListEndOffsets(ctx, dstTopic)
		if err != nil {
			return 0, err
		}
		var lag int64
		so.Each(func(o kadm.ListedOffset) {
			end := o.Offset
			if d, ok := do.Lookup(dstTopic, o.Partition); ok && d.Err == nil {
				end -= d.Offset
			}
			lag += max(end, 0)
		})
		return lag, nil
	}
}

// produce sends rate records/s to the client's default topic in 10 ms steps
// until ctx ends, then flushes.
func produce(ctx context.Context, cl *kgo.Client, rate int, acked, errs *atomic.Int64) {
	if rate <= 0 {
		return
	}
	value := []byte(strings.Repeat("x", 100))
	start := time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var n int64
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = cl.Flush(fctx)
			cancel()
			return
		case <-t.C:
		}
		due := int64(time.Since(start).Seconds() * float64(rate))
		for ; n < due; n++ {
			r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", n)), Value: value}
			cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err != nil {
					errs.Add(1)
					return
				}
				acked.Add(1)
			})
		}
	}
}

// --- replicator dev ---

type devProc struct {
	cmd                                           *exec.Cmd
	dir                                           string
	done                                          chan struct{}
	endpoint, key, secret, region, source, target string
}

// startDev builds the replicator binary and starts `replicator dev` on free
// ports, parsing what it prints.
func startDev(ctx context.Context, bin string) (*devProc, error) {
	dir, err := os.MkdirTemp("", "loadtest-dev-")
	if err != nil {
		return nil, err
	}
	if bin == "" {
		bin = filepath.Join(dir, "replicator")
		progress("building replicator")
		if err := bench.BuildReplicator(ctx, bin); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "dev", "--listen-addr", addr, "--source-port", "0", "--target-port", "0", "--log-level", "warn")
	errLog, err := os.Create(filepath.Join(dir, "dev.err"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errLog
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // our Ctrl-C is not its Ctrl-C: we stop it ourselves
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &devProc{cmd: cmd, dir: dir, done: make(chan struct{})}
	fields := map[string]*string{"endpoint": &d.endpoint, "region": &d.region, "access key": &d.key, "secret key": &d.secret,
		"source cluster": &d.source, "target cluster": &d.target}
	got := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			for k, p := range fields {
				if rest, ok := strings.CutPrefix(line, "  "+k+" "); ok && *p == "" {
					*p = strings.Fields(rest)[0]
					if n++; n == len(fields) {
						close(got)
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); errLog.Close(); close(d.done) }()
	select {
	case <-got:
	case <-d.done:
		b, _ := os.ReadFile(errLog.Name())
		os.RemoveAll(dir)
		return nil, fmt.Errorf("replicator dev exited: %s", strings.TrimSpace(string(b)))
	case <-time.After(90 * time.Second):
		d.stop()
		return nil, errors.New("replicator dev printed no access key in 90 s")
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
	if _, err := url.Parse(d.endpoint); err != nil {
		d.stop()
		return nil, fmt.Errorf("dev endpoint %q: %w", d.endpoint, err)
	}
	progress("replicator dev is up (pid %d)", cmd.Process.Pid)
	return d, nil
}

// stop sends SIGINT (what Ctrl-C does) and waits, then SIGKILL after 20 s.
func (d *devProc) stop() {
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		progress("replicator dev did not stop in 20 s; killing it")
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	os.RemoveAll(d.dir)
}
