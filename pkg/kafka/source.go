// Source topic identity: a job copies the source topic its lease names by
// ID; one deleted and created again under the same name retires the jobs
// of the old one and is purged from the consumer.

package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sourceTopicID returns the source topic's ID ("" if the source reports
// none), or an error if the topic cannot be listed.
func (r *replication) sourceTopicID(ctx context.Context, cl *clients, topic string) (string, error) {
	id, _, err := topicMeta(ctx, cl.srcAdmCl, topic)
	if err != nil {
		return "", fmt.Errorf("source topic %s: %w", topic, err)
	}
	return id, nil
}

// checkSourceIDs compares the IDs of source topics with those of the jobs
// that copy them, in the background (at most once per idCheckEvery per
// topic).
func (r *replication) checkSourceIDs(cl *clients, topics ...string) {
	now := time.Now()
	var due []string
	r.mu.Lock()
	if r.idChecked == nil {
		r.idChecked = map[string]time.Time{}
	}
	for _, t := range topics {
		if now.Sub(r.idChecked[t]) >= idCheckEvery {
			r.idChecked[t] = now
			due = append(due, t)
		}
	}
	r.mu.Unlock()
	if len(due) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		defer cancel()
		td, err := cl.srcAdm.ListTopics(ctx, due...)
		if err != nil {
			return
		}
		for _, t := range due {
			if d, ok := td[t]; ok && d.Err == nil {
				if id := topicIDString(d.ID); r.idChanged(t, id) {
					r.post(func(cl *clients) { r.applySourceID(cl, t, id) })
				}
			}
		}
	}()
}

// idChanged reports whether id differs from what a job of topic copies or
// from what the consumer fetches.
func (r *replication) idChanged(topic, id string) bool {
	if id == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.consumedIDs[topic]; cur != "" && cur != id {
		return true
	}
	for _, st := range r.parts {
		if st.topic != topic {
			continue
		}
		st.mu.Lock()
		changed := st.retired == nil && !sameTopic(st.topicID, id)
		st.mu.Unlock()
		if changed {
			return true
		}
	}
	return false
}

// applySourceID acts on the source's current ID of topic: jobs that copy
// another (older) topic of that name stop for good, and a consumer that
// still fetches the older topic forgets it (franz-go refuses to go on
// with a re-created topic until it is purged) and fetches the jobs of the
// current one again from where they are. Pipeline goroutine only.
func (r *replication) applySourceID(cl *clients, topic, id string) {
	if id == "" {
		return
	}
	r.mu.Lock()
	var sts []*partState
	for _, st := range r.parts {
		if st.topic == topic {
			sts = append(sts, st)
		}
	}
	cur := r.consumedIDs[topic]
	r.mu.Unlock()
	var live, retired []*partState
	for _, st := range sts {
		st.mu.Lock()
		switch {
		case st.stopped:
		case st.retired == nil && !sameTopic(st.topicID, id):
			st.retireLocked(id)
			retired = append(retired, st)
			r.log.Warn("engine: the job's source topic was re-created; it copies nothing more", "topic", topic, "partition", st.partition,
				"leased_topic_id", st.topicID, "topic_id", id)
		case st.retired == nil && st.ready:
			live = append(live, st)
		}
		st.mu.Unlock()
	}
	if cur == "" || cur == id {
		// The consumer fetches the current topic: stop fetching for the
		// retired jobs only.
		for _, st := range retired {
			cl.consumer.RemoveConsumePartitions(map[string][]int32{topic: {st.partition}})
		}
		return
	}
	cl.consumer.PurgeTopicsFromClient(topic)
	cl.srcAdmCl.PurgeTopicsFromClient(topic)
	add := map[int32]kgo.Offset{}
	for _, st := range live {
		st.mu.Lock()
		add[st.partition] = st.resumeOffsetLocked()
		st.dropPendingLocked()
		st.paused = false
		st.mu.Unlock()
	}
	r.mu.Lock()
	delete(r.consumedIDs, topic)
	if len(add) > 0 {
		r.consumedIDs[topic] = id
	}
	r.mu.Unlock()
	if len(add) > 0 {
		cl.consumer.ResumeFetchTopics(topic)
		resume := make([]int32, 0, len(add))
		for p := range add {
			resume = append(resume, p)
		}
		cl.consumer.ResumeFetchPartitions(map[string][]int32{topic: resume})
		cl.consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: add})
	}
	r.log.Info("engine: source topic re-created; the consumer forgot the old topic", "topic", topic, "old_topic_id", cur, "topic_id", id,
		"jobs_fetching_again", len(add), "jobs_stopped", len(retired))
}
