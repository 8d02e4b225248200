// The pipeline's fetch side: polling the source, queueing fetched records
// behind what each partition holds, within the replication's budget
// (take), and adding a partition to the consumer.

package kafka

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// poll fetches from the source until records arrive, the poll is woken
// (kick) or pollWait passes. After a poll that brought only errors it
// waits pollWait without polling, so an error the consumer repeats at once
// does not spin.
func (r *replication) poll(cl *clients, backoff bool) kgo.Fetches {
	r.pollMu.Lock()
	if r.kicked {
		r.kicked = false
		r.pollMu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(r.ctx, pollWait)
	r.pollCancel = cancel
	r.pollMu.Unlock()
	var fs kgo.Fetches
	if backoff || r.pendingOver() {
		// Nothing to fetch for now, or the replication holds as much
		// fetched and not yet handed over as its in-flight budget
		// (partitions whose target does not take records): fetching
		// more would grow the worker's memory without bound. Acks and
		// rewinds wake the poll (kick).
		<-ctx.Done()
	} else {
		fs = cl.consumer.PollRecords(ctx, 10_000)
	}
	r.pollMu.Lock()
	r.pollCancel = nil
	r.pollMu.Unlock()
	cancel()
	return fs
}

// pendingOver reports whether the replication's partitions hold at least
// its in-flight budget of records fetched and not yet handed to the
// producer (a sum of one atomic per partition, before every poll).
func (r *replication) pendingOver() bool { return r.pendingBytes() >= r.e.cfg.InflightBytes }

// pendingBytes sums the bytes the replication's partitions hold fetched and
// not yet handed to the producer.
func (r *replication) pendingBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sum int64
	for _, st := range r.parts {
		sum += st.pendingB.Load()
	}
	return sum
}

// fetchErrors logs the poll's errors (rate-limited), has the identity of
// topics that may have been deleted or re-created checked, and reports
// whether the poll brought errors and no records.
func (r *replication) fetchErrors(cl *clients, fetches kgo.Fetches) bool {
	errs := 0
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		errs++
		r.logRate(slog.LevelWarn, "fetch|"+topic+"|"+strconv.Itoa(int(p))+"|"+errClass(err), "engine: fetch error",
			"topic", topic, "partition", p, "err", err)
		if errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.InconsistentTopicID) {
			r.checkSourceIDs(cl, topic)
		}
	})
	return errs > 0 && fetches.NumRecords() == 0
}

// take queues the polled records of each partition behind those it holds.
//
// What the replication holds fetched and not handed over is bounded by its
// in-flight budget: records of a poll beyond it are not queued, and their
// partition fetches them again later (each partition may always queue its
// first record, so every partition makes progress). Partitions whose
// target does not take records therefore cannot make the worker hold more
// than the budget, however many there are.
func (r *replication) take(cl *clients, fetches kgo.Fetches) {
	name, account := r.labels()
	room := r.e.cfg.InflightBytes - r.pendingBytes()
	var refetch map[string]map[int32]kgo.EpochOffset
	defer func() {
		if len(refetch) > 0 {
			cl.consumer.SetOffsets(refetch)
		}
	}()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		r.mu.Lock()
		st := r.parts[tp{fp.Topic, fp.Partition}]
		r.mu.Unlock()
		if st == nil {
			return
		}
		st.mu.Lock()
		if fp.HighWatermark >= 0 {
			st.hwm = fp.HighWatermark
		}
		if len(fp.Records) == 0 || !st.copyingLocked() {
			// A failed partition fetches again from the failed record.
			st.mu.Unlock()
			return
		}
		if at, again := st.refetchFromStartLocked(fp.Records[0].Offset); again {
			st.mu.Unlock()
			cl.consumer.SetOffsets(map[string]map[int32]kgo.EpochOffset{fp.Topic: {fp.Partition: {Epoch: -1, Offset: at}}})
			r.log.Info("engine: first records of a job came from beyond its start; fetching again from the start",
				"topic", fp.Topic, "partition", fp.Partition, "start", at, "first", fp.Records[0].Offset)
			return
		}
		recs := unseen(fp.Records, st.lastHeldLocked())
		n, in := fitBudget(recs, room, len(st.pending) > 0)
		if n < len(recs) {
			// Over the budget: fetch these again later.
			if refetch == nil {
				refetch = map[string]map[int32]kgo.EpochOffset{}
			}
			if refetch[fp.Topic] == nil {
				refetch[fp.Topic] = map[int32]kgo.EpochOffset{}
			}
			refetch[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: recs[n].Offset}
		}
		room -= in
		st.pending = append(st.pending, recs[:n]...)
		st.pendingB.Add(in)
		st.mu.Unlock()
		if in > 0 {
			r.e.cfg.Metrics.bytesIn(name, account, in)
		}
		r.setDirty(st)
	})
}

// refetchFromStartLocked checks, once, where the first records of a job
// that starts at a known offset came from (first: the offset of the first
// fetched): from beyond its start, they were fetched for an earlier job of
// the same partition on this worker (granted again after its lease
// lapsed) while they were being handled, and writing them now would put
// them before the ones this job fetches from its start. It then returns
// the start to fetch again from (a compacted start returns a later offset
// again, which is then taken).
func (p *partState) refetchFromStartLocked(first int64) (at int64, again bool) {
	if p.seen >= 0 || len(p.pending) > 0 || p.start < 0 || p.startChecked {
		return 0, false
	}
	p.startChecked = true
	return p.start, first > p.start
}

// lastHeldLocked is the highest offset the partition holds or handed over
// (-1: none): records fetched again up to it are not queued twice.
func (p *partState) lastHeldLocked() int64 {
	if n := len(p.pending); n > 0 {
		return p.pending[n-1].Offset
	}
	return p.seen
}

// addPartition starts fetching a partition whose target topic is ready.
// Pipeline goroutine only.
func (r *replication) addPartition(cl *clients, st *partState, l fleet.Lease) {
	st.mu.Lock()
	skip := st.stopped || st.retired != nil
	id := st.topicID
	st.mu.Unlock()
	r.mu.Lock()
	skip = skip || r.parts[tp{l.Topic, l.Partition}] != st
	cur := r.consumedIDs[l.Topic]
	r.mu.Unlock()
	if skip {
		return
	}
	if cur != "" && id != "" && cur != id {
		// The consumer still holds an older topic of that name.
		r.applySourceID(cl, l.Topic, id)
	}
	offset := kgo.NewOffset().AtStart()
	if l.StartOffset >= 0 {
		offset = kgo.NewOffset().At(l.StartOffset)
	}
	st.mu.Lock()
	if st.stopped || st.retired != nil {
		st.mu.Unlock()
		return
	}
	st.ready, st.paused = true, false
	st.mu.Unlock()
	r.mu.Lock()
	if id != "" || r.consumedIDs[l.Topic] == "" {
		r.consumedIDs[l.Topic] = id
	}
	r.mu.Unlock()
	cl.consumer.ResumeFetchPartitions(map[string][]int32{l.Topic: {l.Partition}})
	cl.consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{l.Topic: {l.Partition: offset}})
	// A partition added since the clients last looked must be known to
	// both before records flow.
	cl.consumer.ForceMetadataRefresh()
	cl.producer.ForceMetadataRefresh()
}
