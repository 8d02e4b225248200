package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// The copy pipeline. One goroutine per replication (pipeline) polls the
// source consumer and hands records to the target producer; it alone
// changes what the consumer fetches (adds, removes, rewinds, pauses,
// purges) and the producer's view of target topics (limits, purges), so
// these never race. Other goroutines (jobs starting, produce callbacks,
// checks against the clusters) post work to it (post) or mark partitions
// for it to look at (markDirty), and wake it (kick).
//
// Each partition keeps the records it fetched and has not handed over
// (pending), and hands them over only while its records in flight stay
// under its share of the replication's budget (partitionCap): a partition
// whose target does not answer holds at most that share, its fetching is
// paused, and every other partition goes on. Handing over never blocks
// (TryProduce; the producer's own buffer limits are out of reach).

const (
	// pollWait bounds a poll, so that timed work (retries) runs at least
	// this often.
	pollWait = 250 * time.Millisecond
	// stallTrim: pending records that could not be handed over for this
	// long are dropped and fetched again later, so that a stuck partition
	// holds no more than what it has in flight.
	stallTrim = 2 * time.Second
	// unknownTopicRetries bounds how often the producer retries a record
	// whose target topic does not exist before failing it (and the engine
	// makes sure of the topic again).
	unknownTopicRetries = 5
	// idCheckEvery is the shortest time between two checks of a source
	// topic's identity after fetch errors.
	idCheckEvery = time.Second
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
		var id string
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		id, err = t.r.sourceTopicID(cctx, cl, l.Topic)
		if err == nil && !sameTopic(l.TopicID, id) {
			cancel()
			t.st.mu.Lock()
			t.st.retireLocked(id)
			t.st.mu.Unlock()
			t.r.log.Warn("engine: the job's source topic was re-created; it copies nothing", "topic", l.Topic, "partition", l.Partition,
				"leased_topic_id", l.TopicID, "topic_id", id)
			return
		}
		if err == nil {
			err = t.r.topics.ensure(cctx, cl, l.Topic, l.Partition)
		}
		var lim topicLimits
		var limErr error
		var targetID string
		if err == nil {
			if targetID, err = targetTopicID(cctx, cl, t.st.targetTopic); errors.Is(err, kerr.UnknownTopicOrPartition) {
				t.r.topics.forget(l.Topic) // deleted since it was made sure of: create it again
			}
		}
		if err == nil {
			if lim, limErr = readLimits(cctx, cl, t.st.targetTopic); limErr != nil {
				t.r.logRate(slog.LevelWarn, "limits|"+t.st.targetTopic, "engine: cannot read the target topic's limits; using the producer's default",
					"topic", t.st.targetTopic, "err", limErr)
			}
		}
		cancel()
		if err == nil {
			t.st.mu.Lock()
			if t.st.topicID == "" {
				t.st.topicID = id
			}
			t.st.mu.Unlock()
			t.r.post(func(cl *clients) {
				if limErr == nil {
					t.r.applyLimits(t.st.targetTopic, lim)
				}
				t.r.targets.setID(t.st.targetTopic, targetID)
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

// sourceTopicID returns the source topic's ID ("" if the source reports
// none), or an error if the topic cannot be listed.
func (r *replication) sourceTopicID(ctx context.Context, cl *clients, topic string) (string, error) {
	id, _, err := topicMeta(ctx, cl.srcAdmCl, topic)
	if err != nil {
		return "", fmt.Errorf("source topic %s: %w", topic, err)
	}
	return id, nil
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

// post queues f to run on the pipeline goroutine and wakes it.
func (r *replication) post(f func(*clients)) {
	r.postMu.Lock()
	r.posted = append(r.posted, f)
	r.postMu.Unlock()
	r.kick()
}

func (r *replication) runPosted(cl *clients) {
	r.postMu.Lock()
	fs := r.posted
	r.posted = nil
	r.postMu.Unlock()
	for _, f := range fs {
		f(cl)
	}
}

// kick wakes the pipeline goroutine: it ends the poll under way, or the
// next one at once.
func (r *replication) kick() {
	r.pollMu.Lock()
	if r.pollCancel != nil {
		r.pollCancel()
		r.pollCancel = nil
	} else {
		r.kicked = true
	}
	r.pollMu.Unlock()
}

// markDirty asks the pipeline to look at st again (hand it more records,
// pause or resume it, rewind it).
func (r *replication) markDirty(st *partState) {
	r.dmu.Lock()
	if r.dirty == nil {
		r.dirty = map[*partState]struct{}{}
	}
	r.dirty[st] = struct{}{}
	r.dmu.Unlock()
	r.kick()
}

// logRate logs at most once per interval per key (pkg/logx).
func (r *replication) logRate(level slog.Level, key, msg string, args ...any) {
	r.e.limiter.Log(r.log, level, r.id+"|"+key, msg, args...)
}

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

// pipeline polls the source and produces every record to the target,
// until the replication closes.
func (r *replication) pipeline(cl *clients) {
	onlyErrors := false
	for r.ctx.Err() == nil {
		r.runPosted(cl)
		r.housekeep(cl)
		r.pumpDirty(cl)
		fetches := r.poll(cl, onlyErrors)
		if r.ctx.Err() != nil {
			return
		}
		r.runPosted(cl)
		onlyErrors = r.fetchErrors(cl, fetches)
		r.take(cl, fetches)
		r.pumpDirty(cl)
	}
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

// errClass names an error for rate-limited logging: its Kafka error code,
// or its text.
func errClass(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
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
		if len(fp.Records) == 0 || st.stopped || st.retired != nil || st.failedAt >= 0 || !st.ready {
			// A failed partition fetches again from the failed record.
			st.mu.Unlock()
			return
		}
		if st.seen < 0 && len(st.pending) == 0 && st.start >= 0 && !st.startChecked {
			// The first records of a job that starts at a known offset
			// must come from there. Records from beyond it were fetched
			// for an earlier job of the same partition on this worker
			// (granted again after its lease lapsed) while they were
			// being handled: writing them now would put them before the
			// ones this job fetches from its start. Fetch again from
			// the start, once (a compacted start returns a later
			// offset again, which is then taken).
			st.startChecked = true
			if first := fp.Records[0].Offset; first > st.start {
				at := st.start
				st.mu.Unlock()
				cl.consumer.SetOffsets(map[string]map[int32]kgo.EpochOffset{fp.Topic: {fp.Partition: {Epoch: -1, Offset: at}}})
				r.log.Info("engine: first records of a job came from beyond its start; fetching again from the start",
					"topic", fp.Topic, "partition", fp.Partition, "start", at, "first", first)
				return
			}
		}
		// Records fetched again that the partition already holds or
		// handed over are not queued twice.
		last := st.seen
		if n := len(st.pending); n > 0 {
			last = st.pending[n-1].Offset
		}
		recs := fp.Records
		for len(recs) > 0 && recs[0].Offset <= last {
			recs = recs[1:]
		}
		var in int64
		for i, rec := range recs {
			size := int64(len(rec.Key) + len(rec.Value))
			if room-size < 0 && (i > 0 || len(st.pending) > 0) {
				// Over the budget: fetch these again later.
				if refetch == nil {
					refetch = map[string]map[int32]kgo.EpochOffset{}
				}
				if refetch[fp.Topic] == nil {
					refetch[fp.Topic] = map[int32]kgo.EpochOffset{}
				}
				refetch[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: rec.Offset}
				recs = recs[:i]
				break
			}
			room -= size
			in += size
		}
		st.pending = append(st.pending, recs...)
		st.pendingB.Add(in)
		st.mu.Unlock()
		if in > 0 {
			r.e.cfg.Metrics.bytesIn(name, account, in)
		}
		r.dmu.Lock()
		if r.dirty == nil {
			r.dirty = map[*partState]struct{}{}
		}
		r.dirty[st] = struct{}{}
		r.dmu.Unlock()
	})
}

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

// pump hands st's pending records to the producer as far as admit allows,
// in order, and decides whether st's fetching pauses.
func (r *replication) pump(cl *clients, st *partState, flow *Flow, capB int64, pr *pauses) {
	limit, what, mainCap := r.targets.caps(st.targetTopic)
	if cl.compressed {
		// Records over the limit uncompressed go alone through the
		// second producer, compressed, and the target decides: what it
		// refuses stops the partition as any refusal does.
		limit, what = maxBatchCap, "the replicator's largest produce request"
	}
	var out []handed
	st.mu.Lock()
	if st.ready && !st.stopped && st.retired == nil && st.failedAt < 0 {
		fresh := st.leaseFresh()
		for len(st.pending) > 0 {
			rec := st.pending[0]
			if st.haltAt >= 0 && rec.Offset >= st.haltAt {
				st.dropPendingLocked()
				break
			}
			if !fresh {
				// Not renewed lately (or the partition's records timed
				// out): write nothing, fetch these again once the lease
				// is renewed (or the job is stopped).
				st.failedAt, st.failedLast, st.failKind, st.failErr = rec.Offset, rec.Offset, failTransient, st.rctx.Err()
				if st.rctx.fenced.Load() {
					st.err = &fleet.JobError{Code: CodeLeaseNotRenewed, Message: "the lease was not renewed within half its TTL; writes are paused", Since: sinceOr(st.err)}
				}
				st.dropPendingLocked()
				break
			}
			o, keep := copyRecord(flow, st.targetTopic, rec)
			if !keep {
				st.seen = rec.Offset
				st.popPendingLocked()
				continue
			}
			h := handed{out: o, src: rec.Offset, ts: rec.Timestamp, size: int64(len(rec.Key) + len(rec.Value)),
				cost: recordCost(o), batch: brokerBatchBytes(o)}
			alone := h.batch > mainCap // within the target's limit (raised since), not the main producer's cap
			v := admit(handoff{batchBytes: h.batch, limit: limit, cost: h.cost, inflight: st.inflight, inflightB: st.inflightB,
				cap: capB, isolating: alone || rec.Offset <= st.isolateUntil})
			if v == waitForAck {
				if st.stalledSince.IsZero() {
					st.stalledSince = time.Now()
				}
				break
			}
			if v == tooLarge {
				msg := fmt.Sprintf("target topic %s partition %d cannot take the record at source offset %d of %s: %d bytes as a batch, more than its limit of %d bytes (%s); nothing after it is copied until the target takes it",
					st.targetTopic, st.partition, rec.Offset, st.topic, h.batch, limit, what)
				st.haltLocked(rec.Offset, CodeRecordTooLarge, msg, r.e.cfg.RejectedRetryInterval)
				r.logRate(slog.LevelError, "halt|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target refuses a record; the partition stops before it",
					"topic", st.topic, "partition", st.partition, "offset", rec.Offset, "code", CodeRecordTooLarge, "batch_bytes", h.batch, "limit", limit)
				break
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
				// Through the second producer, so the next record waits
				// for it to be acknowledged (two producers keep no order
				// between them).
				h.alone = true
				st.isolateUntil = max(st.isolateUntil, rec.Offset+1)
				out = append(out, h)
				break
			}
			out = append(out, h)
		}
		if len(st.pending) == 0 {
			st.pending = nil
			st.stalledSince = time.Time{}
		}
	}
	pr.set(st, st.wantPauseLocked(capB))
	st.mu.Unlock()
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

// wantPauseLocked reports whether the partition's fetching is to be
// paused: it holds records it cannot hand over yet, it has no room, or it
// waits (a failure, a refused record, a retired job).
func (p *partState) wantPauseLocked(capB int64) bool {
	switch {
	case p.stopped:
		return false // no longer fetched at all
	case p.retired != nil, p.failedAt >= 0, len(p.pending) > 0:
		return true
	case p.haltAt >= 0 && p.seen >= p.haltAt-1:
		return true // everything before the refused record was handed over
	case p.inflight > 0 && p.inflightB >= capB:
		return true
	}
	return false
}

// copyRecord builds the target record for rec, or reports that rec must
// not be copied because it originated on the target (identical names).
func copyRecord(flow *Flow, targetTopic string, rec *kgo.Record) (*kgo.Record, bool) {
	headers := rec.Headers
	if flow.Identical {
		origin := ""
		for _, h := range rec.Headers {
			if h.Key == OriginHeader {
				origin = string(h.Value)
			}
		}
		if origin == flow.TargetAlias {
			return nil, false
		}
		if origin == "" {
			headers = make([]kgo.RecordHeader, len(rec.Headers), len(rec.Headers)+1)
			copy(headers, rec.Headers)
			headers = append(headers, kgo.RecordHeader{Key: OriginHeader, Value: []byte(flow.SourceAlias)})
		}
	}
	// A fetched record must not be produced again: build a new one.
	return &kgo.Record{Topic: targetTopic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value,
		Headers: headers, Timestamp: rec.Timestamp}, true
}

// acked records a produce result. Results arrive in order per partition.
// It runs on the producer's promise goroutine: it must not block.
func (r *replication) acked(st *partState, h handed, dst int64, err error, name, account string) {
	m := r.e.cfg.Metrics
	st.mu.Lock()
	st.inflight--
	st.inflightB -= h.cost
	src := h.src
	var kind failureKind
	if err != nil {
		// Whatever the producer still holds of the partition must not be
		// written before this record.
		st.rctx.fail()
		var code string
		kind, code = classifyProduceError(err)
		if st.failedAt < 0 || src < st.failedAt {
			st.failedAt, st.failErr, st.failBatch, st.failTime = src, err, h.batch, h.ts
			st.failKind, st.failCode = kind, code
			st.needTarget = false
			if kind == failUnknownTopic {
				st.needTarget, st.targetGen = true, r.targets.generation(st.targetTopic)
			}
		}
		st.failedLast = max(st.failedLast, src)
		if !errors.Is(err, context.Canceled) {
			st.err = &fleet.JobError{Code: CodeReplicationFailure, Message: fmt.Sprintf("producing to %s[%d] failed: %s", st.targetTopic, st.partition, tenantText(err)), Since: sinceOr(st.err)}
		}
	} else if st.failedAt < 0 || src < st.failedAt {
		st.lastProgress = time.Now()
		id := r.targets.knownID(st.targetTopic)
		if st.ackedTargetID != "" && id != "" && id != st.ackedTargetID {
			st.firstPoint = &fleet.MappingPoint{SourceOffset: src, TargetOffset: dst, TargetTopicID: id}
		}
		st.acked, st.ackedTarget, st.ackedTargetID = src, dst, id
		st.records++
		st.bytes += h.size
		lat := time.Since(h.ts)
		st.lastLatency = lat
		st.latencyMax = max(st.latencyMax, lat)
		if st.failedAt < 0 {
			st.err = nil // copying again (after a rewind, the failure is over)
			st.backoff = 0
		}
		if st.haltErr != nil && st.haltAt < 0 && src >= st.haltedAt {
			st.haltErr = nil // the refused record was copied after all
		}
	}
	if st.inflight == 0 && st.idle != nil {
		close(st.idle)
		st.idle = nil
	}
	wake := err != nil || len(st.pending) > 0 || st.paused || st.inflight == 0 && st.isolateUntil >= src
	topic := st.topic
	st.mu.Unlock()
	if wake {
		if err != nil {
			r.houseNow.Store(true)
		}
		r.markDirty(st)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			m.replicationFailure(name, account)
			r.logRate(slog.LevelWarn, "produce|"+topic+"|"+strconv.Itoa(int(st.partition))+"|"+errClass(err),
				"engine: produce failed; the partition will retry from the failed record", "topic", topic, "partition", st.partition,
				"offset", src, "err", err)
		}
		return
	}
	m.replicated(name, account, topic, h.size, time.Since(h.ts))
}

// housekeep does the pipeline's timed work: rewinding failed partitions
// (once nothing is in flight and their backoff passed), finding refused
// records, retrying halted partitions, making sure of missing target
// topics, and trimming what stuck partitions hold. It runs every
// iteration that follows a failure, and at least every pollWait.
func (r *replication) housekeep(cl *clients) {
	now := time.Now()
	if !r.houseNow.Swap(false) && now.Sub(r.lastHouse) < pollWait {
		return
	}
	r.lastHouse = now
	r.mu.Lock()
	parts := make([]*partState, 0, len(r.parts))
	for _, st := range r.parts {
		parts = append(parts, st)
	}
	r.mu.Unlock()
	rewinds := map[string]map[int32]kgo.EpochOffset{}
	var recover, reread, rewound []*partState
	rewind := func(st *partState, at int64) {
		rewound = append(rewound, st)
		if rewinds[st.topic] == nil {
			rewinds[st.topic] = map[int32]kgo.EpochOffset{}
		}
		rewinds[st.topic][st.partition] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	for _, st := range parts {
		st.mu.Lock()
		switch {
		case st.stopped || st.retired != nil || !st.ready:
		case st.failedAt >= 0 && st.inflight == 0:
			if st.needTarget {
				if r.targets.generation(st.targetTopic) <= st.targetGen {
					recover = append(recover, st)
					break
				}
				st.needTarget = false
			}
			if now.Before(st.retryAt) || !st.rctx.unfence() {
				break
			}
			at := st.failedAt
			if st.failKind == failRefused {
				haltAt, isolate := onRefused(at, st.failedLast, st.isolateUntil)
				if haltAt >= 0 {
					lims := r.targets.limitsOf(st.targetTopic)
					limit, what := lims.batchCap()
					msg := refusalMessage(st, at, limit, what, lims)
					code, ferr := st.failCode, st.failErr
					st.rewindLocked(at)
					st.haltLocked(at, code, msg, r.e.cfg.RejectedRetryInterval)
					r.logRate(slog.LevelError, "halt|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target refuses a record; the partition stops before it",
						"topic", st.topic, "partition", st.partition, "offset", at, "code", code, "err", ferr)
					break
				}
				st.isolateUntil = isolate
				reread = append(reread, st)
				r.log.Info("engine: the target refused a batch; copying its records one at a time to find the refused one",
					"topic", st.topic, "partition", st.partition, "from", at, "to", isolate, "err", st.failErr)
			}
			st.rewindLocked(at)
			st.backoff = min(max(2*st.backoff, 100*time.Millisecond), 5*time.Second)
			st.retryAt = now.Add(st.backoff)
			rewind(st, at)
			r.logRate(slog.LevelInfo, "rewind|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: retrying partition from the failed record",
				"topic", st.topic, "partition", st.partition, "offset", at)
		case st.haltAt >= 0 && st.inflight == 0 && !now.Before(st.haltRetryAt):
			switch {
			case !st.haltAsked:
				st.haltAsked = true
				reread = append(reread, st)
			case st.haltReady:
				// The limits were read again: copy the refused record on
				// its own once more.
				at := st.haltAt
				st.haltAt, st.haltAsked, st.haltReady = -1, false, false
				st.isolateUntil = max(st.isolateUntil, at)
				st.rewindLocked(at)
				rewind(st, at)
			}
		case st.inflight > 0 && st.failedAt < 0 && now.Sub(st.lastProgress) > r.e.cfg.DeliveryTimeout && !st.rctx.timedOut.Load():
			// The producer fails what it still holds of the partition
			// (where it safely can), and the partition starts over from
			// the first.
			st.rctx.timedOut.Store(true)
			st.err = &fleet.JobError{Code: CodeReplicationFailure, Since: sinceOr(st.err),
				Message: fmt.Sprintf("producing to %s[%d]: no record acknowledged in %s; retrying", st.targetTopic, st.partition, r.e.cfg.DeliveryTimeout)}
			r.logRate(slog.LevelWarn, "timeout|"+st.topic+"|"+strconv.Itoa(int(st.partition)), "engine: the target acknowledged no record of the partition in time; it will retry",
				"topic", st.topic, "partition", st.partition, "timeout", r.e.cfg.DeliveryTimeout)
		case len(st.pending) > 0 && !st.stalledSince.IsZero() && now.Sub(st.stalledSince) > stallTrim:
			// Stuck: fetch these again once the partition has room.
			at := st.pending[0].Offset
			st.dropPendingLocked()
			rewind(st, at)
		}
		st.mu.Unlock()
	}
	if len(rewinds) > 0 {
		cl.consumer.SetOffsets(rewinds)
		for _, st := range rewound {
			r.markDirty(st) // resume
		}
	}
	for _, st := range recover {
		r.recoverTarget(cl, st)
	}
	for _, st := range reread {
		r.rereadLimits(cl, st)
	}
}

// refusalMessage is the error of a partition stopped at a record the
// target refused.
func refusalMessage(st *partState, at, limit int64, what string, lims topicLimits) string {
	switch st.failCode {
	case CodeRecordTooLarge:
		return fmt.Sprintf("target topic %s partition %d refuses the record at source offset %d of %s: %d bytes as a batch, more than its limit of %d bytes (%s): %v; nothing after it is copied until the target takes it",
			st.targetTopic, st.partition, at, st.topic, st.failBatch, limit, what, st.failErr)
	case CodeRecordTimestampRejected:
		return fmt.Sprintf("target topic %s partition %d refuses the timestamp %s of the record at source offset %d of %s (%d bytes as a batch; timestamp limits: %s): %v; nothing after it is copied until the target takes it",
			st.targetTopic, st.partition, st.failTime.UTC().Format(time.RFC3339Nano), at, st.topic, st.failBatch, lims.timestampRules(), st.failErr)
	}
	return fmt.Sprintf("target topic %s partition %d refuses the record at source offset %d of %s (%d bytes as a batch; limit %d bytes, %s): %v; nothing after it is copied until the target takes it",
		st.targetTopic, st.partition, at, st.topic, st.failBatch, limit, what, st.failErr)
}

// applyLimits records a target topic's limits. Pipeline goroutine only.
func (r *replication) applyLimits(target string, l topicLimits) {
	before, _ := r.targets.limitsOf(target).batchCap()
	r.targets.setLimits(target, l)
	if after, what := l.batchCap(); after != before {
		r.log.Info("engine: target topic's record limit", "topic", target, "limit", after, "from", what)
	}
}

// rereadLimits reads st's target topic limits again in the background and
// applies them; a halted partition then retries its refused record.
func (r *replication) rereadLimits(cl *clients, st *partState) {
	target := st.targetTopic
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		lim, err := readLimits(ctx, cl, target)
		cancel()
		r.post(func(cl *clients) {
			if err == nil {
				r.applyLimits(target, lim)
			} else {
				r.logRate(slog.LevelWarn, "limits|"+target, "engine: cannot read the target topic's limits", "topic", target, "err", err)
			}
			st.mu.Lock()
			if st.haltAt >= 0 && st.haltAsked {
				st.haltReady = true
			}
			st.mu.Unlock()
			r.houseNow.Store(true)
		})
	}()
}

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
					if limErr == nil {
						r.applyLimits(target, lim)
					}
					if needPurge(created, r.targets.knownID(target), id, sawUnknownID) {
						// A new topic: the producer forgets the old one
						// (franz-go refuses a re-created topic until then).
						cl.producer.PurgeTopicsFromClient(target)
						if cl.solo != nil {
							cl.solo.PurgeTopicsFromClient(target)
						}
						r.targets.recreated(target, id)
						r.log.Info("engine: the producer starts over with the new target topic", "topic", target, "topic_id", id)
					}
					if cl.solo != nil {
						cl.solo.ForceMetadataRefresh() // partitions may have been added
					}
					r.targets.endRecovery(target)
					if created {
						msg := fmt.Sprintf("target topic %s was not found (deleted?); it was created again with %d partitions%s and copying goes on from the checkpoints",
							target, parts, r.configsNote())
						st.mu.Lock() // after configsNote: r.mu is never taken under st.mu
						st.addNoticeLocked(NoticeTargetTopicRecreated, msg)
						st.mu.Unlock()
					}
					r.houseNow.Store(true)
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

func (r *replication) configsNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spec.Spec.ReplicationInfo[0].Topics.CopyTopicConfigurations {
		return " and the source topic's configurations"
	}
	return ""
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

// soloProducer returns the second producer, for records alone over the
// main producer's cap for their topic (see limits.go), creating it at
// first use. Pipeline goroutine only.
func (r *replication) soloProducer(cl *clients) *kgo.Client {
	if cl.solo == nil {
		opts := append(append([]kgo.Opt{}, cl.dstOpts...),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchMaxBytes(int32(producerCap(maxBatchCap))),
			kgo.ProducerLinger(0),
			kgo.MaxBufferedRecords(1<<40),
			kgo.UnknownTopicRetries(unknownTopicRetries),
			kgo.MetadataMinAge(250*time.Millisecond))
		solo, err := kgo.NewClient(opts...)
		if err != nil {
			// The same options built the main producer: this cannot
			// fail; if it does, the main one is used (and refuses).
			r.log.Error("engine: cannot create the producer for large records", "err", err)
			return cl.producer
		}
		cl.solo = solo
	}
	return cl.solo
}
