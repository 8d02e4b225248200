package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/kafka"
)

// SASLScramTarget copies to a target that requires SASL/SCRAM-SHA-256,
// with credentials from the system's secrets; a wrong password makes the
// replicator FAILED (TargetAuthenticationFailed, naming the cluster),
// counts in replicator_auth_errors_total and leaves the cluster reported
// unhealthy, while the right one keeps RUNNING. No password appears in any
// response, log line or metric.
func SASLScramTarget(t *testing.T, sys System) {
	h := New(t, sys)
	src, sasl := sys.Source(), sys.SASLTarget()
	topic := h.Unique("private")
	h.CreateTopic(src, 1, nil, topic)
	good := h.Create(Spec{Name: "scram-ok", Earliest: true, TargetSecret: sasl.Secret})
	bad := h.Create(Spec{Name: "scram-bad", Earliest: true, TargetSecret: sasl.BadSecret})
	h.WaitState(good, types.ReplicatorStateRunning, 10*time.Second)
	h.Produce(h.Client(src), &kgo.Record{Topic: topic, Value: []byte("secret-data")})
	got := h.ReadAll(sasl.Cluster, src.Alias()+"."+topic, 1, 10*time.Second)
	if string(got[0].Value) != "secret-data" {
		t.Fatalf("got %q", got[0].Value)
	}
	d := h.WaitState(bad, types.ReplicatorStateFailed, sys.FailAfter()+10*time.Second)
	if code := aws.ToString(d.StateInfo.Code); code != "TargetAuthenticationFailed" {
		t.Fatalf("stateInfo %s", StateString(d))
	}
	if msg := aws.ToString(d.StateInfo.Message); !strings.Contains(msg, sasl.Bootstrap) {
		t.Fatalf("stateInfo message does not name the cluster %s: %s", sasl.Bootstrap, msg)
	}
	t.Logf("wrong password: %s", StateString(d))
	badName := h.Unique("scram-bad")
	if v := h.Metric("replicator_auth_errors_total", map[string]string{"replicator": badName}); v < 1 {
		t.Fatalf("replicator_auth_errors_total = %v: the refused authentication is not counted", v)
	}
	if v := h.Metric("replicator_cluster_ping_success", map[string]string{"replicator": badName, "cluster_alias": sasl.Alias()}); v != 0 {
		t.Fatalf("the refused target is reported healthy (replicator_cluster_ping_success = %v)", v)
	}
	leaks := func(s string) bool {
		for _, p := range sasl.Passwords {
			if strings.Contains(s, p) {
				return true
			}
		}
		return false
	}
	if logs := sys.Logs(); leaks(logs) {
		t.Fatal("a password appears in the logs")
	} else if !strings.Contains(logs, "TargetAuthenticationFailed") {
		t.Fatal("the logs do not show the authentication failure (are logs captured?)")
	}
	// Nor in any metric: names, label values, help texts.
	mfs := sys.Metrics()
	if len(mfs) == 0 {
		t.Fatal("no metric families gathered")
	}
	for _, mf := range mfs {
		if leaks(mf.String()) {
			t.Fatalf("a password appears in metric %s", mf.GetName())
		}
	}
	for _, arn := range []string{good, bad} {
		for _, body := range []string{fmt.Sprintf("%+v", h.Describe(arn)), fmt.Sprint(h.Status(arn))} {
			if leaks(body) {
				t.Fatal("a password appears in a response")
			}
		}
	}
	if d := h.Describe(good); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("the replicator with the right password is %s", StateString(d))
	}
}

// ActiveActiveIdenticalNoLoops runs a replicator each way with identical
// topic names: every record appears once on each side, copies carry the
// origin header of the side they came from, and nothing comes back to
// where it started.
func ActiveActiveIdenticalNoLoops(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("shared")
	h.CreateTopic(src, 1, nil, topic)
	h.CreateTopic(dst, 1, nil, topic)
	ab := h.Create(Spec{Name: "a-to-b", Identical: true, Earliest: true, DetectNewTopics: true})
	ba := h.Create(Spec{Name: "b-to-a", Identical: true, Earliest: true, DetectNewTopics: true, Reverse: true})
	h.WaitState(ab, types.ReplicatorStateRunning, 10*time.Second)
	h.WaitState(ba, types.ReplicatorStateRunning, 10*time.Second)
	sp, dp := h.Client(src), h.Client(dst)
	for i := range 10 {
		h.Produce(sp, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("from-src-%d", i))})
	}
	for i := range 5 {
		h.Produce(dp, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("from-dst-%d", i))})
	}
	h.ReadAll(src, topic, 15, 10*time.Second)
	h.ReadAll(dst, topic, 15, 10*time.Second)
	// Both replicators caught up (a loop would keep them busy), then a few
	// more rounds for a loop to show itself; then count exactly.
	h.WaitCaughtUp(ab, 5*time.Second)
	h.WaitCaughtUp(ba, 5*time.Second)
	h.Settle()
	for _, side := range []struct {
		name    string
		c       Cluster
		origin  string // of the copies on this side
		ownRecs string // prefix of the records produced on this side
	}{{"source", src, dst.Alias(), "from-src"}, {"target", dst, src.Alias(), "from-dst"}} {
		recs := h.ReadAll(side.c, topic, 15, 5*time.Second)
		_, total := h.EndOffsets(side.c, topic)
		if len(recs) != 15 || total != 15 {
			t.Fatalf("%s holds %d records (read %d), want 15: a loop copies more", side.name, total, len(recs))
		}
		for _, r := range recs {
			origin, _ := HeaderValue(r, kafka.OriginHeader)
			want := side.origin
			if strings.HasPrefix(string(r.Value), side.ownRecs) {
				want = ""
			}
			if origin != want {
				t.Fatalf("record %q on the %s has origin %q, want %q", r.Value, side.name, origin, want)
			}
		}
	}
}

// PrefixedActiveActiveNoLoops: with prefixed names, topics that came from
// the other side are not copied back, even though the topic patterns
// match them.
func PrefixedActiveActiveNoLoops(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("orders")
	h.CreateTopic(src, 1, nil, topic)
	ab := h.Create(Spec{Name: "p-a-to-b", Earliest: true, DetectNewTopics: true})
	ba := h.Create(Spec{Name: "p-b-to-a", Earliest: true, DetectNewTopics: true, Reverse: true})
	h.WaitState(ab, types.ReplicatorStateRunning, 10*time.Second)
	h.WaitState(ba, types.ReplicatorStateRunning, 10*time.Second)
	h.Produce(h.Client(src), &kgo.Record{Topic: topic, Value: []byte("x")})
	h.ReadAll(dst, src.Alias()+"."+topic, 1, 10*time.Second)
	h.WaitCaughtUp(ab, 5*time.Second)
	h.Settle() // a few discovery rounds of b-to-a
	for _, side := range []struct {
		name string
		c    Cluster
		only string
	}{{"source", src, topic}, {"target", dst, src.Alias() + "." + topic}} {
		td, err := h.Admin(side.c).ListTopics(h.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range td.Names() {
			if h.Mine(n) && n != side.only {
				t.Fatalf("the %s has %q besides %s: a topic went back and forth", side.name, n, side.only)
			}
		}
	}
}
