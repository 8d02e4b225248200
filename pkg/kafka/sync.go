// Topic config and ACL sync, steps of the metadata job.

package kafka

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// sync runs the periodic metadata synchronisations the spec asks for.
func (t *metaTask) sync(cl *clients) {
	t.r.mu.Lock()
	ri := t.r.spec.Spec.ReplicationInfo[0]
	flow := t.r.flow
	t.r.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.ctx, 15*time.Second)
	defer cancel()
	if ri.Topics.CopyTopicConfigurations {
		if err := t.syncConfigs(ctx, cl, flow); err != nil && ctx.Err() == nil {
			t.fail("TopicConfigSyncFailed", err)
		}
	}
	if ri.Topics.CopyAccessControlListsForTopics {
		if err := t.syncACLs(ctx, cl, flow); err != nil && ctx.Err() == nil {
			t.fail("AclSyncFailed", err)
		}
	}
	if ri.Groups.SynchroniseConsumerGroupOffsets {
		if err := t.syncGroups(ctx, cl, flow, ri.Groups.DetectAndCopyNewConsumerGroups); err != nil && ctx.Err() == nil {
			name, account := t.r.labels()
			t.r.e.cfg.Metrics.groupFailures.WithLabelValues(name, account).Inc()
			t.env.Logger.Warn("engine: consumer group offset sync failed", "err", err)
		}
	}
}

// syncConfigs sets on each target topic the configs its source sets
// explicitly, and removes keys this job set earlier that the source no
// longer sets. Other target overrides are left alone.
func (t *metaTask) syncConfigs(ctx context.Context, cl *clients, flow *Flow) error {
	if len(t.matched) == 0 {
		return nil
	}
	src, err := cl.srcAdm.DescribeTopicConfigs(ctx, t.matched...)
	if err != nil {
		return err
	}
	targets := make([]string, len(t.matched))
	for i, n := range t.matched {
		targets[i] = flow.TargetTopic(n)
	}
	dst, err := cl.dstAdm.DescribeTopicConfigs(ctx, targets...)
	if err != nil {
		return err
	}
	current := map[string]map[string]string{}
	for _, rc := range dst {
		if rc.Err != nil {
			// Missing (deleted): its partition jobs create it again,
			// with the source's configs.
			continue
		}
		current[rc.Name] = topicConfigs(rc.Configs, nil)
	}
	for _, rc := range src {
		if rc.Err != nil {
			continue
		}
		target := flow.TargetTopic(rc.Name)
		cur, ok := current[target]
		if !ok {
			continue
		}
		want := topicConfigs(rc.Configs, CopiesConfig)
		mine := t.setConfigs[target]
		if mine == nil {
			mine = map[string]bool{}
			t.setConfigs[target] = mine
		}
		ops := configChanges(want, cur, mine)
		if len(ops) == 0 {
			continue
		}
		resp, err := cl.dstAdm.AlterTopicConfigs(ctx, ops, target)
		if err != nil {
			return err
		}
		for _, r := range resp {
			if r.Err != nil {
				return fmt.Errorf("configs of %s: %w (%s)", target, r.Err, r.ErrMessage)
			}
		}
		configsApplied(ops, mine)
		t.env.Logger.Info("engine: topic configs synced", "topic", target, "changes", len(ops))
	}
	return nil
}

// topicConfigs returns the configs set on a topic itself
// (DYNAMIC_TOPIC_CONFIG, not defaults), those keep says are copied (nil:
// all).
func topicConfigs(cs []kadm.Config, keep func(string) bool) map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		if c.Source == 1 && c.Value != nil && (keep == nil || keep(c.Key)) {
			m[c.Key] = *c.Value
		}
	}
	return m
}

// configChanges returns the alterations that make a target topic's
// configs (cur: those set on the topic) follow its source topic's (want:
// those the source sets that are copied), and updates mine, the keys the
// service manages on the topic: a key equal to the source's becomes one
// (copied when the topic was created); a key it manages that the source no
// longer sets is deleted from the target, and forgotten once it is not
// there. Keys set on the target by others are left alone. Once the
// alterations succeeded, the caller records them (configsApplied): until
// then a key to delete stays the service's, so that a failed attempt is
// made again.
func configChanges(want, cur map[string]string, mine map[string]bool) []kadm.AlterConfig {
	var ops []kadm.AlterConfig
	for k, v := range want {
		if cv, ok := cur[k]; !ok || cv != v {
			ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
		} else {
			mine[k] = true
		}
	}
	for k := range mine {
		if _, still := want[k]; !still {
			if _, there := cur[k]; there {
				ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			} else {
				delete(mine, k)
			}
		}
	}
	return ops
}

// configsApplied records alterations the target took: keys set are the
// service's, keys deleted no longer.
func configsApplied(ops []kadm.AlterConfig, mine map[string]bool) {
	for _, op := range ops {
		switch op.Op {
		case kadm.SetConfig:
			mine[op.Name] = true
		case kadm.DeleteConfig:
			delete(mine, op.Name)
		}
	}
}

type aclEntry struct {
	principal, host, topic string
	op                     kadm.ACLOperation
	perm                   string
}

func (a aclEntry) key() string {
	return strings.Join([]string{a.principal, a.host, a.topic, a.op.String(), a.perm}, "|")
}

// syncACLs copies LITERAL topic ACLs of replicated topics to their target
// topics, never ALLOW WRITE, and deletes target ACLs this job created
// whose source ACL disappeared.
func (t *metaTask) syncACLs(ctx context.Context, cl *clients, flow *Flow) error {
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	srcRes, err := cl.srcAdm.DescribeACLs(ctx, all)
	if err != nil {
		return err
	}
	want := map[string]aclEntry{}
	for _, res := range srcRes {
		if res.Err != nil {
			return res.Err
		}
		for _, d := range res.Described {
			if d.Type.String() != "TOPIC" || d.Pattern != kadm.ACLPatternLiteral || !flow.CopiesTopic(d.Name) {
				continue
			}
			perm := d.Permission.String()
			if perm == "ALLOW" && d.Operation == kadm.OpWrite {
				continue // producers must not write to replicated topics
			}
			e := aclEntry{principal: d.Principal, host: d.Host, topic: flow.TargetTopic(d.Name), op: d.Operation, perm: perm}
			want[e.key()] = e
		}
	}
	dstRes, err := cl.dstAdm.DescribeACLs(ctx, all)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, res := range dstRes {
		for _, d := range res.Described {
			if d.Type.String() == "TOPIC" && d.Pattern == kadm.ACLPatternLiteral {
				have[aclEntry{principal: d.Principal, host: d.Host, topic: d.Name, op: d.Operation, perm: d.Permission.String()}.key()] = true
			}
		}
	}
	for k, e := range want {
		if have[k] {
			t.createdACLs[k] = e
			continue
		}
		if _, err := cl.dstAdm.CreateACLs(ctx, aclBuilder(e)); err != nil {
			return err
		}
		t.createdACLs[k] = e
		t.env.Logger.Info("engine: ACL copied", "topic", e.topic, "principal", e.principal, "operation", e.op.String(), "permission", e.perm)
	}
	for k, e := range t.createdACLs {
		if _, ok := want[k]; ok {
			continue
		}
		if have[k] {
			if _, err := cl.dstAdm.DeleteACLs(ctx, aclBuilder(e)); err != nil {
				return err
			}
			t.env.Logger.Info("engine: ACL removed", "topic", e.topic, "principal", e.principal, "operation", e.op.String())
		}
		delete(t.createdACLs, k)
	}
	return nil
}

func aclBuilder(e aclEntry) *kadm.ACLBuilder {
	b := kadm.NewACLs().Topics(e.topic).ResourcePatternType(kadm.ACLPatternLiteral).Operations(e.op)
	if e.perm == "DENY" {
		return b.Deny(e.principal).DenyHosts(e.host)
	}
	return b.Allow(e.principal).AllowHosts(e.host)
}
