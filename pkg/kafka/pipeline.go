package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

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
		if err = t.r.topics.ensure(ctx, cl, l.Topic, l.Partition); err == nil {
			offset := kgo.NewOffset().AtStart()
			if l.StartOffset >= 0 {
				offset = kgo.NewOffset().At(l.StartOffset)
			}
			t.st.mu.Lock()
			if !t.st.stopped {
				t.st.ready = true
				cl.consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{l.Topic: {l.Partition: offset}})
				// A partition added since the clients last looked must be
				// known to both before records flow.
				cl.consumer.ForceMetadataRefresh()
				cl.producer.ForceMetadataRefresh()
			}
			t.st.mu.Unlock()
			return
		}
		t.r.log.Warn("engine: target topic not ready", "topic", l.Topic, "err", err)
		t.st.mu.Lock()
		t.st.err = &fleet.JobError{Code: "TargetTopicUnavailable", Message: fmt.Sprintf("target topic %s: %v", t.st.targetTopic, err), Since: sinceOr(t.st.err)}
		t.st.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func (t *partTask) Report() fleet.JobReport {
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
	t.st.mu.Unlock()
	if was {
		return
	}
	t.r.mu.Lock()
	if t.r.parts[t.key] == t.st {
		delete(t.r.parts, t.key)
	}
	cl := t.r.clients
	t.r.mu.Unlock()
	if cl != nil {
		cl.consumer.RemoveConsumePartitions(map[string][]int32{t.key.topic: {t.key.partition}})
	}
}

// pipeline polls the source and produces every record to the target,
// until the replication closes.
func (r *replication) pipeline(cl *clients) {
	name, account := r.labels()
	m := r.e.cfg.Metrics
	var retry []*partState
	for r.ctx.Err() == nil {
		retry = r.retryFailed(cl, retry)
		fetches := cl.consumer.PollRecords(r.ctx, 10_000)
		if r.ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			r.log.Warn("engine: fetch error", "topic", topic, "partition", p, "err", err)
		})
		r.mu.Lock()
		flow := r.flow
		r.mu.Unlock()
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
			stopped := st.stopped || st.failedAt >= 0
			if !stopped && len(fp.Records) > 0 && st.seen < 0 && st.start >= 0 && !st.startChecked {
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
			if !stopped && len(fp.Records) > 0 && !st.leaseFresh() {
				// Not renewed lately: write nothing, fetch these again
				// once the lease is renewed (or the job is stopped).
				st.failedAt = fp.Records[0].Offset
				st.err = &fleet.JobError{Code: "LeaseNotRenewed", Message: "the lease was not renewed within half its TTL; writes are paused", Since: sinceOr(st.err)}
				stopped = true
			}
			st.mu.Unlock()
			if stopped || len(fp.Records) == 0 {
				return
			}
			var inBytes int64
			for _, rec := range fp.Records {
				inBytes += int64(len(rec.Key) + len(rec.Value))
			}
			m.bytesIn(name, account, inBytes)
			for _, rec := range fp.Records {
				out, keep := copyRecord(flow, st.targetTopic, rec)
				st.mu.Lock()
				if st.stopped {
					st.mu.Unlock()
					return
				}
				st.seen = rec.Offset
				if !keep {
					st.mu.Unlock()
					continue
				}
				st.inflight++
				st.mu.Unlock()
				src, ts, size := rec.Offset, rec.Timestamp, int64(len(rec.Key)+len(rec.Value))
				out.Context = st.rctx
				cl.producer.Produce(r.ctx, out, func(pr *kgo.Record, err error) {
					r.acked(st, src, pr.Offset, ts, size, err, name, account)
				})
			}
		})
	}
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
func (r *replication) acked(st *partState, src, dst int64, ts time.Time, size int64, err error, name, account string) {
	m := r.e.cfg.Metrics
	st.mu.Lock()
	st.inflight--
	if err != nil {
		if st.failedAt < 0 || src < st.failedAt {
			st.failedAt = src
		}
		st.err = &fleet.JobError{Code: "ReplicationFailure", Message: fmt.Sprintf("producing to %s[%d] failed: %v", st.targetTopic, st.partition, err), Since: sinceOr(st.err)}
	} else if st.failedAt < 0 || src < st.failedAt {
		st.acked, st.ackedTarget = src, dst
		st.records++
		st.bytes += size
		lat := time.Since(ts)
		st.lastLatency = lat
		st.latencyMax = max(st.latencyMax, lat)
		if st.failedAt < 0 {
			st.err = nil // copying again (after a rewind, the failure is over)
		}
	}
	idle := st.inflight == 0 && st.idle != nil
	if idle {
		close(st.idle)
		st.idle = nil
	}
	topic := st.topic
	st.mu.Unlock()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			m.replicationFailure(name, account)
			r.log.Warn("engine: produce failed; the partition will retry from the failed record", "topic", topic, "offset", src, "err", err)
		}
		return
	}
	m.replicated(name, account, topic, size, time.Since(ts))
}

// retryFailed rewinds partitions whose produce failed, once nothing is in
// flight: they are fetched again from the failed record.
func (r *replication) retryFailed(cl *clients, _ []*partState) []*partState {
	r.mu.Lock()
	var failed []*partState
	for _, st := range r.parts {
		st.mu.Lock()
		if st.failedAt >= 0 && st.inflight == 0 && !st.stopped && (st.err == nil || time.Since(st.err.Since) > 500*time.Millisecond) && st.rctx.unfence() {
			failed = append(failed, st)
		}
		st.mu.Unlock()
	}
	r.mu.Unlock()
	for _, st := range failed {
		st.mu.Lock()
		at := st.failedAt
		st.failedAt, st.seen = -1, at-1
		if st.acked >= at {
			st.acked = at - 1
		}
		st.mu.Unlock()
		cl.consumer.SetOffsets(map[string]map[int32]kgo.EpochOffset{st.topic: {st.partition: {Epoch: -1, Offset: at}}})
		r.log.Info("engine: retrying partition from the failed record", "topic", st.topic, "partition", st.partition, "offset", at)
	}
	return nil
}

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
		n, err := te.r.createTarget(ctx, cl, topic, -1)
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
// or adds partitions to an existing one. It returns the partition count.
func (r *replication) createTarget(ctx context.Context, cl *clients, topic string, srcPartitions int) (int, error) {
	r.mu.Lock()
	flow, copyConfigs := r.flow, r.spec.Spec.ReplicationInfo[0].Topics.CopyTopicConfigurations
	r.mu.Unlock()
	target := flow.TargetTopic(topic)
	if srcPartitions < 0 {
		td, err := cl.srcAdm.ListTopics(ctx, topic)
		if err != nil {
			return 0, err
		}
		d, ok := td[topic]
		if !ok || d.Err != nil {
			return 0, fmt.Errorf("source topic %s: %v", topic, d.Err)
		}
		srcPartitions = len(d.Partitions)
	}
	existing, err := cl.dstAdm.ListTopics(ctx, target)
	if err != nil {
		return 0, err
	}
	if d, ok := existing[target]; ok && d.Err == nil {
		if len(d.Partitions) < srcPartitions {
			if _, err := cl.dstAdm.UpdatePartitions(ctx, srcPartitions, target); err != nil {
				return 0, err
			}
			r.log.Info("engine: partitions added on the target", "topic", target, "partitions", srcPartitions)
		}
		return max(len(d.Partitions), srcPartitions), nil
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
		return srcPartitions, nil // another job of this replicator created it
	}
	if err != nil {
		return 0, err
	}
	r.log.Info("engine: target topic created", "topic", target, "partitions", srcPartitions, "configs", len(configs))
	return srcPartitions, nil
}
