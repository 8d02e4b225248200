// The partition job (fleet.Task): starting it (its source topic checked,
// its target topic made sure of, the partition added to the consumer), its
// reports, drain and abort.

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// startPartition begins copying a leased partition. The target topic is
// made sure of first, in the background.
func (r *replication) startPartition(l fleet.Lease, fresh func() bool) *partTask {
	r.mu.Lock()
	st := newPartState(r.ctx, l, r.flow.TargetTopic(l.Topic), fresh)
	key := tp{l.Topic, l.Partition}
	r.parts[key] = st
	r.mu.Unlock()
	t := &partTask{r: r, st: st, key: key}
	go t.begin(l)
	return t
}

type partTask struct {
	r    *replication
	st   *partState
	key  tp
	once sync.Once
}

var _ fleet.NoticeAcker = (*partTask)(nil)

// AckNotices implements fleet.NoticeAcker.
func (t *partTask) AckNotices(upTo time.Time) { t.st.ackNotices(upTo) }

// begin makes the partition ready to copy, retrying until it is, the job
// stops or the source topic turns out to be another one: then the
// pipeline adds it to the consumer.
func (t *partTask) begin(l fleet.Lease) {
	ctx := t.r.ctx
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		t.st.mu.Lock()
		stopped := t.st.stopped
		t.st.mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		cl, err := t.r.getClients(ctx)
		if err != nil {
			return
		}
		tt, retired, err := t.prepare(ctx, cl, l)
		if retired {
			t.st.mu.Lock()
			t.st.retireLocked(tt.sourceID)
			t.st.mu.Unlock()
			t.r.log.Warn("engine: the job's source topic was re-created; it copies nothing", "topic", l.Topic, "partition", l.Partition,
				"leased_topic_id", l.TopicID, "topic_id", tt.sourceID)
			return
		}
		if err == nil {
			t.st.mu.Lock()
			if t.st.topicID == "" {
				t.st.topicID = tt.sourceID
			}
			t.st.mu.Unlock()
			t.r.post(func(cl *clients) {
				if tt.limErr == nil {
					t.r.applyLimits(t.st.targetTopic, tt.limits)
				}
				t.r.targets.setID(t.st.targetTopic, tt.targetID)
				t.r.addPartition(cl, t.st, l)
			})
			return
		}
		t.r.logRate(slog.LevelWarn, "ensure|"+l.Topic, "engine: target topic not ready", "topic", l.Topic, "err", err)
		t.st.mu.Lock()
		t.st.err = &fleet.JobError{Code: CodeTargetTopicUnavailable, Message: fmt.Sprintf("target topic %s: %s", t.st.targetTopic, tenantText(err)), Since: sinceOr(t.st.err)}
		t.st.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// jobTopics is what a partition job learnt of its topics before it
// copies: the source topic's ID, the target topic's, and the target's
// limits (or why they could not be read: the producer's default applies).
type jobTopics struct {
	sourceID, targetID string
	limits             topicLimits
	limErr             error
}

// prepare checks that the source topic is the one the lease names
// (retired: it is another one now, the job copies nothing), makes sure of
// the target topic and its partition (topics.go), and reads the target's
// ID and limits.
func (t *partTask) prepare(ctx context.Context, cl *clients, l fleet.Lease) (tt jobTopics, retired bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if tt.sourceID, err = t.r.sourceTopicID(ctx, cl, l.Topic); err != nil {
		return tt, false, err
	}
	if !sameTopic(l.TopicID, tt.sourceID) {
		return tt, true, nil
	}
	if err = t.r.topics.ensure(ctx, cl, l.Topic, l.Partition); err != nil {
		return tt, false, err
	}
	if tt.targetID, err = targetTopicID(ctx, cl, t.st.targetTopic); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.r.topics.forget(l.Topic) // deleted since it was made sure of: create it again
		}
		return tt, false, err
	}
	if tt.limits, tt.limErr = readLimits(ctx, cl, t.st.targetTopic); tt.limErr != nil {
		t.r.logRate(slog.LevelWarn, "limits|"+t.st.targetTopic, "engine: cannot read the target topic's limits; using the producer's default",
			"topic", t.st.targetTopic, "err", tt.limErr)
	}
	return tt, false, nil
}

func (t *partTask) Report() fleet.JobReport {
	if ns := t.r.takeNotices(); len(ns) > 0 {
		t.st.mu.Lock()
		for _, n := range ns {
			if len(t.st.notices) >= maxNotices {
				t.st.notices = t.st.notices[1:]
			}
			t.st.notices = append(t.st.notices, n)
		}
		t.st.mu.Unlock()
	}
	return t.st.report(t.r.specVersion(), t.r.jobError())
}

func (t *partTask) UpdateSpec(spec *fleet.ReplicatorSpec) { t.r.updateSpec(spec) }

// Drain stops fetching the partition and waits for what is in flight, so
// the report afterwards holds the final checkpoint.
func (t *partTask) Drain(ctx context.Context) error {
	t.stop()
	err := t.st.waitIdle(ctx)
	t.once.Do(func() { t.r.e.release(t.r) })
	return err
}

// Abort stops at once: nothing more is produced for the partition, and
// what the producer has not started sending is dropped.
func (t *partTask) Abort() {
	t.stop()
	t.st.rctx.cancel()
	t.once.Do(func() { t.r.e.release(t.r) })
}

func (t *partTask) stop() {
	t.st.mu.Lock()
	was := t.st.stopped
	t.st.stopped = true
	t.st.dropPendingLocked()
	t.st.mu.Unlock()
	if was {
		return
	}
	t.r.mu.Lock()
	mine := t.r.parts[t.key] == t.st
	if mine {
		delete(t.r.parts, t.key)
	}
	t.r.mu.Unlock()
	if !mine {
		return // a newer job of the partition runs on this worker: its fetching stays
	}
	t.r.post(func(cl *clients) {
		t.r.mu.Lock()
		taken := t.r.parts[t.key] != nil
		t.r.mu.Unlock()
		if !taken {
			cl.consumer.RemoveConsumePartitions(map[string][]int32{t.key.topic: {t.key.partition}})
			cl.consumer.ResumeFetchPartitions(map[string][]int32{t.key.topic: {t.key.partition}})
		}
	})
}
