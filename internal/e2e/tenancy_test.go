package e2e

// Regression tests of issue 11 for the edges between tenants and the
// service's own network: findings #4 (secrets of another account), #8
// (probing the workers' network through bootstrap brokers); #10 (series of
// deleted replicators) is a scenario both systems run
// (scenario.DeletedReplicatorSeriesDisappear).

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/internal/scenario"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// waitUnreachable waits until the replicator is FAILED with code
// SourceUnreachable and returns its stateInfo message.
func (e *env) waitUnreachable(arn string) string {
	e.t.Helper()
	var msg string
	e.Eventually(failAfter+20*time.Second, "FAILED with SourceUnreachable", func() error {
		d := e.Describe(arn)
		code := ""
		if d.StateInfo != nil {
			code, msg = aws.ToString(d.StateInfo.Code), aws.ToString(d.StateInfo.Message)
		}
		if d.ReplicatorState != types.ReplicatorStateFailed || code != "SourceUnreachable" {
			return fmt.Errorf("state %s %s: %s", d.ReplicatorState, code, msg)
		}
		return nil
	})
	return msg
}

// Finding #8: a tenant who points a replicator at the control plane's own
// HTTP port, at a closed port and at the PostgreSQL port gets the same
// answer for all three ("cannot connect to the source cluster <alias>
// (<brokers>)"), so the status endpoint no longer maps the workers'
// network. Operators still get the difference: in the log and as the class
// label of replicator_cluster_connection_errors_total.
func TestProbeAnswersLookAlike(t *testing.T) {
	e := newEnv(t)
	api, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{
		"probe-http":   api.Host,
		"probe-closed": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"probe-pg":     net.JoinHostPort(pg.Hostname(), pg.Port()),
	}
	arns := map[string]string{}
	for name, addr := range targets {
		arns[name] = e.Create(scenario.Spec{Name: name, SourceBootstrap: addr})
	}
	want := ""
	for name, addr := range targets {
		msg := e.waitUnreachable(arns[name])
		shape := strings.ReplaceAll(msg, addr, "<brokers>")
		if want == "" {
			want = shape
			if want != "cannot connect to the source cluster "+e.Source().Alias()+" (<brokers>)" {
				t.Errorf("%s: stateInfo %q is not the generic message", name, msg)
			}
		} else if shape != want {
			t.Errorf("%s: stateInfo %q differs from %q: a tenant can tell the destinations apart", name, shape, want)
		}
		st := fmt.Sprint(e.Status(arns[name]))
		for _, raw := range []string{"dial tcp", "refused", "EOF", "HTTP", "response size", "timeout"} {
			if strings.Contains(st, raw) {
				t.Errorf("%s: the status endpoint shows the raw error (%q): %s", name, raw, st)
			}
		}
	}
	if n := e.Metric("replicator_cluster_connection_errors_total", map[string]string{"replicator": "probe-closed", "class": "refused"}); n < 1 {
		t.Errorf("replicator_cluster_connection_errors_total{class=refused} of the closed port = %v", n)
	}
	if n := e.Metric("replicator_cluster_connection_errors_total", map[string]string{"replicator": "probe-http", "class": "other"}); n < 1 {
		t.Errorf("replicator_cluster_connection_errors_total{class=other} of the HTTP port = %v", n)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "engine: cluster check failed") || !strings.Contains(logs, "refused") {
		t.Error("the operator's log does not carry the raw connection error")
	}
}

// Finding #8, workers' side: a destination the workers' policy denies is
// never dialled, even when the control plane let it through (another
// network, or a DNS name that resolves elsewhere now). The tenant sees the
// generic message; the metric counts the class "denied".
func TestWorkerDialerRefusesDeniedDestination(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	workerPolicy, err := netguard.Parse("", netguard.DefaultDenied+",127.0.0.2/32")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withDestinations(nil, workerPolicy))
	arn := e.Create(scenario.Spec{Name: "denied-src", SourceBootstrap: ln.Addr().String()})
	msg := e.waitUnreachable(arn)
	if msg != "cannot connect to the source cluster "+e.Source().Alias()+" ("+ln.Addr().String()+")" {
		t.Errorf("stateInfo %q", msg)
	}
	if n := e.Metric("replicator_cluster_connection_errors_total", map[string]string{"replicator": "denied-src", "class": "denied"}); n < 1 {
		t.Errorf("replicator_cluster_connection_errors_total{class=denied} = %v", n)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the worker connected %d times to a denied destination", n)
	}
}

// Finding #4, workers' side (defence in depth): a replicator whose spec
// names another account's secret (as one stored before the API checked
// ownership would) gets no connection with it: the worker resolves secrets
// with the replicator's account.
func TestWorkerResolvesSecretsForTheReplicatorsAccount(t *testing.T) {
	e := newEnv(t, withSASLTarget())
	const otherAccount = "999999999999"
	ctx := context.Background()
	src, dst := e.Source(), e.Target()
	srcAlias, dstAlias := src.Alias(), dst.Alias()
	r := &replicator.Replicator{
		ARN:                     replicator.ARN{Partition: "aws", Region: "us-east-1", AccountID: otherAccount, Name: "borrowed", ID: uuid.NewString()},
		AccountID:               otherAccount,
		Name:                    "borrowed",
		ServiceExecutionRoleARN: "arn:aws:iam::" + otherAccount + ":role/R",
		Spec: replicator.Spec{
			Clusters: []replicator.Cluster{
				{Alias: srcAlias, Apache: &replicator.ApacheKafkaCluster{ClusterID: srcCluster, BootstrapBrokers: src.Bootstrap}},
				{Alias: dstAlias, Apache: &replicator.ApacheKafkaCluster{ClusterID: dstCluster, BootstrapBrokers: dst.Bootstrap},
					Auth: &replicator.ClientAuthentication{SASLScram: &replicator.SASLScram{Mechanism: replicator.ScramSHA256, SecretARN: scramARN}}},
			},
			ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: srcAlias, TargetAlias: dstAlias,
				TargetCompression: replicator.CompressionNone,
				Topics: replicator.TopicReplication{TopicsToReplicate: []string{".*"}, StartingPosition: replicator.StartEarliest,
					TopicNameConfiguration: replicator.NamePrefixed, DetectAndCopyNewTopics: true},
				Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
		},
		State:          replicator.StateCreating,
		CurrentVersion: "TENANCY00001",
	}
	if err := e.store.CreateReplicator(ctx, r); err != nil {
		t.Fatal(err)
	}
	e.CreateTopic(src, 1, nil, "borrowed-data")
	e.Produce(e.Client(src), &kgo.Record{Topic: "borrowed-data", Value: []byte("x")})
	e.Eventually(failAfter+20*time.Second, "FAILED for want of the secret", func() error {
		got, err := e.store.GetReplicator(ctx, otherAccount, r.ARN.String())
		if err != nil {
			return err
		}
		if got.State != replicator.StateFailed || !strings.Contains(got.StateMessage, "secret not found") {
			return fmt.Errorf("state %s %s: %s", got.State, got.StateCode, got.StateMessage)
		}
		return nil
	})
	topics, err := e.Admin(dst).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has(srcAlias + ".borrowed-data") {
		t.Fatal("the worker connected to the target with another account's secret")
	}
}
