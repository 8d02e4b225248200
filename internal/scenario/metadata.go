package scenario

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dynamicTopicConfig is the config source DYNAMIC_TOPIC_CONFIG: set
// explicitly on the topic.
const dynamicTopicConfig = 1

// dynamicConfigs is a topic's explicitly set configs.
func (h *T) dynamicConfigs(c Cluster, topic string) (map[string]string, error) {
	rc, err := h.admin(c).DescribeTopicConfigs(h.Context(), topic)
	if err != nil {
		return nil, err
	}
	if len(rc) != 1 || rc[0].Err != nil {
		return nil, fmt.Errorf("describe configs of %s: %v", topic, rc)
	}
	m := map[string]string{}
	for _, c := range rc[0].Configs {
		if c.Source == dynamicTopicConfig && c.Value != nil {
			m[c.Key] = *c.Value
		}
	}
	return m, nil
}

// TopicConfigsFollowTheSource: explicitly set source configs are set on
// the target at creation and kept in step (a change follows within
// seconds); min.insync.replicas and unclean.leader.election.enable are
// never copied; a key the source drops is removed; target-only overrides
// stay. Real Kafka validates config names and values, unlike kfake.
func TopicConfigsFollowTheSource(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("conf")
	h.CreateTopic(src, 2, map[string]*string{
		"retention.ms": kadm.StringPtr("86400000"), "cleanup.policy": kadm.StringPtr("compact"),
		"min.insync.replicas": kadm.StringPtr("1"), "max.message.bytes": kadm.StringPtr("2000000"),
		"segment.bytes": kadm.StringPtr("16777216"), "unclean.leader.election.enable": kadm.StringPtr("true"),
	}, topic)
	arn := h.Create(Spec{Name: "configs", CopyConfigs: true, Earliest: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := src.Alias() + "." + topic
	h.Eventually(5*time.Second, "configs copied", func() error {
		m, err := h.dynamicConfigs(dst, target)
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
	// Overrides the source does not set: the service leaves them alone.
	if _, err := h.Admin(dst).AlterTopicConfigs(h.Context(), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("3600000")},
		{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: kadm.StringPtr("1")},
	}, target); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Admin(src).AlterTopicConfigs(h.Context(), []kadm.AlterConfig{
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
	took := h.Eventually(5*time.Second, "config change synced", func() error {
		m, err := h.dynamicConfigs(dst, target)
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
	if d := h.Describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("replicator %s after the config sync", StateString(d))
	}
}

// aclSet describes the ACLs of a cluster on the test's names as
// "name principal host operation permission pattern".
func (h *T) aclSet(c Cluster) (map[string]bool, error) {
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	res, err := h.admin(c).DescribeACLs(h.Context(), all)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, d := range r.Described {
			if h.Mine(d.Name) {
				m[fmt.Sprintf("%s %s %s %s %s %s", d.Name, d.Principal, d.Host, d.Operation, d.Permission, d.Pattern)] = true
			}
		}
	}
	return m, nil
}

// TopicACLsAreCopied: LITERAL topic ACLs of replicated topics arrive on
// the target topic, never ALLOW WRITE and never PREFIXED; deleting a
// source ACL deletes its copy and only it.
func TopicACLsAreCopied(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("secured")
	h.CreateTopic(src, 1, nil, topic)
	sadm := h.Admin(src)
	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := sadm.CreateACLs(h.Context(), b)
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
	create(kadm.NewACLs().Allow("User:carol").AllowHosts("*").Topics(h.Unique("sec")).Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))

	arn := h.Create(Spec{Name: "acls", CopyACLs: true, Earliest: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := src.Alias() + "." + topic
	want := []string{
		target + " User:alice * READ ALLOW LITERAL",
		target + " User:alice * DESCRIBE ALLOW LITERAL",
		target + " User:mallory 10.0.0.1 WRITE DENY LITERAL",
	}
	h.Eventually(5*time.Second, "ACLs copied", func() error {
		m, err := h.aclSet(dst)
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
	if _, err := sadm.DeleteACLs(h.Context(), kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics(topic).Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	h.Eventually(5*time.Second, "deleted ACL removed", func() error {
		m, err := h.aclSet(dst)
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
	if d := h.Describe(arn); d.ReplicatorState != types.ReplicatorStateRunning {
		t.Fatalf("replicator %s after the ACL sync", StateString(d))
	}
}

// GroupOffsetsTranslated moves a consumer group from source to target
// where target offsets differ from source offsets (the target topic had 7
// records of its own per partition, and the source has transaction
// markers and aborted records): after the sync, a group consumer on the
// target re-reads nothing and gets only what is new. A group the patterns
// exclude is never synced.
func GroupOffsetsTranslated(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	topic := h.Unique("payments")
	group := h.Unique("billing")
	h.CreateTopic(src, 2, nil, topic)
	target := src.Alias() + "." + topic
	h.CreateTopic(dst, 2, nil, target)
	pre := h.Client(dst, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		for range 7 {
			h.Produce(pre, &kgo.Record{Topic: target, Partition: p, Value: []byte("pre-existing")})
		}
	}
	prod := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 100 {
		h.Produce(prod, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	// A committed and an aborted transaction: their markers (and the
	// aborted records) take source offsets that have no copy.
	txn := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(h.Unique("txn")),
		kgo.TransactionTimeout(10*time.Second))
	for _, commit := range []bool{true, false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := range int32(2) {
			h.Produce(txn, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("txn-%v", commit))})
		}
		if err := txn.EndTransaction(h.Context(), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	srcEnds, _ := h.EndOffsets(src, topic)
	t.Logf("source end offsets %v for 52 committed records per partition", srcEnds)

	arn := h.Create(Spec{Name: "groups", Earliest: true, SyncGroups: true, Groups: []string{regexp.QuoteMeta(h.Unique("bill")) + ".*"}})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	// 7 + 52 per partition: 50 plain and 2 committed in transactions.
	h.ReadAll(dst, target, 2*59, 10*time.Second)
	if _, total := h.EndOffsets(dst, target); total != 2*59 {
		t.Fatalf("target holds %d records, want %d", total, 2*59)
	}

	// A group consumer on the source reads everything and commits.
	if got := h.ConsumeGroup(src, group, topic, 104, 10*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())); len(got) != 104 {
		t.Fatalf("source consumer read %d records, want 104", len(got))
	}
	so, err := h.Admin(src).FetchOffsets(h.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		o, _ := so.Lookup(topic, p)
		t.Logf("source group offset, partition %d: %d (end %d)", p, o.At, srcEnds[p])
	}
	// Within a few seconds the group's target offsets are the translated
	// ones: the end of the target partition, 59.
	dadm := h.Admin(dst)
	took := h.Eventually(10*time.Second, "translated group offsets", func() error {
		os, err := dadm.FetchOffsets(h.Context(), group)
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
	h.Produce(prod, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after-failover")})
	h.ReadAll(dst, target, 2*59+1, 10*time.Second)
	got := h.ConsumeGroup(dst, group, target, 1, 10*time.Second)
	if len(got) != 1 || string(got[0].Value) != "after-failover" {
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		t.Fatalf("moved consumer read %d records %v, want only the new one", len(vals), vals)
	}
	// A group the patterns exclude is never synced.
	other := h.Unique("other")
	if _, err := h.Admin(src).CommitOffsets(h.Context(), other, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	os, err := dadm.FetchOffsets(h.Context(), other)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatal(err)
	}
	if len(os) != 0 {
		t.Fatalf("unmatched group synced: %v", os)
	}
	if d := h.Describe(arn); !aws.ToBool(d.ReplicationInfoList[0].ConsumerGroupReplication.SynchroniseConsumerGroupOffsets) {
		t.Fatal("spec lost its group sync flag")
	}
}
