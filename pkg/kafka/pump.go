// The pipeline's hand-off: pending records handed to the target producer
// as far as each partition may, and fetching paused or resumed.

package kafka

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// pumpDirty hands the records of the partitions marked dirty to the
// producer, and pauses or resumes their fetching.
func (r *replication) pumpDirty(cl *clients) {
	r.dmu.Lock()
	dirty := r.dirty
	r.dirty = nil
	r.dmu.Unlock()
	if len(dirty) == 0 {
		return
	}
	r.mu.Lock()
	flow, n := r.flow, len(r.parts)
	r.mu.Unlock()
	capB := partitionCap(r.e.cfg.InflightBytes, n)
	pr := pauses{}
	for st := range dirty {
		r.pump(cl, st, flow, capB, &pr)
	}
	pr.apply(cl)
}

// pauses collects the partitions to pause and resume, applied in one call
// each.
type pauses struct{ pause, resume map[string][]int32 }

func (p *pauses) set(st *partState, pause bool) {
	if st.paused == pause {
		return
	}
	st.paused = pause
	m := &p.resume
	if pause {
		m = &p.pause
	}
	if *m == nil {
		*m = map[string][]int32{}
	}
	(*m)[st.topic] = append((*m)[st.topic], st.partition)
}

func (p *pauses) apply(cl *clients) {
	if len(p.pause) > 0 {
		cl.consumer.PauseFetchPartitions(p.pause)
	}
	if len(p.resume) > 0 {
		cl.consumer.ResumeFetchPartitions(p.resume)
	}
}

// handed is a record handed to the producer, with what its callback needs.
type handed struct {
	out   *kgo.Record
	src   int64
	ts    time.Time
	size  int64 // key and value bytes (metrics)
	cost  int64 // recordCost
	batch int64 // brokerBatchBytes
	alone bool  // through the second producer (see limits.go)
}

// pump hands st's pending records to the producer as far as the partition
// may (see handOverOneLocked), in order, and decides whether st's fetching
// pauses.
func (r *replication) pump(cl *clients, st *partState, flow *Flow, capB int64, pr *pauses) {
	lim := r.handoffLimit(cl, st.targetTopic)
	var out []handed
	st.mu.Lock()
	if st.copyingLocked() {
		out = r.handOverLocked(st, flow, capB, lim)
	}
	pr.set(st, st.wantPauseLocked(capB))
	st.mu.Unlock()
	r.produce(cl, st, out)
}

// targetLimit is what a record handed to the producer must fit: the
// largest single-record batch the target topic takes (limit, and the
// setting that bounds it, what), and the main producer's pinned cap for
// the topic (mainCap, see limits.go).
type targetLimit struct {
	limit   int64
	what    string
	mainCap int64
}

// handoffLimit returns the limit records of target topic are handed over
// under.
func (r *replication) handoffLimit(cl *clients, topic string) targetLimit {
	limit, what, mainCap := r.targets.caps(topic)
	if cl.compressed {
		// Records over the limit uncompressed go alone through the
		// second producer, compressed, and the target decides: what it
		// refuses stops the partition as any refusal does.
		limit, what = maxBatchCap, "the replicator's largest produce request"
	}
	return targetLimit{limit: limit, what: what, mainCap: mainCap}
}

// handOverLocked takes st's pending records, in order, while the
// partition may hand them over, and returns those to produce. The lease's
// freshness is read once per pass.
func (r *replication) handOverLocked(st *partState, flow *Flow, capB int64, lim targetLimit) []handed {
	var out []handed
	fresh := st.leaseFresh()
	for len(st.pending) > 0 {
		h, more := r.handOverOneLocked(st, flow, capB, lim, fresh)
		if h != nil {
			out = append(out, *h)
		}
		if !more {
			break
		}
	}
	if len(st.pending) == 0 {
		st.pending = nil
		st.stalledSince = time.Time{}
	}
	return out
}

// handOverOneLocked considers st's first pending record: it hands it over
// (h), skips it (a record that is not copied), or ends the pass (more is
// false): the partition waits for acknowledgements, or stops before the
// record. The decisions are decide.go's (gateLocked, admit).
func (r *replication) handOverOneLocked(st *partState, flow *Flow, capB int64, lim targetLimit, fresh bool) (h *handed, more bool) {
	rec := st.pending[0]
	switch st.gateLocked(rec.Offset, fresh) {
	case gateHalted:
		st.dropPendingLocked()
		return nil, false
	case gateStale:
		// Not renewed lately (or the partition's records timed out):
		// write nothing, fetch these again once the lease is renewed (or
		// the job is stopped).
		st.failedAt, st.failedLast, st.failKind, st.failErr = rec.Offset, rec.Offset, failTransient, st.rctx.Err()
		if st.rctx.fenced.Load() {
			st.err = &fleet.JobError{Code: CodeLeaseNotRenewed, Message: "the lease was not renewed within half its TTL; writes are paused", Since: sinceOr(st.err)}
		}
		st.dropPendingLocked()
		return nil, false
	}
	o, keep := copyRecord(flow, st.targetTopic, rec)
	if !keep {
		st.seen = rec.Offset
		st.popPendingLocked()
		return nil, true
	}
	h = &handed{out: o, src: rec.Offset, ts: rec.Timestamp, size: keyValueBytes(rec),
		cost: recordCost(o), batch: brokerBatchBytes(o)}
	alone := overMainCap(o, lim.mainCap) // within the target's limit, not the main producer's cap
	switch admit(handoff{batchBytes: h.batch, limit: lim.limit, cost: h.cost, inflight: st.inflight, inflightB: st.inflightB,
		cap: capB, isolating: alone || rec.Offset <= st.isolateUntil}) {
	case waitForAck:
		if st.stalledSince.IsZero() {
			st.stalledSince = time.Now()
		}
		return nil, false
	case tooLarge:
		msg := fmt.Sprintf("target topic %s partition %d cannot take the record at source offset %d of %s: %d bytes as a batch, more than its limit of %d bytes (%s); nothing after it is copied until the target takes it",
			st.targetTopic, st.partition, rec.Offset, st.topic, h.batch, lim.limit, lim.what)
		st.haltLocked(rec.Offset, CodeRecordTooLarge, msg, r.e.cfg.RejectedRetryInterval)
		r.logRate(slog.LevelError, "halt|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target refuses a record; the partition stops before it",
			"topic", st.topic, "partition", st.partition, "offset", rec.Offset, "code", CodeRecordTooLarge, "batch_bytes", h.batch, "limit", lim.limit)
		return nil, false
	}
	if st.inflight == 0 {
		st.lastProgress = time.Now()
	}
	st.seen = rec.Offset
	st.inflight++
	st.inflightB += h.cost
	st.stalledSince = time.Time{}
	st.popPendingLocked()
	if alone {
		// Through the second producer, so the next record waits for it to
		// be acknowledged (two producers keep no order between them).
		h.alone = true
		st.isolateUntil = max(st.isolateUntil, rec.Offset+1)
		return h, false
	}
	return h, true
}

// produce hands the records taken by handOverLocked to their producer;
// their acknowledgements come to acked.
func (r *replication) produce(cl *clients, st *partState, out []handed) {
	name, account := r.labels()
	for _, h := range out {
		h.out.Context = st.rctx
		prod := cl.producer
		if h.alone {
			prod = r.soloProducer(cl)
		}
		prod.TryProduce(r.ctx, h.out, func(rec *kgo.Record, err error) {
			r.acked(st, h, rec.Offset, err, name, account)
		})
	}
}
