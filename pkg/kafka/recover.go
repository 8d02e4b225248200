// Target recovery: a target topic that records failed for (deleted, or
// created again) is made sure of again, so that its partitions go on from
// their failed records.

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// recoverTarget makes sure again of st's target topic after records
// failed because it does not exist (deleted) or is another topic now
// (deleted and created again): it creates it again when missing (with the
// source's configs when the spec copies them), reads its limits, purges
// it from the producer (franz-go refuses a re-created topic until then),
// and lets the failed partitions of the topic go on from their failed
// records. One recovery per topic runs at a time.
func (r *replication) recoverTarget(cl *clients, st *partState) {
	target, source := st.targetTopic, st.topic
	if !r.targets.startRecovery(target) {
		return
	}
	st.mu.Lock()
	sawUnknownID := errors.Is(st.failErr, kerr.UnknownTopicID)
	st.mu.Unlock()
	go func() {
		createdOnce := false
		for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
			created, parts, id, err := r.remakeTarget(ctx, cl, target, source)
			createdOnce = createdOnce || created
			created = createdOnce
			var lim topicLimits
			var limErr error
			if err == nil {
				lim, limErr = readLimits(ctx, cl, target)
			}
			cancel()
			if r.ctx.Err() != nil {
				return
			}
			if err == nil {
				if created {
					r.log.Warn("engine: target topic was missing; created it again", "topic", target, "partitions", parts)
				}
				r.post(func(cl *clients) {
					r.targetRecovered(cl, st, remade{created: created, partitions: parts, id: id, limits: lim, limErr: limErr}, sawUnknownID)
				})
				return
			}
			r.logRate(slog.LevelWarn, "recover|"+target, "engine: cannot make sure of the target topic", "topic", target, "err", err)
			st.mu.Lock()
			st.err = &fleet.JobError{Code: CodeTargetTopicUnavailable, Message: fmt.Sprintf("target topic %s: %s", target, tenantText(err)), Since: sinceOr(st.err)}
			st.mu.Unlock()
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
}

// remade is a target topic made sure of again: whether the engine
// created it, its partitions, its ID and limits (or why they could not be
// read).
type remade struct {
	created    bool
	partitions int
	id         string
	limits     topicLimits
	limErr     error
}

// targetRecovered applies a recovery of st's target topic: the limits
// read, the producers purged of the topic if it is a new one, the
// recovery ended (the failed partitions of the topic go on), and a notice
// when the engine created the topic again. Pipeline goroutine only.
func (r *replication) targetRecovered(cl *clients, st *partState, t remade, sawUnknownID bool) {
	target := st.targetTopic
	if t.limErr == nil {
		r.applyLimits(target, t.limits)
	}
	if needPurge(t.created, r.targets.knownID(target), t.id, sawUnknownID) {
		// A new topic: the producer forgets the old one (franz-go refuses
		// a re-created topic until then).
		cl.producer.PurgeTopicsFromClient(target)
		if cl.solo != nil {
			cl.solo.PurgeTopicsFromClient(target)
		}
		r.targets.recreated(target, t.id)
		r.log.Info("engine: the producer starts over with the new target topic", "topic", target, "topic_id", t.id)
	}
	if cl.solo != nil {
		cl.solo.ForceMetadataRefresh() // partitions may have been added
	}
	r.targets.endRecovery(target)
	if t.created {
		msg := fmt.Sprintf("target topic %s was not found (deleted?); it was created again with %d partitions%s and copying goes on from the checkpoints",
			target, t.partitions, r.configsNote())
		st.mu.Lock() // after configsNote: r.mu is never taken under st.mu
		st.addNoticeLocked(NoticeTargetTopicRecreated, msg)
		st.mu.Unlock()
	}
	r.houseNow.Store(true)
}

func (r *replication) configsNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spec.Spec.ReplicationInfo[0].Topics.CopyTopicConfigurations {
		return " and the source topic's configurations"
	}
	return ""
}
