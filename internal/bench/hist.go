package bench

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// Histogram records latencies in microseconds in log-linear buckets (HDR
// style): exact below 128 µs, then 64 buckets per power of two, so any value
// is reported within 1/64 (1.6 %) above its true value. The zero value is
// ready; it is not safe for concurrent use (give each worker its own and
// Merge them).
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64 // µs
	min, max uint64  // µs
}

const (
	subBits  = 7
	subCount = 1 << subBits // 128
	halfSub  = subCount / 2
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits // >= 1
	m := v >> e                  // in [64, 128)
	return subCount + (e-1)*halfSub + int(m-halfSub)
}

// bucketHigh is the highest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	e := (i-subCount)/halfSub + 1
	m := uint64((i-subCount)%halfSub + halfSub)
	return (m+1)<<e - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	i := bucketOf(v)
	if i >= len(h.counts) {
		n := max(2*len(h.counts), i+1, 1024)
		c := make([]uint64, n)
		copy(c, h.counts)
		h.counts = c
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		c := make([]uint64, len(o.counts))
		copy(c, h.counts)
		h.counts = c
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the latency at quantile q (0..1): the highest value of
// the bucket holding the ceil(q·n)-th sample, capped at the maximum seen.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Mean is the average latency.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Max is the largest latency recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Recorder is a Histogram that many goroutines record into.
type Recorder struct {
	mu sync.Mutex
	h  Histogram
}

// Record adds one latency.
func (r *Recorder) Record(d time.Duration) {
	r.mu.Lock()
	r.h.Record(d)
	r.mu.Unlock()
}

// Histogram returns a copy of what was recorded so far.
func (r *Recorder) Histogram() *Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.h
	h.counts = slices.Clone(r.h.counts)
	return &h
}
