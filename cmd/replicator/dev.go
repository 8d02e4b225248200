package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

type devConfig struct {
	serve      serveConfig
	sourcePort int
	targetPort int
	workers    int
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c devConfig
	s := newSettings("dev", "Runs the whole system locally: a throwaway PostgreSQL (unless DATABASE_URL is set), the schema,\nthe control plane, two in-process Kafka clusters and two workers, and prints how to use them.", getenv, stderr)
	s.Secret(&c.serve.databaseURL, "database-url", "DATABASE_URL", "PostgreSQL connection URL; empty starts a throwaway server")
	s.String(&c.serve.listenAddr, "listen-addr", "", "127.0.0.1:8080", "address the API listens on")
	s.String(&c.serve.region, "region", "", "us-east-1", "AWS region this endpoint answers for")
	s.Secret(&c.serve.accessKeys, "access-keys", "", "access keys, AKID:SECRET:ACCOUNT_ID[,...]; empty generates one")
	s.String(&c.serve.clustersFile, "clusters-file", "", "", "JSON file: MSK cluster ARN → connection settings")
	s.String(&c.serve.secretsFile, "secrets-file", "", "", "JSON file: secret ARN → secret")
	s.Int(&c.sourcePort, "source-port", 19092, "port of the demo source cluster (0: any free port)")
	s.Int(&c.targetPort, "target-port", 19093, "port of the demo target cluster (0: any free port)")
	s.Int(&c.workers, "workers", 2, "number of in-process workers")
	// Loopback explicitly: the demo clusters are local, and dev is a
	// machine's own sandbox.
	c.serve.declareDestinations(s, "127.0.0.0/8,::1,localhost")
	s.logging(&c.serve.log)
	if err := s.Parse(args); err != nil {
		return err
	}
	c.serve.leaseTTL, c.serve.failAfter = 10*time.Second, 30*time.Second
	c.serve.quotaReplicators, c.serve.quotaTopics, c.serve.quotaPartitions, c.serve.quotaAccountPartitions = 100, 750, 10000, 50000
	c.serve.workerToken = randomString(32, alnum)
	log, err := c.serve.log.logger(stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if c.serve.databaseURL == "" {
		fmt.Fprintln(stdout, "dev: starting a throwaway PostgreSQL ...")
		pg, err := pgserver.Start(ctx, pgserver.Options{})
		if err != nil {
			return err
		}
		defer pg.Stop()
		c.serve.databaseURL = pg.URL()
		fmt.Fprintf(stdout, "dev: PostgreSQL is up on port %d (data in %s, removed on exit)\n", pg.Port(), pg.Dir())
	}
	if err := postgres.Migrate(ctx, c.serve.databaseURL, io.Discard); err != nil {
		return err
	}

	src, err := demoCluster("source", c.sourcePort, kfake.SeedTopics(3, "orders"))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := demoCluster("target", c.targetPort)
	if err != nil {
		return err
	}
	defer dst.Close()

	akid, secret, account := "", "", ""
	if c.serve.accessKeys == "" {
		akid, secret, account = "AKIA"+randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), randomString(40, alnum), "000000000000"
		c.serve.accessKeys = akid + ":" + secret + ":" + account
	}

	ready := make(chan string, 1)
	errc := make(chan error, 1+c.workers)
	go func() { errc <- serve(ctx, c.serve, log, ready) }()
	var addr string
	select {
	case err := <-errc:
		return err
	case addr = <-ready:
	}
	endpoint := "http://" + endpointHost(addr)
	for i := range c.workers {
		wc := workerConfig{controlPlaneURL: endpoint, workerToken: c.serve.workerToken, workerID: fmt.Sprintf("dev-worker-%d", i+1),
			listenAddr: "127.0.0.1:0", clustersFile: c.serve.clustersFile, secretsFile: c.serve.secretsFile,
			dest: serveConfig{allowedDestinations: c.serve.allowedDestinations, deniedDestinations: c.serve.deniedDestinations}}
		go func() { errc <- worker(ctx, wc, log, nil) }()
	}
	srcAddr, dstAddr := src.ListenAddrs()[0], dst.ListenAddrs()[0]
	printDemo(stdout, endpoint, c.serve.region, akid, secret, account, srcAddr, dstAddr)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, context.Canceled) {
			cancel()
			return err
		}
	}
	fmt.Fprintln(stdout, "\ndev: stopping ...")
	cancel()
	// Give the workers a moment to release their leases cleanly.
	deadline := time.After(10 * time.Second)
	for range 1 + c.workers {
		select {
		case <-errc:
		case <-deadline:
			return nil
		}
	}
	return nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// demoCluster starts an in-process Kafka cluster, on port if it is free.
func demoCluster(name string, port int, opts ...kfake.Opt) (*kfake.Cluster, error) {
	if port != 0 {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			ln.Close()
		} else {
			port = 0 // taken: any free port will do
		}
	}
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	// kfake listens on 127.0.0.1 only.
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.ClusterID(name)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo %s cluster: %w", name, err)
	}
	return c, nil
}

// selfCommand is how the user runs this binary again: its path, or
// "go run ./cmd/replicator" when started with go run.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, "go-build") {
		return "go run ./cmd/replicator"
	}
	if rel, err := filepath.Rel(".", exe); err == nil && !strings.HasPrefix(rel, "..") {
		return "./" + rel
	}
	return exe
}

func printDemo(w io.Writer, endpoint, region, akid, secret, account, srcAddr, dstAddr string) {
	self := selfCommand()
	target := replicator.ApacheClusterAlias("source") + ".orders"
	fmt.Fprintf(w, "\nreplicator dev is running. Ctrl-C stops everything.\n\n")
	fmt.Fprintf(w, "  endpoint        %s\n  region          %s\n", endpoint, region)
	if akid != "" {
		fmt.Fprintf(w, "  access key      %s\n  secret key      %s\n  account         %s\n", akid, secret, account)
	}
	fmt.Fprintf(w, "  source cluster  %s  (topic \"orders\", 3 partitions)\n  target cluster  %s\n", srcAddr, dstAddr)
	fmt.Fprintf(w, "  console         %s/console/\n", endpoint)
	fmt.Fprintf(w, "  status          %s/replication/v1/replicators/<arn>/status (SigV4)\n\n", endpoint)
	if akid == "" {
		return
	}
	fmt.Fprintf(w, "Try it (copy and paste):\n\n")
	fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n", akid, secret, region)
	fmt.Fprintf(w, "export AWS_ENDPOINT_URL_KAFKA=%s\n\n", endpoint)
	fmt.Fprintf(w, "ARN=$(aws kafka create-replicator --replicator-name demo \\\n")
	fmt.Fprintf(w, "  --service-execution-role-arn arn:aws:iam::%s:role/demo \\\n", account)
	fmt.Fprintf(w, "  --kafka-clusters '[{\"ApacheKafkaCluster\":{\"ApacheKafkaClusterId\":\"source\",\"BootstrapBrokerString\":\"%s\"}},{\"ApacheKafkaCluster\":{\"ApacheKafkaClusterId\":\"target\",\"BootstrapBrokerString\":\"%s\"}}]' \\\n", srcAddr, dstAddr)
	fmt.Fprintf(w, "  --replication-info-list '[{\"SourceKafkaClusterId\":\"source\",\"TargetKafkaClusterId\":\"target\",\"TargetCompressionType\":\"NONE\",\"TopicReplication\":{\"TopicsToReplicate\":[\"orders\"],\"StartingPosition\":{\"Type\":\"EARLIEST\"},\"DetectAndCopyNewTopics\":true,\"CopyTopicConfigurations\":true},\"ConsumerGroupReplication\":{\"ConsumerGroupsToReplicate\":[\".*\"]}}]' \\\n")
	fmt.Fprintf(w, "  --query ReplicatorArn --output text)\n")
	fmt.Fprintf(w, "aws kafka describe-replicator --replicator-arn \"$ARN\" --query ReplicatorState   # RUNNING within seconds\n")
	fmt.Fprintf(w, "%s produce --bootstrap %s --topic orders --count 10\n", self, srcAddr)
	fmt.Fprintf(w, "%s consume --bootstrap %s --topic %s --from-beginning --max 10\n\n", self, dstAddr, target)
}

func endpointHost(addr string) string {
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		return "127.0.0.1" + addr[strings.LastIndexByte(addr, ':'):]
	}
	return addr
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
