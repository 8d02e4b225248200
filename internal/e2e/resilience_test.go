package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/openreplicator/replicator/pkg/kafka"
)

// TestActiveActiveIdenticalNoLoops runs a replicator each way with
// identical topic names: every record appears once on each side, and
// nothing comes back to where it started.
func TestActiveActiveIdenticalNoLoops(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []*kfake.Cluster{e.src, e.dst} {
		if _, err := kadmOf(e, c).CreateTopic(ctx, 1, 1, nil, "shared"); err != nil {
			t.Fatal(err)
		}
	}
	ab := e.create(spec{name: "a-to-b", identical: true, earliest: true})
	ba := e.create(spec{name: "b-to-a", identical: true, earliest: true, reverse: true})
	e.waitState(ab, types.ReplicatorStateRunning, 10*time.Second)
	e.waitState(ba, types.ReplicatorStateRunning, 10*time.Second)
	for i := range 10 {
		produce(t, e.client(e.src), &kgo.Record{Topic: "shared", Value: []byte(fmt.Sprintf("from-src-%d", i))})
	}
	for i := range 5 {
		produce(t, e.client(e.dst), &kgo.Record{Topic: "shared", Value: []byte(fmt.Sprintf("from-dst-%d", i))})
	}
	onSrc := e.readAll(e.src, "shared", 15, 10*time.Second)
	onDst := e.readAll(e.dst, "shared", 15, 10*time.Second)
	// Give a loop time to show itself, then count again.
	time.Sleep(scale(2 * time.Second))
	onSrc = e.readAll(e.src, "shared", 15, 5*time.Second)
	onDst = e.readAll(e.dst, "shared", 15, 5*time.Second)
	if len(onSrc) != 15 || len(onDst) != 15 {
		t.Fatalf("records: source %d, target %d; want 15 each (a loop copies more)", len(onSrc), len(onDst))
	}
	for _, r := range onDst {
		origin := ""
		for _, h := range r.Headers {
			if h.Key == kafka.OriginHeader {
				origin = string(h.Value)
			}
		}
		want := alias(srcCluster)
		if strings.HasPrefix(string(r.Value), "from-dst") {
			want = ""
		}
		if origin != want {
			t.Fatalf("record %q on the target has origin %q, want %q", r.Value, origin, want)
		}
	}
}

// TestPrefixedActiveActiveNoLoops: with prefixed names, topics that came
// from the other side are not copied back.
func TestPrefixedActiveActiveNoLoops(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := kadmOf(e, e.src).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	ab := e.create(spec{name: "p-a-to-b", earliest: true, detectNewTopics: true})
	ba := e.create(spec{name: "p-b-to-a", earliest: true, detectNewTopics: true, reverse: true})
	e.waitState(ab, types.ReplicatorStateRunning, 10*time.Second)
	e.waitState(ba, types.ReplicatorStateRunning, 10*time.Second)
	produce(t, e.client(e.src), &kgo.Record{Topic: "orders", Value: []byte("x")})
	e.readAll(e.dst, alias(srcCluster)+".orders", 1, 10*time.Second)
	time.Sleep(scale(2 * time.Second))
	td, err := kadmOf(e, e.src).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range td.Names() {
		if n != "orders" {
			t.Fatalf("source has %q: a topic went back and forth", n)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestUnreachableSourceFailsThenRecovers: a source that cannot be reached
// turns the replicator FAILED with a clear stateInfo, and it recovers on
// its own when the source comes up.
func TestUnreachableSourceFailsThenRecovers(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	arn := e.create(spec{name: "unreachable", earliest: true, srcBootstrap: fmt.Sprintf("127.0.0.1:%d", port)})
	d := e.waitState(arn, types.ReplicatorStateFailed, failAfter+10*time.Second)
	if code := aws.ToString(d.StateInfo.Code); code != "SourceUnreachable" && code != "DiscoveryFailed" {
		t.Fatalf("stateInfo %s: %s", code, aws.ToString(d.StateInfo.Message))
	}
	if !strings.Contains(aws.ToString(d.StateInfo.Message), fmt.Sprint(port)) {
		t.Fatalf("stateInfo message does not name the cluster: %s", aws.ToString(d.StateInfo.Message))
	}
	src, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "back"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	e.waitState(arn, types.ReplicatorStateRunning, 20*time.Second)
	cl, _ := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...))
	defer cl.Close()
	produce(t, cl, &kgo.Record{Topic: "back", Value: []byte("hello")})
	e.readAll(e.dst, alias(srcCluster)+".back", 1, 10*time.Second)
}

// TestSASLScramTarget copies to a cluster that requires SASL/SCRAM with the
// credentials from the secrets file; wrong credentials make the replicator
// FAILED, and the password appears in no response.
func TestSASLScramTarget(t *testing.T) {
	e := newEnv(t, withTarget(kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.User("SCRAM-SHA-256", "replicator", "s3cret-pass")))
	ctx := context.Background()
	if _, err := kadmOf(e, e.src).CreateTopic(ctx, 1, 1, nil, "private"); err != nil {
		t.Fatal(err)
	}
	good := e.create(spec{name: "scram-ok", earliest: true, dstSecret: scramARN})
	bad := e.create(spec{name: "scram-bad", earliest: true, dstSecret: badScram})
	e.waitState(good, types.ReplicatorStateRunning, 10*time.Second)
	produce(t, e.client(e.src), &kgo.Record{Topic: "private", Value: []byte("secret-data")})
	admin := scram.Auth{User: "admin", Pass: "admin"}.AsSha256Mechanism()
	got := e.readAll(e.dst, alias(srcCluster)+".private", 1, 10*time.Second, kgo.SASL(admin))
	if string(got[0].Value) != "secret-data" {
		t.Fatalf("got %q", got[0].Value)
	}
	d := e.waitState(bad, types.ReplicatorStateFailed, failAfter+10*time.Second)
	if code := aws.ToString(d.StateInfo.Code); code != "TargetAuthenticationFailed" {
		t.Fatalf("stateInfo %s: %s", code, aws.ToString(d.StateInfo.Message))
	}
	if e.metric("replicator_auth_errors_total", map[string]string{"replicator": "scram-bad"}) < 1 {
		t.Fatal("replicator_auth_errors_total did not count the refused authentication")
	}
	if e.metric("replicator_cluster_ping_success", map[string]string{"replicator": "scram-bad", "cluster_alias": alias(dstCluster)}) != 0 {
		t.Fatal("the refused target is reported healthy")
	}
	if logs := e.logs.String(); strings.Contains(logs, "s3cret-pass") || strings.Contains(logs, "wrong-pass") {
		t.Fatal("a password appears in the logs")
	} else if !strings.Contains(logs, "TargetAuthenticationFailed") {
		t.Fatal("the logs do not show the authentication failure (are logs captured?)")
	}
	// Nor in any metric: names, label values, help texts.
	mfs, err := e.reg.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("gather metrics: %d families, %v", len(mfs), err)
	}
	for _, mf := range mfs {
		if s := mf.String(); strings.Contains(s, "s3cret-pass") || strings.Contains(s, "wrong-pass") {
			t.Fatalf("a password appears in metric %s", mf.GetName())
		}
	}
	for _, arn := range []string{good, bad} {
		for _, body := range []string{fmt.Sprintf("%+v", e.describe(arn)), fmt.Sprint(e.status(arn))} {
			if strings.Contains(body, "s3cret-pass") || strings.Contains(body, "wrong-pass") {
				t.Fatal("a password appears in a response")
			}
		}
	}
}
