// Target topics and partitions created, apart from the record pipeline,
// and topic lookups that bypass the clients' metadata caches.

package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicEnsurer creates target topics (and their partitions) once per
// topic and worker, however many jobs ask at the same time.
type topicEnsurer struct {
	r    *replication
	mu   sync.Mutex
	done map[string]int // topic → partitions known on the target
	wait map[string]chan struct{}
}

// ensure makes sure the target topic of source topic exists with at least
// the source's partition count, and at least partition+1 partitions.
func (te *topicEnsurer) ensure(ctx context.Context, cl *clients, topic string, partition int32) error {
	for {
		te.mu.Lock()
		if te.done == nil {
			te.done, te.wait = map[string]int{}, map[string]chan struct{}{}
		}
		if n, ok := te.done[topic]; ok && int32(n) > partition {
			te.mu.Unlock()
			return nil
		}
		if ch, ok := te.wait[topic]; ok {
			te.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch := make(chan struct{})
		te.wait[topic] = ch
		te.mu.Unlock()
		n, _, err := te.r.createTarget(ctx, cl, topic, -1)
		te.mu.Lock()
		delete(te.wait, topic)
		if err == nil {
			te.done[topic] = n
		}
		te.mu.Unlock()
		close(ch)
		return err
	}
}

// forget drops what the ensurer knows of topic, so the next ensure checks
// the target again (after partitions were added at the source).
func (te *topicEnsurer) forget(topic string) {
	te.mu.Lock()
	delete(te.done, topic)
	te.mu.Unlock()
}

// createTarget creates the target topic of a source topic with the
// source's partition count and (with copyTopicConfigurations) its configs,
// or adds partitions to an existing one. It returns the partition count and
// whether it created the topic.
func (r *replication) createTarget(ctx context.Context, cl *clients, topic string, srcPartitions int) (int, bool, error) {
	r.mu.Lock()
	flow, copyConfigs := r.flow, r.spec.Spec.ReplicationInfo[0].Topics.CopyTopicConfigurations
	r.mu.Unlock()
	target := flow.TargetTopic(topic)
	if srcPartitions < 0 {
		td, err := cl.srcAdm.ListTopics(ctx, topic)
		if err != nil {
			return 0, false, err
		}
		d, ok := td[topic]
		if !ok || d.Err != nil {
			return 0, false, fmt.Errorf("source topic %s: %v", topic, d.Err)
		}
		srcPartitions = len(d.Partitions)
	}
	existing, err := cl.dstAdm.ListTopics(ctx, target)
	if err != nil {
		return 0, false, err
	}
	if d, ok := existing[target]; ok && d.Err == nil {
		if len(d.Partitions) < srcPartitions {
			if _, err := cl.dstAdm.UpdatePartitions(ctx, srcPartitions, target); err != nil {
				return 0, false, err
			}
			r.log.Info("engine: partitions added on the target", "topic", target, "partitions", srcPartitions)
			r.addNotice(NoticeTargetPartitionsAdded, fmt.Sprintf(
				"target topic %s had %d partitions, fewer than the %d of source topic %s: partitions were added so that each source partition is copied to the partition of the same number",
				target, len(d.Partitions), srcPartitions, topic))
		}
		return max(len(d.Partitions), srcPartitions), false, nil
	}
	configs := map[string]*string{}
	if copyConfigs {
		if rc, err := cl.srcAdm.DescribeTopicConfigs(ctx, topic); err == nil && len(rc) == 1 && rc[0].Err == nil {
			for _, c := range rc[0].Configs {
				if c.Source == 1 /* DYNAMIC_TOPIC_CONFIG */ && CopiesConfig(c.Key) && c.Value != nil {
					configs[c.Key] = c.Value
				}
			}
		}
	}
	rf := int16(-1)
	if brokers, err := cl.dstAdm.ListBrokers(ctx); err == nil && len(brokers) > 0 {
		rf = int16(min(3, len(brokers)))
	}
	_, err = cl.dstAdm.CreateTopic(ctx, int32(srcPartitions), rf, configs, target)
	if errors.Is(err, kerr.InvalidReplicationFactor) {
		_, err = cl.dstAdm.CreateTopic(ctx, int32(srcPartitions), -1, configs, target)
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return srcPartitions, false, nil // another job of this replicator created it
	}
	if err != nil {
		return 0, false, err
	}
	r.log.Info("engine: target topic created", "topic", target, "partitions", srcPartitions, "configs", len(configs))
	return srcPartitions, true, nil
}

// topicMeta asks a cluster for a topic's ID and partition count, bypassing
// the client's metadata cache (kadm's listings may be up to MetadataMinAge
// old, from before a topic was deleted or created).
func topicMeta(ctx context.Context, cl *kgo.Client, topic string) (string, int, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", 0, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return "", 0, err
		}
		return topicIDString(kadm.TopicID(t.TopicID)), len(t.Partitions), nil
	}
	return "", 0, kerr.UnknownTopicOrPartition
}

// targetTopicID returns a target topic's ID ("" if the cluster reports
// none).
func targetTopicID(ctx context.Context, cl *clients, topic string) (string, error) {
	id, _, err := topicMeta(ctx, cl.dstAdmCl, topic)
	if err != nil {
		return "", fmt.Errorf("target topic %s: %w", topic, err)
	}
	return id, nil
}

// remakeTarget creates target (the target topic of source) when it does
// not exist, and reports whether it did, the partition count and the
// topic's ID.
func (r *replication) remakeTarget(ctx context.Context, cl *clients, target, source string) (bool, int, string, error) {
	id, n, err := topicMeta(ctx, cl.dstAdmCl, target)
	if err == nil {
		// It exists, maybe with fewer partitions than the source (created
		// again elsewhere): add them, and have the producer learn them.
		if got, _, err := r.createTarget(ctx, cl, source, -1); err == nil && got > n {
			cl.producer.ForceMetadataRefresh() // the second producer: in recoverTarget
			n = got
		}
		return false, n, id, nil
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return false, 0, "", err
	}
	cl.dstAdmCl.PurgeTopicsFromClient(target) // no stale listing in createTarget
	n, created, err := r.createTarget(ctx, cl, source, -1)
	if err != nil {
		return false, 0, "", err
	}
	id, err = targetTopicID(ctx, cl, target)
	return created, n, id, err
}

// topicIDString is a topic ID as the engine reports and compares it
// (kadm's base64 form), "" when the cluster reports none.
func topicIDString(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return id.String()
}
