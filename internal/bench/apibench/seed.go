package apibench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// ReplicatorName is the name of the i-th seeded replicator: bench-00000,
// bench-00001, ... so the 10-character prefix bench-0123 matches ten.
func ReplicatorName(i int) string { return fmt.Sprintf("bench-%05d", i) }

// NewReplicator returns a realistic replicator for account: two
// self-managed Kafka clusters with SASL/SCRAM and TLS, one replication
// flow, CloudWatch log delivery and four tags, in state RUNNING.
func NewReplicator(account, region string, i int) *replicator.Replicator {
	name := ReplicatorName(i)
	env := []string{"prod", "staging", "dev"}[i%3]
	srcID := fmt.Sprintf("kafka-%s-eu-%02d", env, i%17)
	dstID := fmt.Sprintf("kafka-%s-us-%02d", env, i%13)
	cluster := func(id, dc string) replicator.Cluster {
		return replicator.Cluster{
			Alias: replicator.ApacheClusterAlias(id),
			Apache: &replicator.ApacheKafkaCluster{
				ClusterID: id,
				BootstrapBrokers: fmt.Sprintf("b-1.%[1]s.%[2]s.example.net:9096,b-2.%[1]s.%[2]s.example.net:9096,b-3.%[1]s.%[2]s.example.net:9096",
					id, dc),
			},
			VPC: &replicator.VPCConfig{
				SubnetIDs:        []string{"subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718", "subnet-0c1d2e3f4a5b60718"},
				SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
			},
			Auth: &replicator.ClientAuthentication{SASLScram: &replicator.SASLScram{
				Mechanism: replicator.ScramSHA512,
				SecretARN: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:AmazonMSK_%s-AbCdEf", region, account, id),
			}},
			Encryption: &replicator.EncryptionInTransit{EncryptionType: "TLS"},
		}
	}
	src, dst := cluster(srcID, "eu-west-1"), cluster(dstID, "us-east-1")
	return &replicator.Replicator{
		ARN:                     replicator.ARN{Partition: "aws", Region: region, AccountID: account, Name: name, ID: uuid.NewString()},
		AccountID:               account,
		Name:                    name,
		Description:             fmt.Sprintf("Replicates %s topics from %s to %s", env, srcID, dstID),
		ServiceExecutionRoleARN: fmt.Sprintf("arn:aws:iam::%s:role/MSKReplicatorExecutionRole-%s", account, env),
		Spec: replicator.Spec{
			Clusters: []replicator.Cluster{src, dst},
			ReplicationInfo: []replicator.ReplicationInfo{{
				SourceAlias:       src.Alias,
				TargetAlias:       dst.Alias,
				TargetCompression: replicator.CompressionZstd,
				Topics: replicator.TopicReplication{
					TopicsToReplicate:               []string{"orders\\..*", "payments\\..*", fmt.Sprintf("team-%d\\..*", i%50)},
					TopicsToExclude:                 []string{".*[\\-\\.]internal", "__.*"},
					CopyTopicConfigurations:         true,
					CopyAccessControlListsForTopics: true,
					DetectAndCopyNewTopics:          true,
					StartingPosition:                replicator.StartLatest,
					TopicNameConfiguration:          replicator.NamePrefixed,
				},
				Groups: replicator.ConsumerGroupReplication{
					ConsumerGroupsToReplicate:       []string{".*"},
					ConsumerGroupsToExclude:         []string{"console-consumer-.*", "connect-.*"},
					DetectAndCopyNewConsumerGroups:  true,
					SynchroniseConsumerGroupOffsets: true,
					OffsetSyncMode:                  replicator.OffsetSyncLegacy,
				},
			}},
			LogDelivery: &replicator.LogDelivery{
				CloudWatchLogs: &replicator.LogDestination{Enabled: true, Name: "/msk/replicator/" + name},
			},
		},
		Tags: map[string]string{
			"environment": env,
			"team":        fmt.Sprintf("team-%d", i%50),
			"cost-center": fmt.Sprintf("cc-%04d", i%200),
			"managed-by":  "terraform",
		},
		State:          replicator.StateRunning,
		CurrentVersion: fmt.Sprintf("V%011d", i),
	}
}

// Seed inserts replicators 0..n-1 through store.CreateReplicator with
// concurrency workers and returns their ARNs by index. progress, if not
// nil, is called with the running count (from several goroutines).
func Seed(ctx context.Context, store *postgres.Store, account, region string, n, concurrency int, progress func(done int)) ([]string, error) {
	arns := make([]string, n)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				r := NewReplicator(account, region, i)
				if err := store.CreateReplicator(ctx, r); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("create %s: %w", r.Name, err); cancel() })
					return
				}
				arns[i] = r.ARN.String()
				d := int(done.Add(1))
				if progress != nil {
					progress(d)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return arns, nil
}
