package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTopicConfigsFollowTheSource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm, dadm := e.admin(e.src), e.admin(e.dst)
	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{
		"retention.ms": kadm.StringPtr("86400000"), "cleanup.policy": kadm.StringPtr("compact"),
		"min.insync.replicas": kadm.StringPtr("2"), "max.message.bytes": kadm.StringPtr("2000000"),
	}, "conf"); err != nil {
		t.Fatal(err)
	}
	arn := e.create(spec{name: "configs", copyConfigs: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := alias(srcCluster) + ".conf"
	dynamic := func() map[string]string {
		rc, err := dadm.DescribeTopicConfigs(ctx, target)
		if err != nil || len(rc) != 1 {
			return nil
		}
		m := map[string]string{}
		for _, c := range rc[0].Configs {
			if c.Source == 1 && c.Value != nil {
				m[c.Key] = *c.Value
			}
		}
		return m
	}
	eventually(t, 5*time.Second, "configs copied", func() error {
		m := dynamic()
		if m["retention.ms"] != "86400000" || m["cleanup.policy"] != "compact" || m["max.message.bytes"] != "2000000" {
			return fmt.Errorf("target configs %v", m)
		}
		if _, ok := m["min.insync.replicas"]; ok {
			return fmt.Errorf("min.insync.replicas was copied: %v", m)
		}
		return nil
	})
	// A change at the source follows within 5 s; a key the source drops is
	// removed; a target-only override stays.
	if _, err := dadm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("3600000")}}, target); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")},
		{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
	}, "conf"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "config change synced", func() error {
		m := dynamic()
		if m["retention.ms"] != "3600000" {
			return fmt.Errorf("retention.ms %q", m["retention.ms"])
		}
		if _, ok := m["max.message.bytes"]; ok {
			return fmt.Errorf("max.message.bytes still set")
		}
		if m["segment.ms"] != "3600000" {
			return fmt.Errorf("target override segment.ms was touched: %v", m)
		}
		return nil
	})
	t.Logf("config change synced in %s", took.Round(time.Millisecond))
}

func TestTopicACLsAreCopied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm, dadm := e.admin(e.src), e.admin(e.dst)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secured"); err != nil {
		t.Fatal(err)
	}
	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	create(kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("secured").Operations(kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Allow("User:bob").AllowHosts("*").Topics("secured").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Deny("User:mallory").DenyHosts("*").Topics("secured").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	create(kadm.NewACLs().Allow("User:carol").AllowHosts("*").Topics("sec").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))

	arn := e.create(spec{name: "acls", copyACLs: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	target := alias(srcCluster) + ".secured"
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	describe := func() map[string]bool {
		res, err := dadm.DescribeACLs(ctx, all)
		if err != nil {
			return nil
		}
		m := map[string]bool{}
		for _, r := range res {
			for _, d := range r.Described {
				m[fmt.Sprintf("%s %s %s %s %s", d.Name, d.Principal, d.Operation, d.Permission, d.Pattern)] = true
			}
		}
		return m
	}
	want := []string{
		target + " User:alice READ ALLOW LITERAL",
		target + " User:alice DESCRIBE ALLOW LITERAL",
		target + " User:mallory WRITE DENY LITERAL",
	}
	eventually(t, 5*time.Second, "ACLs copied", func() error {
		m := describe()
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
	// Removing a source ACL removes the copy the service made.
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("secured").Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "deleted ACL removed", func() error {
		if describe()[target+" User:alice DESCRIBE ALLOW LITERAL"] {
			return fmt.Errorf("still there")
		}
		return nil
	})
}

// TestGroupOffsetsTranslated moves a consumer group from source to target
// where the target topic already had records, so offsets differ: the
// consumer re-reads nothing on the target.
func TestGroupOffsetsTranslated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.admin(e.src)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "payments"); err != nil {
		t.Fatal(err)
	}
	target := alias(srcCluster) + ".payments"
	// The target topic exists already with 7 records of its own in each
	// partition, so target offsets are source offsets + 7.
	if _, err := e.admin(e.dst).CreateTopic(ctx, 2, 1, nil, target); err != nil {
		t.Fatal(err)
	}
	pre := e.client(e.dst, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		for range 7 {
			produce(t, pre, &kgo.Record{Topic: target, Partition: p, Value: []byte("pre-existing")})
		}
	}
	prod := e.client(e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 100 {
		produce(t, prod, &kgo.Record{Topic: "payments", Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	arn := e.create(spec{name: "groups", earliest: true, syncGroups: true, groups: []string{"billing.*"}})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	e.readAll(e.dst, target, 114, 10*time.Second)

	// A consumer group on the source reads everything and commits.
	consume := func(c *kgoCluster, topic string, n int) []*kgo.Record {
		t.Helper()
		cl := e.client(c.k, kgo.ConsumerGroup("billing-app"), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []*kgo.Record
		deadline := time.Now().Add(scale(10 * time.Second))
		for len(got) < n && time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := cl.PollFetches(pctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		return got
	}
	if got := consume(&kgoCluster{e.src}, "payments", 100); len(got) != 100 {
		t.Fatalf("source consumer read %d", len(got))
	}
	// Within a few seconds the group's offsets on the target are the
	// translated ones: source 50 → target 57 in each partition.
	dadm := e.admin(e.dst)
	eventually(t, 10*time.Second, "translated group offsets", func() error {
		os, err := dadm.FetchOffsets(ctx, "billing-app")
		if err != nil {
			return err
		}
		for p := range int32(2) {
			o, ok := os.Lookup(target, p)
			if !ok || o.At != 57 {
				return fmt.Errorf("partition %d at %v (want 57)", p, o.At)
			}
		}
		return nil
	})
	// The consumer moved to the target re-reads nothing: only new records.
	produce(t, prod, &kgo.Record{Topic: "payments", Partition: 0, Value: []byte("after-failover")})
	e.readAll(e.dst, target, 115, 10*time.Second)
	got := consume(&kgoCluster{e.dst}, target, 1)
	if len(got) != 1 || string(got[0].Value) != "after-failover" {
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		t.Fatalf("moved consumer read %v, want only the new record", vals)
	}
	// A group the patterns exclude is never synced.
	os, _ := dadm.FetchOffsets(ctx, "other")
	if len(os) != 0 {
		t.Fatalf("unmatched group synced: %v", os)
	}
	d := e.describe(arn)
	if aws.ToBool(d.ReplicationInfoList[0].ConsumerGroupReplication.SynchroniseConsumerGroupOffsets) != true {
		t.Fatal("spec lost its group sync flag")
	}
}
