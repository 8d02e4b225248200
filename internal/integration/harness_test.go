//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	rproc "github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	region      = "us-east-1"
	account     = "555555555555"
	accessKeyID = "AKIDINTEGRATION00001"
	secretKey   = "integration-secret-key"
	workerToken = "integration-worker-token"
	roleARN     = "arn:aws:iam::555555555555:role/integration"
	// The SCRAM credentials of the target's SASL listener, as the
	// replicator's secrets file holds them.
	scramOK  = "arn:aws:secretsmanager:us-east-1:555555555555:secret:it-scram-ok"
	scramBad = "arn:aws:secretsmanager:us-east-1:555555555555:secret:it-scram-bad"
	// failAfter is REPLICATOR_FAILURE_THRESHOLD of the control plane.
	failAfter = 5 * time.Second
	// Cluster IDs in the specs; target topics are <alias(sourceID)>.<topic>.
	sourceID   = "source"
	targetID   = "target"
	numWorkers = 2
)

// suite is what TestMain set up, shared by every test.
var suite struct {
	skip string // non-empty: why every test skips

	source, target, targetSASL     string // bootstrap addresses
	kafkaVersion                   string
	scramAdminUser, scramAdminPass string
	scramUser, scramPass           string

	apiURL string
	sdk    *awskafka.Client
	logDir string
	procs  []*rproc.Proc // every process started, for the logs

	bin         string
	workerBase  []string
	workers     [numWorkers]*rproc.Proc
	workerAddrs [numWorkers]string
}

// --- TestMain --------------------------------------------------------------------

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) (code int, err error) {
	ci := os.Getenv("CI") == "true"
	root, err := rproc.RepoRoot()
	if err != nil {
		return 1, err
	}
	if reason := loadKafkaEnv(root); reason != "" {
		if ci {
			return 1, fmt.Errorf("CI=true and no Kafka clusters: %s (run test/kafka/integration.sh)", reason)
		}
		suite.skip = reason
		return m.Run(), nil
	}
	if err := checkKafka(); err != nil {
		if ci {
			return 1, fmt.Errorf("CI=true and the Kafka clusters do not answer: %w", err)
		}
		suite.skip = err.Error()
		return m.Run(), nil
	}
	stop, err := startSystem(root)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	if err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// loadKafkaEnv fills the cluster addresses from the environment or the env
// file kafka.sh up writes. It returns why it could not.
func loadKafkaEnv(root string) string {
	vals := map[string]string{}
	cache := os.Getenv("KAFKA_CACHE")
	if cache == "" {
		cache = ".cache/kafka"
	}
	if !filepath.IsAbs(cache) {
		cache = filepath.Join(root, cache)
	}
	file := filepath.Join(cache, "run", "env")
	if b, err := os.ReadFile(file); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
				vals[k] = v
			}
		}
	}
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		if v, ok := vals[k]; ok && v != "" {
			return v
		}
		return def
	}
	suite.source, suite.target, suite.targetSASL = get("KAFKA_SOURCE", ""), get("KAFKA_TARGET", ""), get("KAFKA_TARGET_SASL", "")
	suite.kafkaVersion = get("KAFKA_VERSION", "unknown")
	suite.scramAdminUser, suite.scramAdminPass = get("KAFKA_SCRAM_ADMIN_USER", "admin"), get("KAFKA_SCRAM_ADMIN_PASSWORD", "admin-secret")
	suite.scramUser, suite.scramPass = get("KAFKA_SCRAM_USER", "replicator"), get("KAFKA_SCRAM_PASSWORD", "replicator-secret")
	if suite.source == "" || suite.target == "" || suite.targetSASL == "" {
		return fmt.Sprintf("KAFKA_SOURCE, KAFKA_TARGET and KAFKA_TARGET_SASL are not all set, and %s does not set them", file)
	}
	return ""
}

func checkKafka() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct{ addr, user, pass string }{
		{suite.source, "", ""}, {suite.target, "", ""}, {suite.targetSASL, suite.scramAdminUser, suite.scramAdminPass},
	} {
		opts := []kgo.Opt{kgo.SeedBrokers(c.addr)}
		if c.user != "" {
			opts = append(opts, kgo.SASL(scram.Auth{User: c.user, Pass: c.pass}.AsSha256Mechanism()))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
		cl.Close()
		if err != nil {
			return fmt.Errorf("metadata from %s: %w", c.addr, err)
		}
	}
	return nil
}

// startSystem builds the binary, provides a database, migrates it and
// starts serve and the workers. stop undoes what was done, whatever failed.
func startSystem(root string) (stop func(), err error) {
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "integration: [%5.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}
	logf("Kafka %s: source %s, target %s, target SASL/SCRAM %s", suite.kafkaVersion, suite.source, suite.target, suite.targetSASL)

	suite.logDir = os.Getenv("INTEGRATION_LOG_DIR")
	if suite.logDir == "" {
		suite.logDir = filepath.Join(root, ".cache", "integration-logs")
	}
	_ = os.RemoveAll(suite.logDir)
	if err := os.MkdirAll(suite.logDir, 0o755); err != nil {
		return stop, err
	}
	work, err := os.MkdirTemp("", "replicator-integration-")
	if err != nil {
		return stop, err
	}
	undo = append(undo, func() { _ = os.RemoveAll(work) })

	// The binary, built once from this tree.
	bin := filepath.Join(work, "replicator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/replicator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return stop, fmt.Errorf("go build ./cmd/replicator: %v\n%s", err, out)
	}
	logf("built %s", bin)

	// A fresh database.
	dbURL, dropDB, err := database()
	if err != nil {
		return stop, err
	}
	undo = append(undo, dropDB)
	logf("database ready")

	secrets := map[string]map[string]string{
		scramOK:  {"username": suite.scramUser, "password": suite.scramPass},
		scramBad: {"username": suite.scramUser, "password": "wrong-" + suite.scramPass},
	}
	b, _ := json.Marshal(secrets)
	secretsFile := filepath.Join(work, "secrets.json")
	if err := os.WriteFile(secretsFile, b, 0o600); err != nil {
		return stop, err
	}

	base := []string{
		"DATABASE_URL=" + dbURL,
		"REPLICATOR_LOG_LEVEL=" + envOr("INTEGRATION_LOG_LEVEL", "debug"),
		"REPLICATOR_SECRETS_FILE=" + secretsFile,
		"REPLICATOR_WORKER_TOKEN=" + workerToken,
	}
	migrate := exec.Command(bin, "migrate")
	migrate.Env = rproc.ChildEnv(base...)
	if out, err := migrate.CombinedOutput(); err != nil {
		return stop, fmt.Errorf("replicator migrate: %v\n%s", err, out)
	}
	logf("migrated")

	apiAddr, err := rproc.FreeAddr()
	if err != nil {
		return stop, err
	}
	serve, err := startProc("serve", bin, []string{"serve"}, rproc.ChildEnv(append(base,
		"REPLICATOR_LISTEN_ADDR="+apiAddr,
		"REPLICATOR_REGION="+region,
		"REPLICATOR_ACCESS_KEYS="+accessKeyID+":"+secretKey+":"+account,
		"REPLICATOR_FAILURE_THRESHOLD="+failAfter.String(),
		"REPLICATOR_LEASE_TTL=5s",
	)...))
	if err != nil {
		return stop, err
	}
	undo = append(undo, func() { serve.Stop(stopGrace) })
	suite.apiURL = "http://" + apiAddr
	if err := serve.WaitHTTP(suite.apiURL+"/readyz", scale(30*time.Second)); err != nil {
		return stop, err
	}
	logf("serve ready on %s", suite.apiURL)

	suite.workerBase = base
	suite.bin = bin
	for i := range numWorkers {
		w, err := startWorker(i)
		if err != nil {
			return stop, err
		}
		undo = append(undo, func() { suite.workers[i].Stop(stopGrace) })
		logf("%s ready (health on %s)", w.Name, suite.workerAddrs[i])
	}
	suite.sdk = awskafka.New(awskafka.Options{Region: region, BaseEndpoint: aws.String(suite.apiURL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, "")})
	logf("system up; process logs in %s", suite.logDir)
	return stop, nil
}

// startWorker starts (or restarts) worker i (0-based; ID it-worker<i+1>)
// and waits until it serves its health endpoint.
func startWorker(i int) (*rproc.Proc, error) {
	if suite.workerAddrs[i] == "" {
		addr, err := rproc.FreeAddr()
		if err != nil {
			return nil, err
		}
		suite.workerAddrs[i] = addr
	}
	name := fmt.Sprintf("worker%d", i+1)
	w, err := startProc(name, suite.bin, []string{"worker"}, rproc.ChildEnv(append(suite.workerBase,
		"REPLICATOR_CONTROL_PLANE_URL="+suite.apiURL,
		"REPLICATOR_WORKER_ID="+workerID(i),
		"REPLICATOR_WORKER_LISTEN_ADDR="+suite.workerAddrs[i],
	)...))
	if err != nil {
		return nil, err
	}
	suite.workers[i] = w
	if err := w.WaitHTTP("http://"+suite.workerAddrs[i]+"/healthz", scale(30*time.Second)); err != nil {
		w.Stop(stopGrace)
		return nil, err
	}
	return w, nil
}

func workerID(i int) string { return fmt.Sprintf("it-worker%d", i+1) }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// database returns the URL of a new, empty database and a function that
// drops it (and stops the server if this process started one).
func database() (string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		admin := withDatabase(base, "postgres")
		name := "integration_" + randHex(6)
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return "", nil, fmt.Errorf("TEST_DATABASE_URL: %w", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", nil, fmt.Errorf("create database %s: %w", name, err)
		}
		drop := func() {
			c, err := pgx.Connect(context.Background(), admin)
			if err != nil {
				return
			}
			defer c.Close(context.Background())
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		return withDatabase(base, name), drop, nil
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{Database: "integration"})
	if err != nil {
		return "", nil, fmt.Errorf("TEST_DATABASE_URL is unset and a throwaway PostgreSQL could not start: %w", err)
	}
	return srv.URL(), func() { _ = srv.Stop() }, nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// --- processes -------------------------------------------------------------------

// startProc starts a replicator subprocess (internal/proc) whose output
// goes to <logDir>/<name>.log, and keeps it for the logs dump (a restart
// under the same name replaces the entry, same log file).
func startProc(name, bin string, args, env []string) (*rproc.Proc, error) {
	p, err := rproc.Start(name, suite.logDir, bin, args, env)
	if err != nil {
		return nil, err
	}
	for i, q := range suite.procs {
		if q.Name == name {
			suite.procs[i] = p
			return p, nil
		}
	}
	suite.procs = append(suite.procs, p)
	return p, nil
}

// stopGrace is how long a SIGTERMed process may take before it is killed.
const stopGrace = 20 * time.Second

// grepLog returns up to n lines of path that contain s, the newest last.
func grepLog(path, s string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
			if len(out) > 2*n {
				out = out[len(out)-n:]
			}
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// --- per test ----------------------------------------------------------------------

func scale(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REPLICATOR_TEST_TIME_SCALE"), 64); err == nil && f > 0 {
		return time.Duration(float64(d) * f)
	}
	return d
}

// eventually polls cond until it holds or the (scaled) deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(scale(within))
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, scale(within), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// T is one test's view of the shared system: a unique name prefix for its
// topics, groups and replicators, clients, and cleanup.
type T struct {
	*testing.T
	ctx    context.Context
	prefix string // unique: it-<name>-<hex>
	arns   []string

	srcAdm, dstAdm *kadm.Client
}

var nameRE = regexp.MustCompile(`[^a-z0-9]+`)

func newT(t *testing.T, short string) *T {
	t.Helper()
	if suite.skip != "" {
		t.Skip("no Kafka clusters: " + suite.skip)
	}
	short = strings.Trim(nameRE.ReplaceAllString(strings.ToLower(short), "-"), "-")
	h := &T{T: t, ctx: context.Background(), prefix: "it-" + short + "-" + randHex(6)}
	h.srcAdm = kadm.NewClient(h.client(suite.source))
	h.dstAdm = kadm.NewClient(h.client(suite.target))
	start := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
		h.cleanup()
		t.Logf("%s: %s", h.prefix, time.Since(start).Round(100*time.Millisecond))
	})
	return h
}

// name returns a name unique to this test: <prefix>-<s>.
func (h *T) name(s string) string { return h.prefix + "-" + s }

// pattern matches every name that contains this test's prefix, wherever:
// source topics and, on the other side, their prefixed copies.
func (h *T) pattern() string { return ".*" + regexp.QuoteMeta(h.prefix) + ".*" }

func (h *T) client(addr string, opts ...kgo.Opt) *kgo.Client {
	h.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(2 * time.Second)}, opts...)...)
	if err != nil {
		h.Fatal(err)
	}
	h.Cleanup(cl.Close)
	return cl
}

// saslAdmin authenticates as the target's SCRAM super user.
func saslAdmin() sasl.Mechanism {
	return scram.Auth{User: suite.scramAdminUser, Pass: suite.scramAdminPass}.AsSha256Mechanism()
}

// kadmFor is the admin client of the cluster at addr.
func kadmFor(h *T, addr string) *kadm.Client {
	switch addr {
	case suite.source:
		return h.srcAdm
	case suite.target:
		return h.dstAdm
	}
	return kadm.NewClient(h.client(addr, kgo.SASL(saslAdmin())))
}

func (h *T) createTopic(adm *kadm.Client, partitions int32, configs map[string]*string, name string) {
	h.Helper()
	resp, err := adm.CreateTopic(h.ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		h.Fatalf("create topic %s: %v (%s)", name, err, resp.ErrMessage)
	}
}

func (h *T) dumpLogs() {
	for _, p := range suite.procs {
		var b strings.Builder
		if lines := grepLog(p.Log, "level=WARN", 15); len(lines) > 0 {
			b.WriteString("  warnings:\n    " + strings.Join(lines, "\n    ") + "\n")
		}
		if lines := grepLog(p.Log, "level=ERROR", 15); len(lines) > 0 {
			b.WriteString("  errors:\n    " + strings.Join(lines, "\n    ") + "\n")
		}
		b.WriteString("  tail:\n    " + strings.ReplaceAll(rproc.Tail(p.Log, 40), "\n", "\n    "))
		h.Logf("--- %s (%s)\n%s", p.Name, p.Log, b.String())
	}
}

// cleanup deletes this test's replicators (waiting until they are gone, so
// their workers let go), then its topics on both clusters and their ACLs.
func (h *T) cleanup() {
	for _, arn := range h.arns {
		h.deleteReplicator(arn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, adm := range []*kadm.Client{h.srcAdm, h.dstAdm} {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			continue
		}
		var mine []string
		for _, n := range td.Names() {
			if strings.Contains(n, h.prefix) {
				mine = append(mine, n)
			}
		}
		// ACLs on this test's names, LITERAL or PREFIXED (Kafka keeps them
		// when their topic goes).
		var aclNames []string
		all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
		if res, err := adm.DescribeACLs(ctx, all); err == nil {
			for _, r := range res {
				for _, d := range r.Described {
					if strings.Contains(d.Name, h.prefix) {
						aclNames = append(aclNames, d.Name)
					}
				}
			}
		}
		if len(aclNames) > 0 {
			_, _ = adm.DeleteACLs(ctx, kadm.NewACLs().Topics(aclNames...).ResourcePatternType(kadm.ACLPatternAny).
				Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny))
		}
		if len(mine) > 0 {
			_, _ = adm.DeleteTopics(ctx, mine...)
		}
	}
}

// deleteReplicator deletes a replicator and waits until Describe answers
// NotFound.
func (h *T) deleteReplicator(arn string) {
	ctx := context.Background()
	var nf *types.NotFoundException
	deadline := time.Now().Add(scale(60 * time.Second))
	for {
		d, err := suite.sdk.DescribeReplicator(ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
		if errors.As(err, &nf) {
			return
		}
		if err == nil && d.ReplicatorState != types.ReplicatorStateDeleting {
			_, err = suite.sdk.DeleteReplicator(ctx, &awskafka.DeleteReplicatorInput{ReplicatorArn: &arn, CurrentVersion: d.CurrentVersion})
			if errors.As(err, &nf) {
				return
			}
		}
		if time.Now().After(deadline) {
			h.Errorf("replicator %s not deleted within %s: %v", arn, scale(60*time.Second), err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --- the API ---------------------------------------------------------------------

// spec describes a replicator between the two clusters.
type spec struct {
	name            string
	topics          []string // default: the test's pattern
	excludeTopics   []string
	groups          []string // default: the test's pattern
	earliest        bool
	identical       bool
	copyConfigs     bool
	copyACLs        bool
	detectNewTopics bool
	syncGroups      bool
	compression     types.TargetCompressionType
	targetSecret    string // target through the SASL listener with this secret
	reverse         bool   // from the target cluster to the source cluster
}

func (h *T) create(s spec) string {
	h.Helper()
	if s.topics == nil {
		s.topics = []string{h.pattern()}
	}
	if s.groups == nil {
		s.groups = []string{h.pattern()}
	}
	if s.compression == "" {
		s.compression = types.TargetCompressionTypeNone
	}
	start, naming := types.ReplicationStartingPositionTypeLatest, types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias
	if s.earliest {
		start = types.ReplicationStartingPositionTypeEarliest
	}
	if s.identical {
		naming = types.ReplicationTopicNameConfigurationTypeIdentical
	}
	srcID, dstID, srcBS, dstBS := sourceID, targetID, suite.source, suite.target
	if s.reverse {
		srcID, dstID, srcBS, dstBS = dstID, srcID, dstBS, srcBS
	}
	if s.targetSecret != "" {
		dstBS = suite.targetSASL
	}
	dst := types.KafkaCluster{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(dstID), BootstrapBrokerString: aws.String(dstBS)}}
	if s.targetSecret != "" {
		dst.ClientAuthentication = &types.KafkaClusterClientAuthentication{SaslScram: &types.KafkaClusterSaslScramAuthentication{
			Mechanism: types.KafkaClusterSaslScramMechanismSha256, SecretArn: aws.String(s.targetSecret)}}
	}
	out, err := suite.sdk.CreateReplicator(h.ctx, &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(h.name(s.name)),
		ServiceExecutionRoleArn: aws.String(roleARN),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(srcID), BootstrapBrokerString: aws.String(srcBS)}},
			dst,
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String(srcID), TargetKafkaClusterId: aws.String(dstID),
			TargetCompressionType: s.compression,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: s.topics, TopicsToExclude: s.excludeTopics,
				StartingPosition:                &types.ReplicationStartingPosition{Type: start},
				TopicNameConfiguration:          &types.ReplicationTopicNameConfiguration{Type: naming},
				CopyTopicConfigurations:         aws.Bool(s.copyConfigs),
				CopyAccessControlListsForTopics: aws.Bool(s.copyACLs),
				DetectAndCopyNewTopics:          aws.Bool(s.detectNewTopics)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: s.groups,
				SynchroniseConsumerGroupOffsets: aws.Bool(s.syncGroups), DetectAndCopyNewConsumerGroups: aws.Bool(true)},
		}},
	})
	if err != nil {
		h.Fatalf("CreateReplicator %s: %v", h.name(s.name), err)
	}
	arn := aws.ToString(out.ReplicatorArn)
	h.arns = append(h.arns, arn)
	return arn
}

func (h *T) describe(arn string) *awskafka.DescribeReplicatorOutput {
	h.Helper()
	d, err := suite.sdk.DescribeReplicator(h.ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil {
		h.Fatalf("DescribeReplicator: %v", err)
	}
	return d
}

func stateString(d *awskafka.DescribeReplicatorOutput) string {
	s := string(d.ReplicatorState)
	if d.StateInfo != nil {
		s += " (" + aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message) + ")"
	}
	return s
}

func (h *T) waitState(arn string, want types.ReplicatorState, within time.Duration) *awskafka.DescribeReplicatorOutput {
	h.Helper()
	var d *awskafka.DescribeReplicatorOutput
	took := eventually(h, within, "replicator "+string(want), func() error {
		d = h.describe(arn)
		if d.ReplicatorState != want {
			return fmt.Errorf("state %s", stateString(d))
		}
		return nil
	})
	h.Logf("%s %s after %s", aws.ToString(d.ReplicatorName), want, took.Round(10*time.Millisecond))
	return d
}

// status fetches the status extension (SigV4-signed).
func (h *T) status(arn string) map[string]any {
	h.Helper()
	req, _ := http.NewRequest("GET", suite.apiURL+"/replication/v1/replicators/"+url.PathEscape(arn)+"/status", nil)
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey}
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(h.ctx, creds, req, emptySHA, "kafka", region, time.Now()); err != nil {
		h.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 {
		h.Fatalf("status: %d %v: %s", resp.StatusCode, err, body)
	}
	return out
}

// summary is the status summary's numbers.
func (h *T) summary(arn string) map[string]float64 {
	sum, _ := h.status(arn)["summary"].(map[string]any)
	out := map[string]float64{}
	for k, v := range sum {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// workerMetric sums a Prometheus counter or gauge over both workers'
// /metrics, for the series whose labels include replicator="name".
func (h *T) workerMetric(metric, name string) float64 {
	h.Helper()
	sum := 0.0
	for i := range numWorkers {
		resp, err := http.Get("http://" + suite.workerAddrs[i] + "/metrics")
		if err != nil {
			h.Fatalf("metrics of %s: %v", workerID(i), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, `replicator="`+name+`"`) {
				continue
			}
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// --- Kafka -------------------------------------------------------------------------

// alias is the alias of a cluster ID: the prefix of its topics' copies.
func alias(id string) string { return replicator.ApacheClusterAlias(id) }

func (h *T) produce(cl *kgo.Client, rs ...*kgo.Record) {
	h.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, scale(30*time.Second))
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		h.Fatalf("produce: %v", err)
	}
}

// readAll reads topic from the start (no group) until count records
// arrived or the deadline passes, then checks that the topic holds no more
// than count records (its end offsets; exact for topics without
// transaction markers).
func (h *T) readAll(addr, topic string, count int, within time.Duration, opts ...kgo.Opt) []*kgo.Record {
	h.Helper()
	cl := h.client(addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	defer cl.Close()
	var out []*kgo.Record
	eventually(h, within, fmt.Sprintf("%d records on %s", count, topic), func() error {
		ctx, cancel := context.WithTimeout(h.ctx, 500*time.Millisecond)
		defer cancel()
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) < count {
			return fmt.Errorf("%d records so far", len(out))
		}
		return nil
	})
	return out
}

// endOffsets sums the end offsets of a topic's partitions.
func (h *T) endOffsets(adm *kadm.Client, topic string) (map[int32]int64, int64) {
	h.Helper()
	ends, err := adm.ListEndOffsets(h.ctx, topic)
	if err != nil {
		h.Fatalf("end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = o.Offset
		sum += o.Offset
	})
	return out, sum
}

// waitCaughtUp waits until the replicator's status shows no lag.
func (h *T) waitCaughtUp(arn string, within time.Duration) {
	h.Helper()
	eventually(h, within, "no lag", func() error {
		s := h.summary(arn)
		if s["messageLag"] != 0 || s["partitions"] == 0 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
}

func TestClustersAreReal(t *testing.T) {
	h := newT(t, "clusters")
	for _, c := range []struct {
		name string
		adm  *kadm.Client
	}{{"source", h.srcAdm}, {"target", h.dstAdm}} {
		m, err := c.adm.BrokerMetadata(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.adm.ApiVersions(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		ver := ""
		v.Each(func(b kadm.BrokerApiVersions) { ver = b.VersionGuess() })
		t.Logf("%s: cluster %s, %d broker(s), controller %d, %s", c.name, m.Cluster, len(m.Brokers), m.Controller, ver)
		if len(m.Brokers) != 1 {
			t.Fatalf("%s has %d brokers, want the single-node cluster kafka.sh starts", c.name, len(m.Brokers))
		}
	}
}
