// Topic naming and selection: which source topics and consumer groups a
// flow copies, and what the target calls them.

package kafka

import (
	"strings"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// OriginHeader carries the alias of the cluster where a record was first
// produced, on every record copied with identical topic names.
const OriginHeader = "__replicator.origin"

// Flow is one replication flow's naming and selection rules, compiled from
// the spec.
type Flow struct {
	SourceAlias, TargetAlias string
	Identical                bool
	topics, excludeTopics    replicator.Patterns
	groups, excludeGroups    replicator.Patterns
}

// NewFlow compiles the first (only) replication info of spec.
func NewFlow(spec *replicator.Spec) (*Flow, error) {
	ri := spec.ReplicationInfo[0]
	f := &Flow{SourceAlias: ri.SourceAlias, TargetAlias: ri.TargetAlias, Identical: ri.Topics.TopicNameConfiguration == replicator.NameIdentical}
	var err error
	if f.topics, err = replicator.CompilePatterns(ri.Topics.TopicsToReplicate); err != nil {
		return nil, err
	}
	if f.excludeTopics, err = replicator.CompilePatterns(ri.Topics.TopicsToExclude); err != nil {
		return nil, err
	}
	if f.groups, err = replicator.CompilePatterns(ri.Groups.ConsumerGroupsToReplicate); err != nil {
		return nil, err
	}
	if f.excludeGroups, err = replicator.CompilePatterns(ri.Groups.ConsumerGroupsToExclude); err != nil {
		return nil, err
	}
	return f, nil
}

// Internal reports topics that are never copied: Kafka's own and the
// replication tooling's (MirrorMaker 2's defaults).
func Internal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasSuffix(topic, ".internal") ||
		strings.HasSuffix(topic, "-internal") || strings.HasSuffix(topic, ".replica") ||
		strings.HasPrefix(topic, "mm2-offset-syncs.") || strings.HasSuffix(topic, ".checkpoints.internal") ||
		topic == "heartbeats" || strings.HasSuffix(topic, ".heartbeats")
}

// CopiesTopic reports whether the flow copies source topic t.
func (f *Flow) CopiesTopic(t string) bool {
	if Internal(t) || !f.topics.Match(t) || f.excludeTopics.Match(t) {
		return false
	}
	if !f.Identical {
		// A topic that came from the target (prefixed with its alias) is
		// not copied back: no loops in active-active pairs.
		p := f.TargetAlias + "."
		if strings.HasPrefix(t, p) || strings.Contains(t, "."+p) {
			return false
		}
	}
	return true
}

// TargetTopic is the name of source topic t on the target.
func (f *Flow) TargetTopic(t string) string {
	if f.Identical {
		return t
	}
	return f.SourceAlias + "." + t
}

// CopiesGroup reports whether the flow syncs consumer group g.
func (f *Flow) CopiesGroup(g string) bool {
	return f.groups.Match(g) && !f.excludeGroups.Match(g) && !strings.HasPrefix(g, "__replicator")
}

// neverCopiedConfigs are topic configs the service leaves alone on the
// target, as MirrorMaker 2 does by default.
var neverCopiedConfigs = map[string]bool{
	"min.insync.replicas":                     true,
	"unclean.leader.election.enable":          true,
	"message.timestamp.type":                  true,
	"leader.replication.throttled.replicas":   true,
	"follower.replication.throttled.replicas": true,
	"confluent.placement.constraints":         true,
}

// CopiesConfig reports whether topic config key k is copied.
func CopiesConfig(k string) bool { return !neverCopiedConfigs[k] }
