// Target topics as the producer sees them: their record limits, the
// producers' batch caps, their IDs and recoveries.

package kafka

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record limits of target topics.
//
// franz-go builds batches up to a cap per topic (ProducerBatchMaxBytesFn),
// asked once per partition when it first produces to it and kept until the
// topic is purged from the producer. It fails on its own, without sending
// it, a record whose batch would exceed the cap, and sends the records
// after it: the pipeline must never hand it such a record. Purging a topic
// that still exists to change the cap is no way out: the producer would
// start the partitions' sequence numbers again under the same producer ID
// and epoch, and the broker would take the first batches for duplicates of
// earlier ones and drop them.
//
// So the main producer's cap for a topic is fixed ("pinned") the first time
// the pipeline hands it a record of the topic: the target's limit at that
// time. A record within the target's current limit but over the pinned cap
// (the limit was raised since, or the record is within a few bytes of it:
// see overMainCap) goes alone through a second producer whose cap is the
// largest request, with nothing else of its partition in flight. A topic is purged from the main producer only when it is a new
// topic (created again), and its cap is then pinned anew.

const (
	// defaultBatchCap is franz-go's default ProducerBatchMaxBytes, used
	// while a target topic's limits are unknown.
	defaultBatchCap = 1_000_012
	// maxBatchCap keeps a batch well inside franz-go's request size limit
	// (BrokerMaxWriteBytes, 100 MiB), so that the topic's cap is the one
	// franz-go applies.
	maxBatchCap = 99 << 20
	minBatchCap = 512
)

// topicLimits are what a target topic takes, as read from its configs.
type topicLimits struct {
	maxMessageBytes int64             // max.message.bytes (0: unknown)
	segmentBytes    int64             // segment.bytes (0: unknown)
	timestamps      map[string]string // the message.timestamp.* configs
}

// batchCap is the largest batch franz-go may build for the topic, and the
// setting that bounds it, for messages.
func (l topicLimits) batchCap() (int64, string) {
	limit, what := int64(defaultBatchCap), "the producer's default batch size (the target topic's max.message.bytes could not be read)"
	if l.maxMessageBytes > 0 {
		limit, what = l.maxMessageBytes, "max.message.bytes"
	}
	if l.segmentBytes > 0 && l.segmentBytes < limit {
		limit, what = l.segmentBytes, "segment.bytes"
	}
	if limit > maxBatchCap {
		limit, what = maxBatchCap, "the replicator's largest produce request"
	}
	return max(limit, minBatchCap), what
}

func (l topicLimits) timestampRules() string {
	if len(l.timestamps) == 0 {
		return "its message.timestamp.* settings"
	}
	keys := slices.Sorted(maps.Keys(l.timestamps))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l.timestamps[k]
	}
	return strings.Join(parts, ", ")
}

// readLimits reads a target topic's limits from its configs (defaults
// included: the broker reports them with the topic's own).
func readLimits(ctx context.Context, cl *clients, target string) (topicLimits, error) {
	rc, err := cl.dstAdm.DescribeTopicConfigs(ctx, target)
	if err != nil {
		return topicLimits{}, err
	}
	if len(rc) != 1 {
		return topicLimits{}, fmt.Errorf("configs of %s: %d answers", target, len(rc))
	}
	if rc[0].Err != nil {
		return topicLimits{}, fmt.Errorf("configs of %s: %w", target, rc[0].Err)
	}
	l := topicLimits{timestamps: map[string]string{}}
	for _, c := range rc[0].Configs {
		if c.Value == nil {
			continue
		}
		switch {
		case c.Key == "max.message.bytes":
			l.maxMessageBytes, _ = strconv.ParseInt(*c.Value, 10, 64)
		case c.Key == "segment.bytes":
			l.segmentBytes, _ = strconv.ParseInt(*c.Value, 10, 64)
		case strings.HasPrefix(c.Key, "message.timestamp.") && c.Key != "message.timestamp.type":
			l.timestamps[c.Key] = *c.Value
		}
	}
	return l, nil
}

// targetState is what the engine knows of one target topic.
type targetState struct {
	limits topicLimits
	// pinned is the main producer's batch cap for the topic (0: not yet).
	pinned int64
	// id is the topic ID the producer writes to ("" unknown).
	id string
	// recovering is set while the topic is being made sure of after
	// records failed for an unknown topic; gen counts finished recoveries.
	recovering bool
	gen        uint64
}

// targets holds the target topics' states; the producer's batch cap
// function reads it from franz-go's goroutines.
type targets struct {
	mu sync.Mutex
	m  map[string]*targetState
}

func (ts *targets) getLocked(topic string) *targetState {
	if ts.m == nil {
		ts.m = map[string]*targetState{}
	}
	s := ts.m[topic]
	if s == nil {
		s = &targetState{}
		ts.m[topic] = s
	}
	return s
}

// pinLocked returns the main producer's cap for the topic, fixing it now
// if it is not yet.
func (s *targetState) pinLocked() int64 {
	if s.pinned == 0 {
		s.pinned, _ = s.limits.batchCap()
	}
	return s.pinned
}

// batchMaxBytes is the main producer's ProducerBatchMaxBytesFn: the pinned
// cap, in franz-go's terms (producerCap).
func (ts *targets) batchMaxBytes(topic string) int32 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return int32(producerCap(ts.getLocked(topic).pinLocked()))
}

// caps returns the largest single-record batch the target topic takes now
// (and what bounds it) and the main producer's cap for the topic (pinned
// now if it was not). Pipeline goroutine.
func (ts *targets) caps(topic string) (limit int64, what string, main int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.getLocked(topic)
	limit, what = s.limits.batchCap()
	return limit, what, s.pinLocked()
}

// limits returns what is known of the topic's limits.
func (ts *targets) limitsOf(topic string) topicLimits {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.getLocked(topic).limits
}

// setLimits records a topic's limits.
func (ts *targets) setLimits(topic string, l topicLimits) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.getLocked(topic).limits = l
}

// setID records the topic ID the producer writes to, if none is known.
func (ts *targets) setID(topic, id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if s := ts.getLocked(topic); s.id == "" {
		s.id = id
	}
}

// recreated records that the topic is a new one (ID id), purged from the
// producer: its cap is pinned again at the next record.
func (ts *targets) recreated(topic, id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.getLocked(topic)
	s.pinned, s.id = 0, id
}

// knownID returns the topic ID the producer writes to ("" unknown).
func (ts *targets) knownID(topic string) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.getLocked(topic).id
}

// needPurge decides whether a target topic found again after records
// failed for an unknown topic is purged from the producer: only when it is
// a new topic (created by the engine, or its ID changed), whose log holds
// no producer state (see above: purging a topic that still has its log
// would lose records). Without IDs (known or now ""), only a topic the
// engine created is new; a re-created topic the producer still holds then
// takes its sequence numbers as a new producer's.
func needPurge(created bool, known, now string, sawUnknownID bool) bool {
	switch {
	case created:
		return true
	case now == "":
		return false
	case known == "":
		return sawUnknownID
	}
	return known != now
}

// generation counts the finished recoveries of topic.
func (ts *targets) generation(topic string) uint64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.getLocked(topic).gen
}

// startRecovery reports whether the caller is to recover topic (no other
// recovery of it runs).
func (ts *targets) startRecovery(topic string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.getLocked(topic)
	if s.recovering {
		return false
	}
	s.recovering = true
	return true
}

func (ts *targets) endRecovery(topic string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.getLocked(topic)
	s.recovering = false
	s.gen++
}

// applyLimits records a target topic's limits. Pipeline goroutine only.
func (r *replication) applyLimits(target string, l topicLimits) {
	before, _ := r.targets.limitsOf(target).batchCap()
	r.targets.setLimits(target, l)
	if after, what := l.batchCap(); after != before {
		r.log.Info("engine: target topic's record limit", "topic", target, "limit", after, "from", what)
	}
}

// producerCap is the ProducerBatchMaxBytes under which franz-go builds
// batches a broker with the given limit takes: franz-go counts a batch
// with the length of the records field, a uvarint in the flexible produce
// requests of every broker since Kafka 2.4. Until a producer has its first
// produce response from a broker, and with older brokers, franz-go counts
// a 4-byte length instead: a record within a few bytes of the limit is
// then over the cap; such records go through the second producer
// (overMainCap).
func producerCap(limit int64) int64 { return limit + int64(kbin.UvarintLen(uint32(limit)+1)) }

// overMainCap reports whether the main producer, whose cap for rec's topic
// is pinned at mainCap (producerCap of it), may refuse rec on its own as a
// batch of its own: franz-go's figure of that batch (recordBatchBytes, the
// fixed-length records field counted, as it does before it knows the
// broker's produce version) is over the cap. Such a record is within the
// target's limit when the limit was raised after the cap was pinned, or
// when it is within a few bytes of the limit: it goes alone through the
// second producer, whose cap holds any record the target takes.
func overMainCap(rec *kgo.Record, mainCap int64) bool {
	return recordBatchBytes(rec) > producerCap(mainCap)
}
