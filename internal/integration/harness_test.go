//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	rproc "github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/internal/scenario"
	"github.com/openreplicator/replicator/internal/testutil"
	"github.com/openreplicator/replicator/pkg/pgserver"
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
	if err := serve.WaitHTTP(suite.apiURL+"/readyz", testutil.Scale(30*time.Second)); err != nil {
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
	if err := w.WaitHTTP("http://"+suite.workerAddrs[i]+"/healthz", testutil.Scale(30*time.Second)); err != nil {
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

// system is one test's view of the shared system (scenario.System): a
// unique name prefix for its topics, groups and replicators, the clusters,
// the API and the processes' metrics and logs. It deletes the test's
// replicators, topics and ACLs when the test ends, and prints the
// processes' warnings, errors and log tails when the test failed.
type system struct {
	t      *testing.T
	prefix string // unique: it-<name>-<hex>
}

var nameRE = regexp.MustCompile(`[^a-z0-9]+`)

// newT starts a test on the shared system (or skips it without clusters)
// and returns the scenarios' helpers for it.
func newT(t *testing.T, short string) *scenario.T {
	t.Helper()
	return scenario.New(t, newSystem(t, short))
}

func newSystem(t *testing.T, short string) *system {
	t.Helper()
	if suite.skip != "" {
		t.Skip("no Kafka clusters: " + suite.skip)
	}
	short = strings.Trim(nameRE.ReplaceAllString(strings.ToLower(short), "-"), "-")
	s := &system{t: t, prefix: "it-" + short + "-" + randHex(6)}
	h := scenario.New(t, s)
	srcAdm, dstAdm := h.Admin(s.Source()), h.Admin(s.Target())
	start := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs()
		}
		s.cleanup(h, srcAdm, dstAdm)
		t.Logf("%s: %s", s.prefix, time.Since(start).Round(100*time.Millisecond))
	})
	return s
}

func (s *system) Prefix() string { return s.prefix }

func (s *system) API() scenario.API {
	return scenario.API{URL: suite.apiURL, Region: region, Account: account,
		Credentials: aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey}}
}

func (s *system) Source() scenario.Cluster {
	return scenario.Cluster{ID: sourceID, Bootstrap: suite.source}
}

func (s *system) Target() scenario.Cluster {
	return scenario.Cluster{ID: targetID, Bootstrap: suite.target}
}

// SASLTarget is the target's SASL_PLAINTEXT listener; the test's clients
// authenticate as its SCRAM super user.
func (s *system) SASLTarget() scenario.SASL {
	admin := scram.Auth{User: suite.scramAdminUser, Pass: suite.scramAdminPass}.AsSha256Mechanism()
	return scenario.SASL{
		Cluster:   scenario.Cluster{ID: targetID, Bootstrap: suite.targetSASL, Opts: []kgo.Opt{kgo.SASL(admin)}},
		Secret:    scramOK,
		BadSecret: scramBad,
		Passwords: []string{suite.scramPass, "wrong-" + suite.scramPass},
	}
}

// Metrics reads every worker's /metrics.
func (s *system) Metrics() []*dto.MetricFamily {
	s.t.Helper()
	var out []*dto.MetricFamily
	for i := range numWorkers {
		resp, err := http.Get("http://" + suite.workerAddrs[i] + "/metrics")
		if err != nil {
			s.t.Fatalf("metrics of %s: %v", workerID(i), err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			s.t.Fatalf("metrics of %s: %v", workerID(i), err)
		}
		for _, mf := range mfs {
			out = append(out, mf)
		}
	}
	return out
}

// Logs is every process's log so far (serve and the workers, for the
// whole suite: not only this test's lines).
func (s *system) Logs() string {
	var b strings.Builder
	for _, p := range suite.procs {
		data, err := os.ReadFile(p.Log)
		if err != nil {
			s.t.Fatalf("log of %s: %v", p.Name, err)
		}
		b.Write(data)
	}
	return b.String()
}

// Within: real processes on real brokers take up to six times what the
// in-process system takes (JVM brokers, group joins, a second's sync
// rounds, lease TTLs of 5 s).
func (s *system) Within(d time.Duration) time.Duration { return 6 * d }
func (s *system) FailAfter() time.Duration             { return failAfter }

// Settle: the workers' metadata sync runs about every second.
func (s *system) Settle() time.Duration { return 3 * time.Second }

func (s *system) dumpLogs() {
	for _, p := range suite.procs {
		var b strings.Builder
		if lines := grepLog(p.Log, "level=WARN", 15); len(lines) > 0 {
			b.WriteString("  warnings:\n    " + strings.Join(lines, "\n    ") + "\n")
		}
		if lines := grepLog(p.Log, "level=ERROR", 15); len(lines) > 0 {
			b.WriteString("  errors:\n    " + strings.Join(lines, "\n    ") + "\n")
		}
		b.WriteString("  tail:\n    " + strings.ReplaceAll(rproc.Tail(p.Log, 40), "\n", "\n    "))
		s.t.Logf("--- %s (%s)\n%s", p.Name, p.Log, b.String())
	}
}

// cleanup deletes this test's replicators (waiting until they are gone, so
// their workers let go), then its topics on both clusters and their ACLs.
func (s *system) cleanup(h *scenario.T, srcAdm, dstAdm *kadm.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var arns []string
	in := &awskafka.ListReplicatorsInput{ReplicatorNameFilter: aws.String(s.prefix)}
	for {
		out, err := h.SDK().ListReplicators(ctx, in)
		if err != nil {
			s.t.Errorf("listing the test's replicators: %v", err)
			break
		}
		for _, r := range out.Replicators {
			if strings.HasPrefix(aws.ToString(r.ReplicatorName), s.prefix) {
				arns = append(arns, aws.ToString(r.ReplicatorArn))
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, arn := range arns {
		h.DeleteReplicator(arn, 10*time.Second)
	}
	for _, adm := range []*kadm.Client{srcAdm, dstAdm} {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			continue
		}
		var mine []string
		for _, n := range td.Names() {
			if strings.Contains(n, s.prefix) {
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
					if strings.Contains(d.Name, s.prefix) {
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

func TestClustersAreReal(t *testing.T) {
	h := newT(t, "clusters")
	for _, c := range []struct {
		name string
		adm  *kadm.Client
	}{{"source", h.Admin(h.Sys.Source())}, {"target", h.Admin(h.Sys.Target())}} {
		m, err := c.adm.BrokerMetadata(h.Context())
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.adm.ApiVersions(h.Context())
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
