//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dynamicConfigs is a topic's explicitly set configs (DYNAMIC_TOPIC_CONFIG).
func (h *T) dynamicConfigs(adm *kadm.Client, topic string) (map[string]string, error) {
	rc, err := adm.DescribeTopicConfigs(h.ctx, topic)
	if err != nil {
		return nil, err
	}
	if len(rc) != 1 || rc[0].Err != nil {
		return nil, fmt.Errorf("describe configs of %s: %v", topic, rc)
	}
	m := map[string]string{}
	for _, c := range rc[0].Configs {
		if c.Source == kmsgDynamicTopicConfig && c.Value != nil {
			m[c.Key] = *c.Value
		}
	}
	return m, nil
}

const kmsgDynamicTopicConfig = 1

// TestTopicConfigsFollowTheSource: explicitly set source configs are set
// on the target at creation and kept in step; min.insync.replicas is never
// copied; a key the source drops is removed; a target-only override stays.
// Real Kafka validates config names and values, unlike kfake.
func TestTopicConfigsFollowTheSource(t *testing.T) {
	h := newT(t, "configs")
	topic := h.name("conf")
	h.createTopic(h.srcAdm, 2, map[string]*string{
		"retention.ms": kadm.StringPtr("86400000"), "cleanup.policy": kadm.StringPtr("compact"),
		"min.insync.replicas": kadm.StringPtr("1"), "max.message.bytes": kadm.StringPtr("2000000"),
		"segment.bytes": kadm.StringPtr("16777216"), "unclean.leader.election.enable": kadm.StringPtr("true"),
	}, topic)
	// A target override the source does not set: the service leaves it
	// alone. min.insync.replicas differs from the source's on purpose.
	arn := h.create(spec{name: "configs", copyConfigs: true, earliest: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	target := alias(sourceID) + "." + topic
	eventually(t, 30*time.Second, "configs copied", func() error {
		m, err := h.dynamicConfigs(h.dstAdm, target)
		if err != nil {
			return err
		}
		if m["retention.ms"] != "86400000" || m["cleanup.policy"] != "compact" || m["max.message.bytes"] != "2000000" || m["segment.bytes"] != "16777216" {
			return fmt.Errorf("target configs %v", m)
		}
		for _, never := range []string{"min.insync.replicas", "unclean.leader.election.enable"} {
			if _, ok := m[never]; ok {
				return fmt.Errorf("%s was copied: %v", never, m)
			}
		}
		return nil
	})
	if _, err := h.dstAdm.AlterTopicConfigs(h.ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("3600000")},
		{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: kadm.StringPtr("1")},
	}, target); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srcAdm.AlterTopicConfigs(h.ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")},
		{Op: kadm.SetConfig, Name: "compression.type", Value: kadm.StringPtr("lz4")},
		{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
	}, topic)
	if err == nil {
		err = resp[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 30*time.Second, "config change synced", func() error {
		m, err := h.dynamicConfigs(h.dstAdm, target)
		if err != nil {
			return err
		}
		if m["retention.ms"] != "3600000" || m["compression.type"] != "lz4" {
			return fmt.Errorf("retention.ms %q, compression.type %q", m["retention.ms"], m["compression.type"])
		}
		if _, ok := m["max.message.bytes"]; ok {
			return fmt.Errorf("max.message.bytes still set")
		}
		if m["segment.ms"] != "3600000" || m["min.insync.replicas"] != "1" {
			return fmt.Errorf("target overrides were touched: %v", m)
		}
		return nil
	})
	t.Logf("config change synced in %s", took.Round(time.Millisecond))
	if d := h.describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("replicator %s after the config sync", stateString(d))
	}
}

// aclSet describes the ACLs of one cluster on names containing the test
// prefix as "name principal host operation permission pattern".
func (h *T) aclSet(adm *kadm.Client) (map[string]bool, error) {
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	res, err := adm.DescribeACLs(h.ctx, all)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, d := range r.Described {
			if strings.Contains(d.Name, h.prefix) {
				m[fmt.Sprintf("%s %s %s %s %s %s", d.Name, d.Principal, d.Host, d.Operation, d.Permission, d.Pattern)] = true
			}
		}
	}
	return m, nil
}

// TestTopicACLsAreCopied: LITERAL topic ACLs of replicated topics arrive on
// the target topic, never ALLOW WRITE and never PREFIXED; deleting a
// source ACL deletes its copy. The clusters run the StandardAuthorizer.
func TestTopicACLsAreCopied(t *testing.T) {
	h := newT(t, "acls")
	topic := h.name("secured")
	h.createTopic(h.srcAdm, 1, nil, topic)
	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := h.srcAdm.CreateACLs(h.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL: %v (%s)", r.Err, r.ErrMessage)
			}
		}
	}
	create(kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics(topic).Operations(kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Allow("User:bob").AllowHosts("*").Topics(topic).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Deny("User:mallory").DenyHosts("10.0.0.1").Topics(topic).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Allow("User:carol").AllowHosts("*").Topics(h.name("sec")).Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))

	arn := h.create(spec{name: "acls", copyACLs: true, earliest: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	target := alias(sourceID) + "." + topic
	want := []string{
		target + " User:alice * READ ALLOW LITERAL",
		target + " User:alice * DESCRIBE ALLOW LITERAL",
		target + " User:mallory 10.0.0.1 WRITE DENY LITERAL",
	}
	eventually(t, 30*time.Second, "ACLs copied", func() error {
		m, err := h.aclSet(h.dstAdm)
		if err != nil {
			return err
		}
		for _, w := range want {
			if !m[w] {
				return fmt.Errorf("missing %q in %v", w, m)
			}
		}
		if len(m) != len(want) {
			return fmt.Errorf("target ACLs %v: ALLOW WRITE and PREFIXED must not be copied", m)
		}
		return nil
	})
	if _, err := h.srcAdm.DeleteACLs(h.ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics(topic).Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "deleted ACL removed", func() error {
		m, err := h.aclSet(h.dstAdm)
		if err != nil {
			return err
		}
		if m[target+" User:alice * DESCRIBE ALLOW LITERAL"] {
			return fmt.Errorf("still there: %v", m)
		}
		if !m[target+" User:alice * READ ALLOW LITERAL"] {
			return fmt.Errorf("READ went too: %v", m)
		}
		return nil
	})
	if d := h.describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("replicator %s after the ACL sync", stateString(d))
	}
}

// consumeGroup runs a real group consumer on addr until it has n records
// (or the deadline passes), commits what it read, and leaves the group.
func (h *T) consumeGroup(addr, group, topic string, n int, within time.Duration, opts ...kgo.Opt) []*kgo.Record {
	h.Helper()
	cl := h.client(addr, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond), kgo.RebalanceTimeout(10 * time.Second)}, opts...)...)
	var got []*kgo.Record
	deadline := time.Now().Add(scale(within))
	for len(got) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(h.ctx, 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				h.Logf("consumer %s: %s/%d: %v", group, t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	// Whatever else is already fetchable shows up too: a consumer that
	// should re-read nothing must not get more than it should.
	ctx, cancel := context.WithTimeout(h.ctx, scale(time.Second))
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	cancel()
	if err := cl.CommitUncommittedOffsets(h.ctx); err != nil {
		h.Fatalf("commit %s: %v", group, err)
	}
	cl.Close() // leaves the group
	return got
}

// TestGroupOffsetsTranslated moves a consumer group from source to target
// where target offsets differ from source offsets (the target topic had
// records of its own, and the source has transaction markers): after the
// sync, a real group consumer on the target re-reads nothing.
func TestGroupOffsetsTranslated(t *testing.T) {
	h := newT(t, "groups")
	topic := h.name("payments")
	group := h.name("billing")
	h.createTopic(h.srcAdm, 2, nil, topic)
	target := alias(sourceID) + "." + topic
	// The target topic exists already with 7 records of its own per
	// partition.
	h.createTopic(h.dstAdm, 2, nil, target)
	pre := h.client(suite.target, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		for range 7 {
			h.produce(pre, &kgo.Record{Topic: target, Partition: p, Value: []byte("pre-existing")})
		}
	}
	prod := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 100 {
		h.produce(prod, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	// A committed and an aborted transaction: their markers (and the
	// aborted records) take source offsets that have no copy.
	txn := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(h.name("txn")),
		kgo.TransactionTimeout(10*time.Second))
	for _, commit := range []bool{true, false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := range int32(2) {
			h.produce(txn, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("txn-%v", commit))})
		}
		if err := txn.EndTransaction(h.ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	srcEnds, _ := h.endOffsets(h.srcAdm, topic)
	t.Logf("source end offsets %v for 52 committed records per partition", srcEnds)

	arn := h.create(spec{name: "groups", earliest: true, syncGroups: true, groups: []string{".*" + h.prefix + "-bill.*"}})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	// 7 + 52 per partition: 50 plain and 2 committed in transactions.
	h.readAll(suite.target, target, 2*59, 60*time.Second)
	if _, total := h.endOffsets(h.dstAdm, target); total != 2*59 {
		t.Fatalf("target holds %d records, want %d", total, 2*59)
	}

	// A real group consumer on the source reads everything and commits.
	if got := h.consumeGroup(suite.source, group, topic, 104, 60*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())); len(got) != 104 {
		t.Fatalf("source consumer read %d records, want 104", len(got))
	}
	so, err := h.srcAdm.FetchOffsets(h.ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		o, _ := so.Lookup(topic, p)
		t.Logf("source group offset, partition %d: %d (end %d)", p, o.At, srcEnds[p])
	}
	// Within a few seconds the group's target offsets are the translated
	// ones: the end of the target partition, 59.
	took := eventually(t, 60*time.Second, "translated group offsets", func() error {
		os, err := h.dstAdm.FetchOffsets(h.ctx, group)
		if err != nil {
			return err
		}
		for p := range int32(2) {
			o, ok := os.Lookup(target, p)
			if !ok || o.At != 59 {
				return fmt.Errorf("partition %d at %v (want 59)", p, o.At)
			}
		}
		return nil
	})
	t.Logf("group offsets translated %s after the commit", took.Round(time.Millisecond))
	// The consumer moved to the target re-reads nothing: only new records.
	h.produce(prod, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after-failover")})
	h.readAll(suite.target, target, 2*59+1, 30*time.Second)
	got := h.consumeGroup(suite.target, group, target, 1, 60*time.Second)
	if len(got) != 1 || string(got[0].Value) != "after-failover" {
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		t.Fatalf("moved consumer read %d records %v, want only the new one", len(vals), vals)
	}
	// A group the patterns exclude is never synced.
	other := h.name("other")
	if _, err := h.srcAdm.CommitOffsets(h.ctx, other, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	h.waitSynced(arn)
	os, err := h.dstAdm.FetchOffsets(h.ctx, other)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatal(err)
	}
	if len(os) != 0 {
		t.Fatalf("unmatched group synced: %v", os)
	}
}

// waitSynced lets the metadata job run a few sync rounds (one about every
// second) before a check that something did NOT happen: there is no event
// to wait for.
func (h *T) waitSynced(arn string) {
	h.Helper()
	time.Sleep(scale(3 * time.Second))
}
