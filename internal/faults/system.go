package faults

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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/pgserver"
)

// The account, keys and token every suite's system uses.
const (
	Region      = "us-east-1"
	Account     = "666666666666"
	AccessKeyID = "AKIDFAULTSUITE000001"
	SecretKey   = "faults-secret-key"
	WorkerToken = "faults-worker-token"
)

// SystemOptions says what StartSystem runs.
type SystemOptions struct {
	Root     string // repository root (the binary is built from it)
	LogDir   string // process logs, emptied first
	Database string // name of the database of the system's own PostgreSQL
	Serves   int
	Workers  int
	LeaseTTL time.Duration
	LogLevel string // REPLICATOR_LOG_LEVEL (default info)
	// ControlPlane returns the REPLICATOR_CONTROL_PLANE_URL of worker i
	// given the serve replicas' addresses (default: all replicas, worker
	// i's list rotated by i).
	ControlPlane func(i int, serveAddrs []string) string
	ServeEnv     []string // more settings for serve
	WorkerEnv    []string // more settings for the workers
	Logf         func(format string, args ...any)
}

// System is the replicator as the real-process suites run it: `replicator
// serve` replicas and `replicator worker` processes (internal/proc) over a
// throwaway PostgreSQL of its own, which the suites may kill.
type System struct {
	opts SystemOptions
	Bin  string
	PG   *pgserver.Server
	base []string // settings every process gets

	ServeAddrs  []string
	Serves      []*proc.Proc
	Workers     []*proc.Proc
	WorkerAddrs []string // their /healthz and /metrics
	workerGen   []int
	sdks        []*awskafka.Client
	ARN         string
	mu          sync.Mutex
}

// StartSystem builds the binary into a temporary directory (work), starts
// PostgreSQL, migrates it and starts the processes.
func StartSystem(work string, o SystemOptions) (*System, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.ControlPlane == nil {
		o.ControlPlane = func(i int, addrs []string) string {
			var urls []string
			for j := range addrs {
				urls = append(urls, "http://"+addrs[(i+j)%len(addrs)])
			}
			return strings.Join(urls, ",")
		}
	}
	_ = os.RemoveAll(o.LogDir)
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, err
	}
	s := &System{opts: o, Bin: filepath.Join(work, "replicator"),
		ServeAddrs: make([]string, o.Serves), Serves: make([]*proc.Proc, o.Serves), sdks: make([]*awskafka.Client, o.Serves),
		Workers: make([]*proc.Proc, o.Workers), WorkerAddrs: make([]string, o.Workers), workerGen: make([]int, o.Workers)}
	build := exec.Command("go", "build", "-o", s.Bin, "./cmd/replicator")
	build.Dir = o.Root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := pgserver.Start(ctx, pgserver.Options{Database: o.Database})
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	s.PG = pg
	s.base = []string{"DATABASE_URL=" + pg.URL(), "REPLICATOR_LOG_LEVEL=" + o.LogLevel, "REPLICATOR_WORKER_TOKEN=" + WorkerToken}
	migrate := exec.Command(s.Bin, "migrate")
	migrate.Env = proc.ChildEnv(s.base...)
	if out, err := migrate.CombinedOutput(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("migrate: %v\n%s", err, out)
	}
	for i := range o.Serves {
		addr, err := proc.FreeAddr()
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.ServeAddrs[i] = addr
		if err := s.StartServe(i); err != nil {
			s.Stop()
			return nil, err
		}
		s.sdks[i] = awskafka.New(awskafka.Options{Region: Region, BaseEndpoint: aws.String("http://" + addr),
			Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretKey, ""),
			Retryer:     aws.NopRetryer{}})
	}
	for i := range o.Workers {
		if err := s.StartWorker(i); err != nil {
			s.Stop()
			return nil, err
		}
	}
	o.Logf("system up: PostgreSQL on %d, serve on %s, %d workers; logs in %s", pg.Port(), strings.Join(s.ServeAddrs, " and "), o.Workers, o.LogDir)
	return s, nil
}

// StartServe starts (or restarts) serve replica i on its address.
func (s *System) StartServe(i int) error {
	p, err := proc.Start(fmt.Sprintf("serve%d", i+1), s.opts.LogDir, s.Bin, []string{"serve"}, proc.ChildEnv(append(append(s.base,
		"REPLICATOR_LISTEN_ADDR="+s.ServeAddrs[i], "REPLICATOR_REGION="+Region,
		"REPLICATOR_ACCESS_KEYS="+AccessKeyID+":"+SecretKey+":"+Account,
		"REPLICATOR_LEASE_TTL="+s.opts.LeaseTTL.String(), "REPLICATOR_FAILURE_THRESHOLD=30s"), s.opts.ServeEnv...)...))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.Serves[i] = p
	s.mu.Unlock()
	return p.WaitHTTP("http://"+s.ServeAddrs[i]+"/readyz", testutil.Scale(60*time.Second))
}

// WorkerID is the ID worker i runs under now (new with every restart).
func (s *System) WorkerID(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("fw%d-gen%d", i+1, s.workerGen[i])
}

// StartWorker starts (or restarts, under a new ID) worker i.
func (s *System) StartWorker(i int) error {
	addr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.workerGen[i]++
	s.mu.Unlock()
	p, err := proc.Start(fmt.Sprintf("worker%d", i+1), s.opts.LogDir, s.Bin, []string{"worker"}, proc.ChildEnv(append(append(s.base,
		"REPLICATOR_CONTROL_PLANE_URL="+s.opts.ControlPlane(i, s.ServeAddrs),
		"REPLICATOR_WORKER_ID="+s.WorkerID(i),
		"REPLICATOR_WORKER_LISTEN_ADDR="+addr), s.opts.WorkerEnv...)...))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.Workers[i], s.WorkerAddrs[i] = p, addr
	s.mu.Unlock()
	return p.WaitHTTP("http://"+addr+"/healthz", testutil.Scale(30*time.Second))
}

// Stop stops every process and PostgreSQL.
func (s *System) Stop() {
	for _, w := range s.Workers {
		if w != nil {
			w.Stop(15 * time.Second)
		}
	}
	for _, p := range s.Serves {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
	if s.PG != nil {
		_ = s.PG.Stop()
	}
}

// PGVersion is PostgreSQL's server_version ("?" when it cannot be read).
func (s *System) PGVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.PG.URL())
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

// KillPostgres kills PostgreSQL with SIGKILL, the postmaster and every
// process it started at once, as a crash of its machine would, and waits
// until they are gone. PG.Resume starts it again (with crash recovery).
func (s *System) KillPostgres() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.PG.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("postmaster.pid: %q", b)
	}
	pids := append([]int{pid}, children(pid)...)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		alive := 0
		for _, p := range pids {
			if alive0(p) {
				alive++
			}
		}
		if alive == 0 {
			return len(pids), nil
		}
		if time.Now().After(deadline) {
			return len(pids), fmt.Errorf("%d of %d PostgreSQL processes still alive after SIGKILL", alive, len(pids))
		}
	}
}

// children lists the processes whose parent is pid (from /proc).
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		st := string(b)
		if i := strings.LastIndexByte(st, ')'); i >= 0 {
			var state string
			var ppid int
			if _, err := fmt.Sscanf(st[i+1:], " %s %d", &state, &ppid); err == nil && ppid == pid {
				out = append(out, p)
			}
		}
	}
	return out
}

// alive0 reports whether pid runs (a zombie counts as gone).
func alive0(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	st := string(b)
	if i := strings.LastIndexByte(st, ')'); i >= 0 && len(st) > i+2 {
		return st[i+2] != 'Z'
	}
	return true
}

// ReplicatorSpec is what CreateReplicator creates: one replication from
// source to target.
type ReplicatorSpec struct {
	Name             string
	Source, Target   string // bootstrap broker strings
	Topics, Groups   string // regular expressions
	CopyTopicConfigs bool
}

// CreateReplicator creates the replicator on replica 0 and keeps its ARN.
func (s *System) CreateReplicator(spec ReplicatorSpec) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.sdks[0].CreateReplicator(ctx, &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(spec.Name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::" + Account + ":role/" + spec.Name),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("source"), BootstrapBrokerString: aws.String(spec.Source)}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("target"), BootstrapBrokerString: aws.String(spec.Target)}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String("source"), TargetKafkaClusterId: aws.String("target"),
			TargetCompressionType: types.TargetCompressionTypeNone,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: []string{spec.Topics},
				StartingPosition:                &types.ReplicationStartingPosition{Type: types.ReplicationStartingPositionTypeEarliest},
				CopyTopicConfigurations:         aws.Bool(spec.CopyTopicConfigs),
				CopyAccessControlListsForTopics: aws.Bool(false),
				DetectAndCopyNewTopics:          aws.Bool(true)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{spec.Groups},
				SynchroniseConsumerGroupOffsets: aws.Bool(true), DetectAndCopyNewConsumerGroups: aws.Bool(true)},
		}},
	})
	if err != nil {
		return fmt.Errorf("CreateReplicator: %w", err)
	}
	s.ARN = aws.ToString(out.ReplicatorArn)
	return nil
}

// Describe asks the replicas that run, in turn, for the replicator.
func (s *System) Describe() (*awskafka.DescribeReplicatorOutput, error) {
	last := errors.New("no serve replica runs")
	for i := range s.sdks {
		s.mu.Lock()
		p := s.Serves[i]
		s.mu.Unlock()
		if p == nil || p.Exited() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := s.sdks[i].DescribeReplicator(ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &s.ARN})
		cancel()
		if err == nil {
			return d, nil
		}
		last = err
	}
	return nil, last
}

// State is the replicator's state, with its stateInfo unless RUNNING.
func (s *System) State() string {
	d, err := s.Describe()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	st := string(d.ReplicatorState)
	if d.StateInfo != nil && st != "RUNNING" {
		st += " (" + aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message) + ")"
	}
	return st
}

// WorkerJobs asks the replicas for the workers and their partition jobs.
func (s *System) WorkerJobs() (map[string]int, error) {
	last := errors.New("no serve replica answered")
	for _, addr := range s.ServeAddrs {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/workers", nil)
		req.Header.Set("Authorization", "Bearer "+WorkerToken)
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			last = err
			continue
		}
		var out struct {
			Workers []fleet.WorkerInfo `json:"workers"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			last = fmt.Errorf("status %d: %v", resp.StatusCode, err)
			continue
		}
		jobs := map[string]int{}
		for _, w := range out.Workers {
			for _, j := range w.Jobs {
				if j.Kind == fleet.KindPartition {
					jobs[w.ID]++
				}
			}
		}
		return jobs, nil
	}
	return nil, last
}

// BusyWorker picks, at random, one of the workers that hold partition
// jobs (a worker holding none would make a fault that tests nothing).
func (s *System) BusyWorker(rng *rand.Rand) int {
	jobs, _ := s.WorkerJobs()
	var busy []int
	for n := range s.Workers {
		if jobs[s.WorkerID(n)] > 0 {
			busy = append(busy, n)
		}
	}
	if len(busy) == 0 {
		return rng.IntN(len(s.Workers))
	}
	sort.Ints(busy)
	return busy[rng.IntN(len(busy))]
}

// TargetTopic waits for the copy of topic on the target (any name that is
// topic or ends in "."+topic) and returns its name.
func TargetTopic(target, topic string, within time.Duration) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(target, ",")...))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		td, err := adm.ListTopics(ctx)
		cancel()
		if err == nil {
			for _, n := range td.Names() {
				if strings.HasSuffix(n, "."+topic) || n == topic {
					return n, nil
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("no copy of %s on the target within %s", topic, within)
}

// Tail reads a target topic from its start into the checker until stopped.
func Tail(target, topic string, chk *Checker) (stop func(), err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(target, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
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
	}, nil
}

// KafkaEnv reads the env file `kafka.sh up` wrote in $KAFKA_RUN (relative
// to root when not absolute).
func KafkaEnv(root string) (map[string]string, error) {
	run := os.Getenv("KAFKA_RUN")
	if run == "" {
		return nil, errors.New("KAFKA_RUN is not set (run the suite through its test/*/run.sh)")
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

// WaitCopied waits until the checker holds the first want[p] records of
// epoch in every partition and state says RUNNING. It returns when that
// held, or why it did not within the time given.
func WaitCopied(chk *Checker, epoch int32, want []int64, within time.Duration, state func() string) (time.Time, string) {
	deadline := time.Now().Add(within)
	var st string
	for {
		if chk.CaughtUp(epoch, want) {
			if st = state(); st == "RUNNING" {
				return time.Now(), ""
			}
		}
		if time.Now().After(deadline) {
			if st == "" {
				st = state()
			}
			return time.Time{}, fmt.Sprintf("not caught up within %s: the target has the first %v records of epoch %d of %v; state %s",
				within, chk.Next(epoch, int32(len(want))), epoch, want, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
