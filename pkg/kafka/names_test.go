// Table tests of topic naming and selection (names.go).

package kafka_test

import (
	"testing"

	"github.com/openreplicator/replicator/pkg/kafka"
	"github.com/openreplicator/replicator/pkg/replicator"
)

func flowSpec(naming string, topics, excludeTopics, groups, excludeGroups []string) *replicator.Spec {
	return &replicator.Spec{ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "east", TargetAlias: "west",
		Topics: replicator.TopicReplication{TopicsToReplicate: topics, TopicsToExclude: excludeTopics, TopicNameConfiguration: naming},
		Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: groups, ConsumerGroupsToExclude: excludeGroups}}}}
}

// TestFlowTopics: which source topics a flow copies, and their names on
// the target.
func TestFlowTopics(t *testing.T) {
	prefixed, err := kafka.NewFlow(flowSpec(replicator.NamePrefixed, []string{"orders.*", "pay"}, []string{"orders-tmp.*"}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	identical, err := kafka.NewFlow(flowSpec(replicator.NameIdentical, []string{".*"}, nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		flow   *kafka.Flow
		topic  string
		copies bool
		target string
	}{
		{"matched", prefixed, "orders", true, "east.orders"},
		{"matched by a pattern", prefixed, "orders-eu", true, "east.orders-eu"},
		{"a pattern matches the whole name", prefixed, "payments", false, "east.payments"},
		{"not matched", prefixed, "audit", false, "east.audit"},
		{"excluded", prefixed, "orders-tmp-1", false, "east.orders-tmp-1"},
		{"Kafka's own", prefixed, "__consumer_offsets", false, "east.__consumer_offsets"},
		{"a copy from the target (prefixed with its alias): no loop", prefixed, "west.orders", false, "east.west.orders"},
		{"a copy of a copy from the target", prefixed, "north.west.orders", false, "east.north.west.orders"},
		{"identical names", identical, "orders", true, "orders"},
		{"identical: a name that looks prefixed is copied (records carry their origin)", identical, "west.orders", true, "west.orders"},
		{"identical: MirrorMaker 2's internal topics", identical, "mm2-offset-syncs.west.internal", false, "mm2-offset-syncs.west.internal"},
		{"identical: heartbeats", identical, "heartbeats", false, "heartbeats"},
		{"identical: checkpoints", identical, "east.checkpoints.internal", false, "east.checkpoints.internal"},
		{"identical: replicas", identical, "orders.replica", false, "orders.replica"},
		{"identical: -internal", identical, "connect-internal", false, "connect-internal"},
	} {
		if got := c.flow.CopiesTopic(c.topic); got != c.copies {
			t.Errorf("%s: CopiesTopic(%q) = %v, want %v", c.name, c.topic, got, c.copies)
		}
		if got := c.flow.TargetTopic(c.topic); got != c.target {
			t.Errorf("%s: TargetTopic(%q) = %q, want %q", c.name, c.topic, got, c.target)
		}
	}
}

// TestFlowGroups: which consumer groups a flow syncs.
func TestFlowGroups(t *testing.T) {
	f, err := kafka.NewFlow(flowSpec(replicator.NamePrefixed, []string{".*"}, nil, []string{"app-.*", "billing"}, []string{"app-test.*"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		group string
		want  bool
	}{
		{"app-1", true},
		{"billing", true},
		{"billing-2", false},
		{"app-test-1", false},
		{"other", false},
	} {
		if got := f.CopiesGroup(c.group); got != c.want {
			t.Errorf("CopiesGroup(%q) = %v, want %v", c.group, got, c.want)
		}
	}
	all, err := kafka.NewFlow(flowSpec(replicator.NamePrefixed, []string{".*"}, nil, []string{".*"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if all.CopiesGroup("__replicator-internal") {
		t.Error("the replicator's own groups are synced")
	}
	none, err := kafka.NewFlow(flowSpec(replicator.NamePrefixed, []string{".*"}, nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if none.CopiesGroup("app-1") {
		t.Error("no group patterns sync a group")
	}
}

func TestNewFlowRefusesABadPattern(t *testing.T) {
	for _, s := range []*replicator.Spec{
		flowSpec(replicator.NamePrefixed, []string{"("}, nil, nil, nil),
		flowSpec(replicator.NamePrefixed, []string{".*"}, []string{"["}, nil, nil),
		flowSpec(replicator.NamePrefixed, []string{".*"}, nil, []string{"*"}, nil),
		flowSpec(replicator.NamePrefixed, []string{".*"}, nil, nil, []string{"(?"}),
	} {
		if _, err := kafka.NewFlow(s); err == nil {
			t.Errorf("%+v: compiled", s.ReplicationInfo[0])
		}
	}
}

func TestCopiesConfig(t *testing.T) {
	for _, c := range []struct {
		key  string
		want bool
	}{
		{"retention.ms", true},
		{"cleanup.policy", true},
		{"max.message.bytes", true},
		{"min.insync.replicas", false},
		{"unclean.leader.election.enable", false},
		{"message.timestamp.type", false},
		{"leader.replication.throttled.replicas", false},
	} {
		if got := kafka.CopiesConfig(c.key); got != c.want {
			t.Errorf("CopiesConfig(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}
