package workers_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/internal/simengine"
	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
	"github.com/openreplicator/replicator/workers"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return testutil.Eventually(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("condition not met")
	})
}

const token = "test-worker-token"

var key = sigv4.Key{AccessKeyID: "AKIDFLEETFLEETFLEET0", SecretAccessKey: "fleet-secret", AccountID: "333333333333"}

// fleetEnv is a control plane (API + scheduler) over a fresh database and
// a simulated engine shared by the workers the test starts.
type fleetEnv struct {
	t     *testing.T
	url   string
	ttl   time.Duration
	store *postgres.Store
	sdk   *kafka.Client
	sim   *simengine.Engine
}

func newFleet(t *testing.T, ttl time.Duration, partitions int) *fleetEnv {
	t.Helper()
	return newFleetWith(t, ttl, func(string) []fleet.TopicInfo {
		var ps []fleet.PartitionInfo
		for p := range partitions {
			ps = append(ps, fleet.PartitionInfo{Partition: int32(p), Latest: 100})
		}
		return []fleet.TopicInfo{{Name: "orders", Partitions: ps}}
	}, nil)
}

// newFleetWith is newFleet with each replicator's source topology (by
// replicator name) and the control plane's configuration adjusted by
// config (nil: as is).
func newFleetWith(t *testing.T, ttl time.Duration, topology func(replicatorName string) []fleet.TopicInfo, config func(*api.Config)) *fleetEnv {
	t.Helper()
	store := pgtest.Store(t)
	cfg := api.Config{Region: "us-east-1", Store: store, Fleet: store, WorkerToken: token, LeaseTTL: ttl,
		Auth: api.SigV4(sigv4.NewVerifier("us-east-1", "kafka", []sigv4.Key{key}))}
	if config != nil {
		config(&cfg)
	}
	srv := httptest.NewServer(api.NewServer(cfg))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go maintenance.New(store, maintenance.Config{LeaseTTL: ttl, Tick: 100 * time.Millisecond}).Run(ctx)
	sim := simengine.New(topology)
	sdk := kafka.New(kafka.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	return &fleetEnv{t: t, url: srv.URL, ttl: ttl, store: store, sdk: sdk, sim: sim}
}

// switchable wraps the control-plane client so a test can cut a worker off
// (a dead process) or pause it (a stopped process).
type switchable struct {
	workers.ControlPlane
	dead   atomic.Bool
	paused sync.RWMutex
}

var errDead = errors.New("process is dead")

func (s *switchable) gate() error {
	s.paused.RLock()
	defer s.paused.RUnlock()
	if s.dead.Load() {
		return errDead
	}
	return nil
}

func (s *switchable) Acquire(ctx context.Context, r fleet.AcquireRequest) (fleet.AcquireResponse, error) {
	if err := s.gate(); err != nil {
		return fleet.AcquireResponse{}, err
	}
	return s.ControlPlane.Acquire(ctx, r)
}

func (s *switchable) Heartbeat(ctx context.Context, r fleet.HeartbeatRequest) (fleet.HeartbeatResponse, error) {
	if err := s.gate(); err != nil {
		return fleet.HeartbeatResponse{}, err
	}
	return s.ControlPlane.Heartbeat(ctx, r)
}

func (s *switchable) Release(ctx context.Context, r fleet.ReleaseRequest) error {
	if err := s.gate(); err != nil {
		return err
	}
	return s.ControlPlane.Release(ctx, r)
}

type runningWorker struct {
	w      *workers.Worker
	cp     *switchable
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *fleetEnv) startWorker(id string) *runningWorker {
	f.t.Helper()
	return f.startWorkerWith(id, f.sim)
}

// startWorkerWith starts a worker that runs its jobs with engine.
func (f *fleetEnv) startWorkerWith(id string, engine fleet.Engine) *runningWorker {
	f.t.Helper()
	c, err := workers.NewClient(f.url, token)
	if err != nil {
		f.t.Fatal(err)
	}
	cp := &switchable{ControlPlane: c}
	var log *slog.Logger
	if os.Getenv("WORKER_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w := workers.New(workers.Config{ID: id, ControlPlane: cp, Engine: engine, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{w: w, cp: cp, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(rw.done); _ = w.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-rw.done })
	return rw
}

// kill ends a worker like SIGKILL: no drain, no release.
func (f *fleetEnv) kill(rw *runningWorker) {
	rw.cp.dead.Store(true)
	f.sim.Forget(rw.w.ID())
	rw.cancel()
	<-rw.done
}

// stop ends a worker like SIGTERM.
func (rw *runningWorker) stop() {
	rw.cancel()
	<-rw.done
}

func (f *fleetEnv) create(name string) string {
	f.t.Helper()
	out, err := f.sdk.CreateReplicator(context.Background(), &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::333333333333:role/R"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("src"), BootstrapBrokerString: aws.String("127.0.0.1:1")}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("dst"), BootstrapBrokerString: aws.String("127.0.0.1:2")}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{SourceKafkaClusterId: aws.String("src"), TargetKafkaClusterId: aws.String("dst"),
			TargetCompressionType:    types.TargetCompressionTypeNone,
			TopicReplication:         &types.TopicReplication{TopicsToReplicate: []string{".*"}},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.ReplicatorArn)
}

func (f *fleetEnv) state(arn string) types.ReplicatorState {
	d, err := f.sdk.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil {
		return ""
	}
	return d.ReplicatorState
}

// owners returns job → owner for the leases valid now, from the database.
func (f *fleetEnv) owners() map[int64]string {
	f.t.Helper()
	rows, err := f.store.Pool().Query(context.Background(), `SELECT id, owner FROM jobs WHERE owner IS NOT NULL AND lease_expires_at > now()`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var o string
		if err := rows.Scan(&id, &o); err != nil {
			f.t.Fatal(err)
		}
		out[id] = o
	}
	return out
}

func (f *fleetEnv) jobCount() int {
	var n int
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func countBy(m map[int64]string) map[string]int {
	out := map[string]int{}
	for _, o := range m {
		out[o]++
	}
	return out
}

func TestRunningSoonAfterCreate(t *testing.T) {
	f := newFleet(t, 3*time.Second, 6)
	f.startWorker("w1")
	f.startWorker("w2")
	start := time.Now()
	arn := f.create("quick")
	took := eventually(t, 5*time.Second, "RUNNING after create", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	t.Logf("CREATING → RUNNING in %s", time.Since(start).Round(time.Millisecond))
	_ = took
	if n := f.jobCount(); n != 7 {
		t.Fatalf("%d jobs, want 1 metadata + 6 partitions", n)
	}
	// Spread: 7 jobs over 2 workers, at most ceil(7/2) = 4 each.
	eventually(t, 3*time.Second, "all jobs leased", func() bool { return len(f.owners()) == 7 })
	for w, n := range countBy(f.owners()) {
		if n > 4 {
			t.Errorf("%s holds %d jobs, more than its share of 4", w, n)
		}
	}
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
	// The control plane's metrics show the fleet at work.
	eventually(t, 5*time.Second, "fleet metrics", func() bool {
		resp, err := http.Get(f.url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body := string(b)
		return metricAtLeast(body, `replicator_fleet_message_lag{account="333333333333",replicator="quick"}`, 1) &&
			metricAtLeast(body, `replicator_worker_heartbeat_age_seconds{worker="w1"}`, 0) &&
			metricAtLeast(body, `replicator_leases_granted_total`, 7) &&
			metricAtLeast(body, `replicator_worker_heartbeats_total`, 1) &&
			metricAtLeast(body, `replicator_lease_renewals_total`, 7)
	})
}

// metricAtLeast reports whether the exposition text has series at a value
// of at least min.
func metricAtLeast(body, series string, min float64) bool {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f >= min
		}
	}
	return false
}

func TestKilledWorkerJobsMove(t *testing.T) {
	ttl := 2 * time.Second
	f := newFleet(t, ttl, 8)
	w1 := f.startWorker("w1")
	f.startWorker("w2")
	f.startWorker("w3")
	arn := f.create("failover")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	eventually(t, 3*time.Second, "all 9 jobs leased", func() bool { return len(f.owners()) == 9 })
	held := countBy(f.owners())["w1"]
	if held == 0 {
		t.Fatal("w1 holds nothing to fail over")
	}
	f.kill(w1)
	killed := time.Now()
	took := eventually(t, ttl+2*time.Second, "w1's jobs leased elsewhere", func() bool {
		o := f.owners()
		return len(o) == 9 && countBy(o)["w1"] == 0
	})
	t.Logf("%d jobs of a killed worker re-leased in %s (TTL %s)", held, time.Since(killed).Round(time.Millisecond), ttl)
	_ = took
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
	eventually(t, 3*time.Second, "RUNNING again", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
}

func TestGracefulStopMovesJobsAtOnce(t *testing.T) {
	f := newFleet(t, 10*time.Second, 8)
	w1 := f.startWorker("w1")
	f.startWorker("w2")
	arn := f.create("graceful")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	eventually(t, 3*time.Second, "all 9 jobs leased", func() bool { return len(f.owners()) == 9 })
	// Remember w1's checkpoints' owner state, then stop it gracefully.
	stopped := time.Now()
	w1.stop()
	// Well under the 10 s TTL: the jobs were released, not expired (the
	// fleet benchmark measures how fast).
	eventually(t, 3*time.Second, "w1's jobs at w2", func() bool { return countBy(f.owners())["w2"] == 9 })
	t.Logf("graceful stop: jobs moved in %s", time.Since(stopped).Round(time.Millisecond))
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
}

func TestRebalanceOnJoinNeverOwnsTwice(t *testing.T) {
	f := newFleet(t, 5*time.Second, 11)
	f.startWorker("w1")
	f.startWorker("w2")
	arn := f.create("rebalance")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	eventually(t, 3*time.Second, "all 12 jobs leased", func() bool { return len(f.owners()) == 12 })
	before := f.owners()
	f.startWorker("w3")
	// 12 jobs over 3 workers: 4 each; only the excess moves.
	eventually(t, 5*time.Second, "w3 gets its share", func() bool {
		c := countBy(f.owners())
		return c["w3"] == 4 && c["w1"] == 4 && c["w2"] == 4
	})
	after := f.owners()
	moved := 0
	for j, o := range after {
		if before[j] != o {
			moved++
		}
	}
	if moved != 4 {
		t.Errorf("%d jobs moved, want exactly 4 (w3's share)", moved)
	}
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatal(v)
	}
}

func TestZombieCannotHeartbeatOrCheckpoint(t *testing.T) {
	ttl := 2 * time.Second
	f := newFleet(t, ttl, 4)
	z := f.startWorker("zombie")
	arn := f.create("zombie")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	eventually(t, 3*time.Second, "zombie holds all jobs", func() bool { return countBy(f.owners())["zombie"] == 5 })
	zombieLeases := z.w.Leases()

	// Pause it past its lease (SIGSTOP): its calls block.
	z.cp.paused.Lock()
	f.sim.Forget("zombie") // a stopped process runs nothing
	f.startWorker("fresh")
	eventually(t, ttl+2*time.Second, "jobs re-leased to fresh", func() bool { return countBy(f.owners())["fresh"] == 5 })

	// What the zombie would send if it woke up now: refused, nothing stored.
	ctx := context.Background()
	var reports []fleet.JobReport
	for _, l := range zombieLeases {
		cp := int64(999_999)
		reports = append(reports, fleet.JobReport{JobID: l.JobID, Epoch: l.Epoch, Token: l.Token, Checkpoint: &cp})
	}
	res, err := f.store.Heartbeat(ctx, "zombie", reports, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Renewed) != 0 || len(res.Lost) != len(reports) {
		t.Fatalf("zombie heartbeat renewed %v, lost %v", res.Renewed, res.Lost)
	}
	var n int
	if err := f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM checkpoints WHERE next_offset = 999999`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("zombie checkpoint stored (%d, %v)", n, err)
	}
	if _, err := f.store.Release(ctx, "zombie", reports, false); err != nil {
		t.Fatal(err)
	}
	if countBy(f.owners())["fresh"] != 5 {
		t.Fatal("a zombie's release freed jobs it no longer holds")
	}

	// Resume it: its pending heartbeat comes back lost and it drops the jobs.
	z.cp.paused.Unlock()
	eventually(t, 5*time.Second, "zombie drops its jobs", func() bool { return len(z.w.Held()) == 0 })
	if countBy(f.owners())["fresh"] != 5 {
		t.Fatal("fresh lost jobs to the zombie")
	}
}

func TestDeleteReleasesLeasesThenDisappears(t *testing.T) {
	f := newFleet(t, 10*time.Second, 3)
	w := f.startWorker("w1")
	arn := f.create("doomed")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	if _, err := f.sdk.DeleteReplicator(context.Background(), &kafka.DeleteReplicatorInput{ReplicatorArn: &arn}); err != nil {
		t.Fatal(err)
	}
	// Gone well before the 10 s TTL: the worker gave the jobs back.
	eventually(t, 4*time.Second, "replicator gone", func() bool {
		_, err := f.sdk.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
		var nf *types.NotFoundException
		return errors.As(err, &nf)
	})
	eventually(t, 2*time.Second, "worker holds nothing", func() bool { return len(w.w.Held()) == 0 })
}

func TestUpdateRunsNewSpecThenRunning(t *testing.T) {
	f := newFleet(t, 10*time.Second, 2)
	f.startWorker("w1")
	arn := f.create("updated")
	eventually(t, 5*time.Second, "RUNNING", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	ctx := context.Background()
	d, _ := f.sdk.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	_, err := f.sdk.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{ReplicatorArn: &arn, CurrentVersion: d.CurrentVersion,
		SourceKafkaClusterId: aws.String("src"), TargetKafkaClusterId: aws.String("dst"),
		TopicReplication: &types.TopicReplicationUpdate{TopicsToReplicate: []string{"orders"}, TopicsToExclude: []string{},
			CopyTopicConfigurations: aws.Bool(true), CopyAccessControlListsForTopics: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.state(arn); s != types.ReplicatorStateUpdating && s != types.ReplicatorStateRunning {
		t.Fatalf("state after update %s", s)
	}
	eventually(t, 5*time.Second, "RUNNING on the new spec", func() bool { return f.state(arn) == types.ReplicatorStateRunning })
	var stale int
	_ = f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM jobs j JOIN replicators r ON r.id = j.replicator_id WHERE j.spec_version <> r.spec_version`).Scan(&stale)
	if stale != 0 {
		t.Fatalf("%d jobs still on the old spec while RUNNING", stale)
	}
}
