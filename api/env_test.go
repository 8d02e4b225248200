package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	region   = "us-east-1"
	accountA = "111111111111"
	accountB = "222222222222"
	mskSrc   = "arn:aws:kafka:us-east-1:111111111111:cluster/src/361a2e04-ff39-48d4-9ee0-f810cd197370-s2"
	mskDst   = "arn:aws:kafka:us-west-2:111111111111:cluster/dst/dda06cc0-beac-4862-8cba-e18cd64c6075-3"
	scramARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:AmazonMSK_src-abc123"
	// scramARNB is account B's own secret.
	scramARNB = "arn:aws:secretsmanager:us-east-1:222222222222:secret:AmazonMSK_b-def456"
)

var (
	keyA = sigv4.Key{AccessKeyID: "AKIDAAAAAAAAAAAAAAAA", SecretAccessKey: "secretA/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", AccountID: accountA}
	keyB = sigv4.Key{AccessKeyID: "AKIDBBBBBBBBBBBBBBBB", SecretAccessKey: "secretB/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", AccountID: accountB}
)

// env is a running control plane over a fresh database, with SDK clients
// for two accounts.
type env struct {
	url   string
	store *postgres.Store
	a, b  *kafka.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with a change to the server's configuration.
func newEnvWith(t *testing.T, configure func(*api.Config)) *env {
	t.Helper()
	store := pgtest.Store(t)
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "clusters.json"), map[string]any{
		mskSrc: map[string]any{"bootstrapBrokerString": "127.0.0.1:1"},
		mskDst: map[string]any{"bootstrapBrokerString": "127.0.0.1:2"},
	})
	writeJSON(t, filepath.Join(dir, "secrets.json"), map[string]any{
		scramARN:  map[string]string{"username": "u", "password": "p"},
		scramARNB: map[string]string{"username": "ub", "password": "pb"},
	})
	files, err := catalog.Load(filepath.Join(dir, "clusters.json"), filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Region:  region,
		Store:   store,
		Auth:    api.SigV4(sigv4.NewVerifier(region, "kafka", []sigv4.Key{keyA, keyB})),
		Catalog: files,
		Secrets: files,
	}
	if configure != nil {
		configure(&cfg)
	}
	h := api.NewServer(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go maintenance.New(store, maintenance.Config{Tick: 50 * time.Millisecond}).Run(ctx)
	return &env{url: srv.URL, store: store, a: sdkClient(srv.URL, keyA), b: sdkClient(srv.URL, keyB)}
}

func sdkClient(url string, k sigv4.Key) *kafka.Client {
	return kafka.New(kafka.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "session-token-ignored"),
		RetryMaxAttempts: 1,
	})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// apacheCreate returns a valid CreateReplicator input between two
// self-managed clusters.
func apacheCreate(name string) *kafka.CreateReplicatorInput {
	return &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		Description:             aws.String("orders to DR"),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::111111111111:role/MskReplicatorRole"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("primary"), BootstrapBrokerString: aws.String("127.0.0.1:9092,127.0.0.1:9093")}},
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("dr"), BootstrapBrokerString: aws.String("localhost:19092")},
				ClientAuthentication: &types.KafkaClusterClientAuthentication{SaslScram: &types.KafkaClusterSaslScramAuthentication{
					Mechanism: types.KafkaClusterSaslScramMechanismSha512, SecretArn: aws.String(scramARN)}}},
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId:  aws.String("primary"),
			TargetKafkaClusterId:  aws.String("dr"),
			TargetCompressionType: types.TargetCompressionTypeLz4,
			TopicReplication: &types.TopicReplication{
				TopicsToReplicate:               []string{"orders.*", "payments"},
				TopicsToExclude:                 []string{".*\\.tmp"},
				CopyTopicConfigurations:         aws.Bool(true),
				CopyAccessControlListsForTopics: aws.Bool(true),
				DetectAndCopyNewTopics:          aws.Bool(true),
				StartingPosition:                &types.ReplicationStartingPosition{Type: types.ReplicationStartingPositionTypeEarliest},
			},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{
				ConsumerGroupsToReplicate:       []string{".*"},
				DetectAndCopyNewConsumerGroups:  aws.Bool(true),
				SynchroniseConsumerGroupOffsets: aws.Bool(true),
			},
		}},
		Tags: map[string]string{"env": "dev", "team": "platform"},
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
