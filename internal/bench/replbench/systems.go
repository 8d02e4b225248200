package replbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	region      = "us-east-1"
	account     = "555555555555"
	accessKeyID = "AKIDREPLBENCH0000001"
	secretKey   = "replbench-secret-key"
	workerToken = "replbench-worker-token"
)

// sysResult is one system's row.
type sysResult struct {
	Name       string
	Copy       copyResult
	CPU        time.Duration // of the replicating processes, start → done
	CopyCPU    time.Duration // the same, first record → done (steady copying)
	RSS        int64         // peak RSS of the largest replicating process (a worker, or the MM2 JVM)
	ServeRSS   int64         // ours: peak RSS of serve
	Latency    *latencyResult
	LowLatency *latencyResult // ours: at 10% of our best throughput
	Err        error
}

// ours runs serve + workers fresh, creates a replicator for srcTopics (and
// latTopics), waits for the copy, optionally measures latency, deletes the
// replicator and stops everything.
func (b *harness) ours(ctx context.Context, workers int, srcTopics, latTopics []string, want int64, latRate float64) sysResult {
	name := fmt.Sprintf("replicator serve + %d worker", workers)
	if workers > 1 {
		name += "s"
	}
	res := sysResult{Name: name}
	tag := fmt.Sprintf("%s-%dw", b.runID, workers)
	clusterID := "src-" + tag
	alias := replicator.ApacheClusterAlias(clusterID)
	var procs []*proc.Proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop(stopGrace)
		}
	}()
	base := []string{"DATABASE_URL=" + b.dbURL, "REPLICATOR_LOG_LEVEL=info", "REPLICATOR_WORKER_TOKEN=" + workerToken}
	apiAddr, err := proc.FreeAddr()
	if err != nil {
		res.Err = err
		return res
	}
	serve, err := startProc(b.logDir, "serve-"+tag, proc.ChildEnv(append(base, "REPLICATOR_LISTEN_ADDR="+apiAddr, "REPLICATOR_REGION="+region,
		"REPLICATOR_ACCESS_KEYS="+accessKeyID+":"+secretKey+":"+account, "REPLICATOR_AUTO_MIGRATE=true")...), b.bin, "serve")
	if err != nil {
		res.Err = err
		return res
	}
	procs = append(procs, serve)
	apiURL := "http://" + apiAddr
	if res.Err = serve.WaitHTTP(apiURL+"/readyz", 60*time.Second); res.Err != nil {
		return res
	}
	for i := range workers {
		addr, err := proc.FreeAddr()
		if err != nil {
			res.Err = err
			return res
		}
		w, err := startProc(b.logDir, fmt.Sprintf("worker%d-%s", i+1, tag), proc.ChildEnv(append(append(base, "REPLICATOR_CONTROL_PLANE_URL="+apiURL,
			fmt.Sprintf("REPLICATOR_WORKER_ID=bench-worker%d", i+1), "REPLICATOR_WORKER_LISTEN_ADDR="+addr), b.workerEnv...)...), b.bin, "worker")
		if err != nil {
			res.Err = err
			return res
		}
		procs = append(procs, w)
		if res.Err = w.WaitHTTP("http://"+addr+"/healthz", 60*time.Second); res.Err != nil {
			return res
		}
	}
	progress("  %s up (api %s, logs in %s)", name, apiURL, b.logDir)
	sdk := awskafka.New(awskafka.Options{Region: region, BaseEndpoint: aws.String(apiURL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, "")})
	// Topic names end in a number (…-t000): one pattern per family, as
	// patterns are at most 249 characters.
	var pattern []string
	for _, ts := range [][]string{srcTopics, latTopics} {
		if len(ts) > 0 {
			pattern = append(pattern, regexp.QuoteMeta(strings.TrimRight(ts[0], "0123456789"))+"[0-9]+")
		}
	}
	alive := func() error {
		for _, p := range procs {
			if p.Exited() {
				return fmt.Errorf("%s exited: %v (see %s)", p.Name, p.Err(), p.Log)
			}
		}
		return nil
	}
	cpu0 := time.Duration(0)
	for _, p := range procs {
		cpu0 += bench.ProcessCPU(p.Pid())
	}
	start := time.Now()
	out, err := sdk.CreateReplicator(ctx, &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String("bench-" + tag),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::" + account + ":role/bench"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(clusterID), BootstrapBrokerString: aws.String(b.source)}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("dst-" + tag), BootstrapBrokerString: aws.String(b.target)}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String(clusterID), TargetKafkaClusterId: aws.String("dst-" + tag),
			TargetCompressionType: types.TargetCompressionTypeNone,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: pattern,
				StartingPosition:                &types.ReplicationStartingPosition{Type: types.ReplicationStartingPositionTypeEarliest},
				TopicNameConfiguration:          &types.ReplicationTopicNameConfiguration{Type: types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias},
				CopyTopicConfigurations:         aws.Bool(false),
				CopyAccessControlListsForTopics: aws.Bool(false),
				DetectAndCopyNewTopics:          aws.Bool(true)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{"replbench-none"},
				SynchroniseConsumerGroupOffsets: aws.Bool(false), DetectAndCopyNewConsumerGroups: aws.Bool(false)},
		}},
	})
	if err != nil {
		res.Err = fmt.Errorf("CreateReplicator: %w", err)
		return res
	}
	arn := aws.ToString(out.ReplicatorArn)
	dst := prefixed(alias+".", srcTopics)
	cpuAll := func() (d time.Duration) {
		for _, p := range procs {
			d += bench.ProcessCPU(p.Pid())
		}
		return d
	}
	var cpuFirst time.Duration
	res.Copy, res.Err = waitCopy(ctx, b.dstAdm, dst, want, start, b.timeout, alive, func() { cpuFirst = cpuAll() })
	res.Copy.Bytes = res.Copy.Records * int64(b.recordSize)
	res.CopyCPU = cpuAll() - cpuFirst
	for i, p := range procs {
		res.CPU += bench.ProcessCPU(p.Pid())
		if i == 0 {
			res.ServeRSS = bench.PeakRSS(p.Pid())
		} else {
			res.RSS = max(res.RSS, bench.PeakRSS(p.Pid()))
		}
	}
	res.CPU -= cpu0
	if res.Err == nil {
		progress("  copied %d records in %s: %.1f MiB/s, CPU %.1fs, worker peak RSS %d MiB", res.Copy.Records,
			(res.Copy.Done - res.Copy.FirstRecord).Round(time.Millisecond), res.Copy.mibps(), res.CPU.Seconds(), res.RSS>>20)
		if latRate < 0 && b.rateHook != nil {
			latRate = b.rateHook(res.Copy.rps())
		}
		if b.latRate > 0 && latRate != 0 {
			latRate = b.latRate
		}
		if latRate > 0 && len(latTopics) > 0 {
			progress("  latency: %.0f records/s for %s", latRate, b.latDur)
			l, err := measureLatency(ctx, b.source, b.target, latTopics, prefixed(alias+".", latTopics), b.partitions, b.recordSize, latRate, b.latDur, b.latWarm)
			if err != nil {
				res.Err = fmt.Errorf("latency: %w", err)
			} else {
				res.Latency = &l
				progress("  latency p50 %s p99 %s max %s (%d/%d records arrived)", l.P50, l.P99, l.Max, l.Received, l.Produced)
				// A second point at 10% load tells load from fixed delays.
				progress("  latency: %.0f records/s (10%% load) for %s", latRate/5, b.latDur)
				if l2, err := measureLatency(ctx, b.source, b.target, latTopics, prefixed(alias+".", latTopics), b.partitions, b.recordSize, latRate/5, b.latDur, b.latWarm); err == nil {
					res.LowLatency = &l2
					progress("  latency p50 %s p99 %s max %s (%d/%d records arrived)", l2.P50, l2.P99, l2.Max, l2.Received, l2.Produced)
				}
			}
		}
	}
	// Delete the replicator so that the next run's serve does not resume it.
	if _, err := sdk.DeleteReplicator(ctx, &awskafka.DeleteReplicatorInput{ReplicatorArn: &arn}); err == nil {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			_, err := sdk.DescribeReplicator(ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
			var nf *types.NotFoundException
			if errors.As(err, &nf) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return res
}

func prefixed(p string, topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = p + t
	}
	return out
}

// mm2 runs MirrorMaker 2 in dedicated mode with test/bench-replication/mm2.properties.
func (b *harness) mm2(ctx context.Context, srcTopics, latTopics []string, want int64, latRate float64) sysResult {
	res := sysResult{Name: "MirrorMaker 2 (dedicated, " + strconv.Itoa(b.tasks()) + " tasks)"}
	committed, err := os.ReadFile(filepath.Join(b.root, "test", "bench-replication", "mm2.properties"))
	if err != nil {
		res.Err = err
		return res
	}
	all := append(append([]string{}, srcTopics...), latTopics...)
	var quoted []string
	for _, t := range all {
		quoted = append(quoted, regexp.QuoteMeta(t))
	}
	props := string(committed) + fmt.Sprintf("\n# --- replbench overrides for this run\nsource.bootstrap.servers = %s\ntarget.bootstrap.servers = %s\nsource->target.topics = %s\ntasks.max = %d\n",
		b.source, b.target, strings.Join(quoted, "|"), b.tasks())
	file := filepath.Join(b.logDir, "mm2-"+b.runID+".properties")
	if err := os.WriteFile(file, []byte(props), 0o644); err != nil {
		res.Err = err
		return res
	}
	env := append(javaEnv(), "KAFKA_HEAP="+b.mm2Heap)
	start := time.Now()
	p, err := startProc(b.logDir, "mm2-"+b.runID, env, "bash", filepath.Join(b.root, "test", "kafka", "kafka.sh"), "run",
		"org.apache.kafka.connect.mirror.MirrorMaker", file, "--clusters", "target")
	if err != nil {
		res.Err = err
		return res
	}
	defer p.Stop(stopGrace)
	progress("  MirrorMaker 2 started (pid %d, heap %s, log %s)", p.Pid(), b.mm2Heap, p.Log)
	alive := func() error {
		if p.Exited() {
			return fmt.Errorf("MirrorMaker 2 exited: %v (see %s)", p.Err(), p.Log)
		}
		return nil
	}
	dst := prefixed("source.", srcTopics)
	var cpuFirst time.Duration
	res.Copy, res.Err = waitCopy(ctx, b.dstAdm, dst, want, start, b.timeout, alive, func() { cpuFirst = bench.ProcessCPU(p.Pid()) })
	res.Copy.Bytes = res.Copy.Records * int64(b.recordSize)
	res.CPU = bench.ProcessCPU(p.Pid())
	res.CopyCPU = res.CPU - cpuFirst
	res.RSS = bench.PeakRSS(p.Pid())
	if res.Err == nil {
		progress("  copied %d records in %s: %.1f MiB/s, CPU %.1fs, peak RSS %d MiB", res.Copy.Records,
			(res.Copy.Done - res.Copy.FirstRecord).Round(time.Millisecond), res.Copy.mibps(), res.CPU.Seconds(), res.RSS>>20)
		if latRate > 0 && len(latTopics) > 0 {
			progress("  latency: %.0f records/s for %s", latRate, b.latDur)
			l, err := measureLatency(ctx, b.source, b.target, latTopics, prefixed("source.", latTopics), b.partitions, b.recordSize, latRate, b.latDur, b.latWarm)
			if err != nil {
				res.Err = fmt.Errorf("latency: %w", err)
			} else {
				res.Latency = &l
				progress("  latency p50 %s p99 %s max %s (%d/%d records arrived)", l.P50, l.P99, l.Max, l.Received, l.Produced)
			}
		}
	}
	return res
}
