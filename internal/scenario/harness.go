package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/testutil"
)

// T is one test on one system: the helpers every scenario uses, as a user
// of the service would act (SDK, status extension, Kafka clients).
// Deadlines given to its methods are sized for the in-process system and
// stretched with System.Within.
type T struct {
	*testing.T
	Sys    System
	sdk    *awskafka.Client
	admins map[string]*kadm.Client // by cluster, for the helpers' own requests
}

// New returns the helpers of test t on sys.
func New(t *testing.T, sys System) *T {
	t.Helper()
	api := sys.API()
	opts := awskafka.Options{Region: api.Region, BaseEndpoint: aws.String(api.URL),
		Credentials: credentials.NewStaticCredentialsProvider(api.Credentials.AccessKeyID, api.Credentials.SecretAccessKey, "")}
	if api.MaxAttempts > 0 {
		opts.RetryMaxAttempts = api.MaxAttempts
	}
	return &T{T: t, Sys: sys, sdk: awskafka.New(opts), admins: map[string]*kadm.Client{}}
}

// SDK is the AWS SDK client of the control plane.
func (h *T) SDK() *awskafka.Client { return h.sdk }

// Unique returns s with the test's prefix: a topic, group or replicator
// name no other test uses.
func (h *T) Unique(s string) string {
	if p := h.Sys.Prefix(); p != "" {
		return p + "-" + s
	}
	return s
}

// Pattern matches every name that contains the test's prefix, wherever it
// stands: source topics and groups and, on the other side, their prefixed
// copies.
func (h *T) Pattern() string {
	if p := h.Sys.Prefix(); p != "" {
		return ".*" + regexp.QuoteMeta(p) + ".*"
	}
	return ".*"
}

// Mine reports whether a name carries the test's prefix.
func (h *T) Mine(name string) bool {
	return strings.Contains(name, h.Sys.Prefix())
}

// Eventually polls cond until it holds or the deadline, stretched for the
// system, passes; it returns how long it took.
func (h *T) Eventually(within time.Duration, what string, cond func() error) time.Duration {
	h.Helper()
	return testutil.Eventually(h.T, h.Sys.Within(within), what, cond)
}

// Settle lets a few metadata and discovery rounds run, before a check that
// something did NOT happen: there is no event to wait for.
func (h *T) Settle() { time.Sleep(testutil.Scale(h.Sys.Settle())) }

// --- the API ------------------------------------------------------------------

// Spec describes a replicator between the system's two clusters.
type Spec struct {
	// Name is made unique with the test's prefix (see Unique).
	Name            string
	Topics          []string // default: every topic of the test (Pattern)
	ExcludeTopics   []string
	Groups          []string // default: every group of the test (Pattern)
	Earliest        bool
	Identical       bool
	CopyConfigs     bool
	CopyACLs        bool
	DetectNewTopics bool
	SyncGroups      bool
	SyncMode        types.ConsumerGroupOffsetSyncMode
	Compression     types.TargetCompressionType // default: none
	// Reverse copies from the target cluster to the source cluster.
	Reverse bool
	// TargetSecret reaches the target through the SASL listener with this
	// secret ARN.
	TargetSecret string
	// SourceBootstrap replaces the source's bootstrap brokers.
	SourceBootstrap string
}

// CreateInput is the CreateReplicator request of a spec on this system.
func (h *T) CreateInput(s Spec) *awskafka.CreateReplicatorInput {
	if s.Topics == nil {
		s.Topics = []string{h.Pattern()}
	}
	if s.Groups == nil {
		s.Groups = []string{h.Pattern()}
	}
	if s.Compression == "" {
		s.Compression = types.TargetCompressionTypeNone
	}
	start, naming := types.ReplicationStartingPositionTypeLatest, types.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias
	if s.Earliest {
		start = types.ReplicationStartingPositionTypeEarliest
	}
	if s.Identical {
		naming = types.ReplicationTopicNameConfigurationTypeIdentical
	}
	src, dst := h.Sys.Source(), h.Sys.Target()
	if s.Reverse {
		src, dst = dst, src
	}
	if s.SourceBootstrap != "" {
		src.Bootstrap = s.SourceBootstrap
	}
	target := types.KafkaCluster{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(dst.ID), BootstrapBrokerString: aws.String(dst.Bootstrap)}}
	if s.TargetSecret != "" {
		target.ApacheKafkaCluster.BootstrapBrokerString = aws.String(h.Sys.SASLTarget().Bootstrap)
		target.ClientAuthentication = &types.KafkaClusterClientAuthentication{SaslScram: &types.KafkaClusterSaslScramAuthentication{
			Mechanism: types.KafkaClusterSaslScramMechanismSha256, SecretArn: aws.String(s.TargetSecret)}}
	}
	return &awskafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(h.Unique(s.Name)),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::" + h.Sys.API().Account + ":role/R"),
		KafkaClusters: []types.KafkaCluster{
			{ApacheKafkaCluster: &types.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(src.ID), BootstrapBrokerString: aws.String(src.Bootstrap)}},
			target,
		},
		ReplicationInfoList: []types.ReplicationInfo{{
			SourceKafkaClusterId: aws.String(src.ID), TargetKafkaClusterId: aws.String(dst.ID),
			TargetCompressionType: s.Compression,
			TopicReplication: &types.TopicReplication{TopicsToReplicate: s.Topics, TopicsToExclude: s.ExcludeTopics,
				StartingPosition:                &types.ReplicationStartingPosition{Type: start},
				TopicNameConfiguration:          &types.ReplicationTopicNameConfiguration{Type: naming},
				CopyTopicConfigurations:         aws.Bool(s.CopyConfigs),
				CopyAccessControlListsForTopics: aws.Bool(s.CopyACLs),
				DetectAndCopyNewTopics:          aws.Bool(s.DetectNewTopics)},
			ConsumerGroupReplication: &types.ConsumerGroupReplication{ConsumerGroupsToReplicate: s.Groups,
				SynchroniseConsumerGroupOffsets: aws.Bool(s.SyncGroups), DetectAndCopyNewConsumerGroups: aws.Bool(true),
				ConsumerGroupOffsetSyncMode: s.SyncMode},
		}},
	}
}

// Create creates a replicator and returns its ARN.
func (h *T) Create(s Spec) string {
	h.Helper()
	out, err := h.sdk.CreateReplicator(h.Context(), h.CreateInput(s))
	if err != nil {
		h.Fatalf("CreateReplicator %s: %v", h.Unique(s.Name), err)
	}
	return aws.ToString(out.ReplicatorArn)
}

// Describe describes a replicator.
func (h *T) Describe(arn string) *awskafka.DescribeReplicatorOutput {
	h.Helper()
	d, err := h.sdk.DescribeReplicator(h.Context(), &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
	if err != nil {
		h.Fatalf("DescribeReplicator: %v", err)
	}
	return d
}

// StateString is a replicator's state and stateInfo, for messages.
func StateString(d *awskafka.DescribeReplicatorOutput) string {
	s := string(d.ReplicatorState)
	if d.StateInfo != nil {
		s += " (" + aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message) + ")"
	}
	return s
}

// WaitState waits until a replicator is in state want.
func (h *T) WaitState(arn string, want types.ReplicatorState, within time.Duration) *awskafka.DescribeReplicatorOutput {
	h.Helper()
	var d *awskafka.DescribeReplicatorOutput
	took := h.Eventually(within, "replicator "+string(want), func() error {
		d = h.Describe(arn)
		if d.ReplicatorState != want {
			return fmt.Errorf("state %s", StateString(d))
		}
		return nil
	})
	h.Logf("%s %s after %s", aws.ToString(d.ReplicatorName), want, took.Round(10*time.Millisecond))
	return d
}

// DeleteReplicator deletes a replicator and waits until Describe answers
// NotFound; it reports (without stopping the test) when that takes longer
// than within.
func (h *T) DeleteReplicator(arn string, within time.Duration) {
	h.Helper()
	ctx := context.WithoutCancel(h.Context())
	var nf *types.NotFoundException
	deadline := time.Now().Add(testutil.Scale(h.Sys.Within(within)))
	for {
		d, err := h.sdk.DescribeReplicator(ctx, &awskafka.DescribeReplicatorInput{ReplicatorArn: &arn})
		if errors.As(err, &nf) {
			return
		}
		if err == nil && d.ReplicatorState != types.ReplicatorStateDeleting {
			_, err = h.sdk.DeleteReplicator(ctx, &awskafka.DeleteReplicatorInput{ReplicatorArn: &arn, CurrentVersion: d.CurrentVersion})
			if errors.As(err, &nf) {
				return
			}
		}
		if time.Now().After(deadline) {
			h.Errorf("replicator %s not deleted within %s: %v", arn, testutil.Scale(h.Sys.Within(within)), err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Status fetches the status extension of a replicator (SigV4-signed).
func (h *T) Status(arn string) map[string]any {
	h.Helper()
	api := h.Sys.API()
	req, _ := http.NewRequest("GET", api.URL+"/replication/v1/replicators/"+url.PathEscape(arn)+"/status", nil)
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(h.Context(), api.Credentials, req, emptySHA, "kafka", api.Region, time.Now()); err != nil {
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

// Summary is the numbers of a replicator's status summary.
func (h *T) Summary(arn string) map[string]float64 {
	h.Helper()
	sum, _ := h.Status(arn)["summary"].(map[string]any)
	out := map[string]float64{}
	for k, v := range sum {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// WaitCaughtUp waits until a replicator's status shows partitions and no
// lag.
func (h *T) WaitCaughtUp(arn string, within time.Duration) {
	h.Helper()
	h.Eventually(within, "no lag", func() error {
		s := h.Summary(arn)
		if s["messageLag"] != 0 || s["partitions"] == 0 {
			return fmt.Errorf("summary %v", s)
		}
		return nil
	})
}

// Metric sums the values of a counter or gauge over the workers' series
// whose labels include want (all of them).
func (h *T) Metric(name string, want map[string]string) float64 {
	h.Helper()
	sum := 0.0
	for _, mf := range h.Sys.Metrics() {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Untyped != nil:
				sum += m.Untyped.GetValue()
			}
		}
	}
	return sum
}

// --- Kafka ----------------------------------------------------------------------

// Client is a franz-go client of c, closed when the test ends.
func (h *T) Client(c Cluster, opts ...kgo.Opt) *kgo.Client {
	h.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(strings.Split(c.Bootstrap, ",")...), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(time.Second)}
	cl, err := kgo.NewClient(append(append(base, c.Opts...), opts...)...)
	if err != nil {
		h.Fatal(err)
	}
	h.Cleanup(cl.Close)
	return cl
}

// Admin is an admin client of c.
func (h *T) Admin(c Cluster, opts ...kgo.Opt) *kadm.Client {
	return kadm.NewClient(h.Client(c, opts...))
}

// admin is the admin client of c the helpers share (made once: they poll).
func (h *T) admin(c Cluster) *kadm.Client {
	h.Helper()
	k := c.ID + " " + c.Bootstrap
	if h.admins[k] == nil {
		h.admins[k] = h.Admin(c)
	}
	return h.admins[k]
}

// CreateTopic creates a topic with replication factor 1.
func (h *T) CreateTopic(c Cluster, partitions int32, configs map[string]*string, name string) {
	h.Helper()
	resp, err := h.admin(c).CreateTopic(h.Context(), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		h.Fatalf("create topic %s: %v (%s)", name, err, resp.ErrMessage)
	}
}

// Produce produces records synchronously.
func (h *T) Produce(cl *kgo.Client, rs ...*kgo.Record) {
	h.Helper()
	ctx, cancel := context.WithTimeout(h.Context(), testutil.Scale(h.Sys.Within(20*time.Second)))
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		h.Fatalf("produce: %v", err)
	}
}

// ReadAll reads topic from the start (no group) until count records
// arrived or the deadline passes; it returns what it read, which may be
// more than count.
func (h *T) ReadAll(c Cluster, topic string, count int, within time.Duration, opts ...kgo.Opt) []*kgo.Record {
	h.Helper()
	cl := h.Client(c, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	defer cl.Close()
	var out []*kgo.Record
	h.Eventually(within, fmt.Sprintf("%d records on %s", count, topic), func() error {
		ctx, cancel := context.WithTimeout(h.Context(), 300*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) < count {
			return fmt.Errorf("%d records so far", len(out))
		}
		return nil
	})
	return out
}

// EndOffsets returns the end offsets of a topic's partitions, and their
// sum (the number of records, for a topic without transaction markers).
func (h *T) EndOffsets(c Cluster, topic string) (map[int32]int64, int64) {
	h.Helper()
	ends, err := h.admin(c).ListEndOffsets(h.Context(), topic)
	if err == nil {
		err = ends.Error()
	}
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

// ConsumeGroup runs a group consumer on c until it has n records (or the
// deadline passes), reads whatever else is already there (a consumer that
// should re-read nothing must not get more than it should), commits what
// it read and leaves the group.
func (h *T) ConsumeGroup(c Cluster, group, topic string, n int, within time.Duration, opts ...kgo.Opt) []*kgo.Record {
	h.Helper()
	cl := h.Client(c, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond), kgo.RebalanceTimeout(10 * time.Second)}, opts...)...)
	var got []*kgo.Record
	deadline := time.Now().Add(testutil.Scale(h.Sys.Within(within)))
	for len(got) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(h.Context(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				h.Logf("consumer %s: %s/%d: %v", group, t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	ctx, cancel := context.WithTimeout(h.Context(), testutil.Scale(time.Second))
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	cancel()
	if err := cl.CommitUncommittedOffsets(h.Context()); err != nil {
		h.Fatalf("commit %s: %v", group, err)
	}
	cl.Close() // leaves the group
	return got
}

// ByPartition groups records by partition, in the order given.
func ByPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	out := map[int32][]*kgo.Record{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// HeaderValue is the value of a record's first header called key.
func HeaderValue(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
