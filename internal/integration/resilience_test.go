//go:build integration

package integration

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

// TestSASLScramTarget copies to the target's SASL_PLAINTEXT listener with
// SCRAM-SHA-256 credentials from the secrets file; a wrong password makes
// the replicator FAILED (TargetAuthenticationFailed), and no password
// appears in any response.
func TestSASLScramTarget(t *testing.T) {
	h := newT(t, "scram")
	topic := h.name("private")
	h.createTopic(h.srcAdm, 1, nil, topic)
	good := h.create(spec{name: "scram-ok", earliest: true, targetSecret: scramOK})
	bad := h.create(spec{name: "scram-bad", earliest: true, targetSecret: scramBad})
	h.waitState(good, types.ReplicatorStateRunning, 60*time.Second)
	h.produce(h.client(suite.source), &kgo.Record{Topic: topic, Value: []byte("secret-data")})
	target := alias(sourceID) + "." + topic
	got := h.readAll(suite.targetSASL, target, 1, 60*time.Second,
		kgo.SASL(saslAdmin()))
	if string(got[0].Value) != "secret-data" {
		t.Fatalf("got %q", got[0].Value)
	}
	d := h.waitState(bad, types.ReplicatorStateFailed, failAfter+60*time.Second)
	if code := aws.ToString(d.StateInfo.Code); code != "TargetAuthenticationFailed" {
		t.Fatalf("stateInfo %s", stateString(d))
	}
	if msg := aws.ToString(d.StateInfo.Message); !strings.Contains(msg, suite.targetSASL) {
		t.Fatalf("stateInfo message does not name the cluster %s: %s", suite.targetSASL, msg)
	}
	t.Logf("wrong password: %s", stateString(d))
	if v := h.workerMetric("replicator_auth_errors_total", h.name("scram-bad")); v <= 0 {
		t.Fatalf("replicator_auth_errors_total %v on the workers, want > 0", v)
	}
	for _, arn := range []string{good, bad} {
		for _, body := range []string{fmt.Sprintf("%+v", h.describe(arn)), fmt.Sprint(h.status(arn))} {
			if strings.Contains(body, suite.scramPass) {
				t.Fatal("a password appears in a response")
			}
		}
	}
	if d := h.describe(good); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("the replicator with the right password is %s", stateString(d))
	}
}

// TestActiveActiveIdenticalNoLoops runs a replicator each way with
// identical topic names: every record appears once on each side, and
// nothing comes back to where it started.
func TestActiveActiveIdenticalNoLoops(t *testing.T) {
	h := newT(t, "active-active")
	topic := h.name("shared")
	h.createTopic(h.srcAdm, 1, nil, topic)
	h.createTopic(h.dstAdm, 1, nil, topic)
	ab := h.create(spec{name: "a-to-b", identical: true, earliest: true, detectNewTopics: true})
	ba := h.create(spec{name: "b-to-a", identical: true, earliest: true, detectNewTopics: true, reverse: true})
	h.waitState(ab, types.ReplicatorStateRunning, 60*time.Second)
	h.waitState(ba, types.ReplicatorStateRunning, 60*time.Second)
	src, dst := h.client(suite.source), h.client(suite.target)
	for i := range 10 {
		h.produce(src, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("from-src-%d", i))})
	}
	for i := range 5 {
		h.produce(dst, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("from-dst-%d", i))})
	}
	h.readAll(suite.source, topic, 15, 60*time.Second)
	h.readAll(suite.target, topic, 15, 60*time.Second)
	// Both replicators caught up (a loop would keep them busy), then a few
	// more sync rounds for a loop to show itself; then count exactly.
	h.waitCaughtUp(ab, 30*time.Second)
	h.waitCaughtUp(ba, 30*time.Second)
	time.Sleep(scale(3 * time.Second))
	for _, side := range []struct {
		name, addr, origin, own string
	}{{"source", suite.source, alias(targetID), "from-src"}, {"target", suite.target, alias(sourceID), "from-dst"}} {
		recs := h.readAll(side.addr, topic, 15, 30*time.Second)
		_, total := h.endOffsets(kadmFor(h, side.addr), topic)
		if len(recs) != 15 || total != 15 {
			t.Fatalf("%s holds %d records (read %d), want 15: a loop copies more", side.name, total, len(recs))
		}
		for _, r := range recs {
			origin, _ := headerValue(r, kafka.OriginHeader)
			want := side.origin
			if strings.HasPrefix(string(r.Value), side.own) {
				want = ""
			}
			if origin != want {
				t.Fatalf("record %q on the %s has origin %q, want %q", r.Value, side.name, origin, want)
			}
		}
	}
}

// TestPrefixedActiveActiveNoLoops: with prefixed names, topics that came
// from the other side are not copied back, even though the topic patterns
// match them.
func TestPrefixedActiveActiveNoLoops(t *testing.T) {
	h := newT(t, "prefixed-aa")
	topic := h.name("orders")
	h.createTopic(h.srcAdm, 1, nil, topic)
	ab := h.create(spec{name: "p-a-to-b", earliest: true, detectNewTopics: true})
	ba := h.create(spec{name: "p-b-to-a", earliest: true, detectNewTopics: true, reverse: true})
	h.waitState(ab, types.ReplicatorStateRunning, 60*time.Second)
	h.waitState(ba, types.ReplicatorStateRunning, 60*time.Second)
	h.produce(h.client(suite.source), &kgo.Record{Topic: topic, Value: []byte("x")})
	h.readAll(suite.target, alias(sourceID)+"."+topic, 1, 60*time.Second)
	h.waitCaughtUp(ab, 30*time.Second)
	time.Sleep(scale(3 * time.Second)) // a few discovery rounds of b-to-a
	td, err := h.srcAdm.ListTopics(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range td.Names() {
		if strings.Contains(n, h.prefix) && n != topic {
			t.Fatalf("source has %q: a topic went back and forth", n)
		}
	}
	td, err = h.dstAdm.ListTopics(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range td.Names() {
		if strings.Contains(n, h.prefix) && n != alias(sourceID)+"."+topic {
			t.Fatalf("target has %q besides the copy", n)
		}
	}
}
