// The copy pipeline's loop and its inbox: the goroutine that alone drives
// the consumer and the producers, and how other goroutines hand it work.

package kafka

import (
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
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
	r.setDirty(st)
	r.kick()
}

// setDirty marks st for the pipeline's next pass without waking it (the
// pipeline goroutine itself, which passes next anyway).
func (r *replication) setDirty(st *partState) {
	r.dmu.Lock()
	if r.dirty == nil {
		r.dirty = map[*partState]struct{}{}
	}
	r.dirty[st] = struct{}{}
	r.dmu.Unlock()
}

// logRate logs at most once per interval per key (pkg/logx).
func (r *replication) logRate(level slog.Level, key, msg string, args ...any) {
	r.e.limiter.Log(r.log, level, r.id+"|"+key, msg, args...)
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
