package faults

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Checker follows the target copy of the stream record by record, in
// target offset order per partition, and keeps what proves (or disproves)
// the copy:
//
//   - every record decodes and its checksum holds;
//   - the first copies of the sequence numbers arrive in order with no gap
//     (a gap is a lost or reordered record);
//   - every other copy is a duplicate: a run of them (a rewind) is measured
//     in seconds of source data, from the timestamps the copies keep;
//   - where each sequence number's last copy sits, for the group check.
//
// It is safe for concurrent use.
type Checker struct {
	mu    sync.Mutex
	parts map[int32]*partCheck
}

type partCheck struct {
	next       int64     // the seq whose first copy comes next
	lastTS     time.Time // source timestamp of seq next-1
	lastOffset int64     // last target offset seen
	records    int64
	dups       int64
	lastCopy   []int64 // seq → target offset of its latest copy
	run        *Rewind // the rewind in progress, if any
	rewinds    []Rewind
	violations []string
	arrived    time.Time // when the latest first copy was observed
	maxDelay   time.Duration
}

// Rewind is a run of duplicates: the target got seqs From..To again after
// having reached Reached.
type Rewind struct {
	Partition int32
	From, To  int64 // first and last seq of the run
	Reached   int64 // the highest seq copied before the run
	Count     int64
	// Span is the source data the run repeats, in time: the timestamp of
	// Reached minus that of From.
	Span time.Duration
	At   time.Time
}

// maxViolations keeps the report readable when something goes badly wrong.
const maxViolations = 50

// NewChecker returns an empty checker.
func NewChecker() *Checker { return &Checker{parts: map[int32]*partCheck{}} }

func (c *Checker) part(p int32) *partCheck {
	pc := c.parts[p]
	if pc == nil {
		pc = &partCheck{lastOffset: -1}
		c.parts[p] = pc
	}
	return pc
}

// Observe takes the next target record of its partition (records of one
// partition must come in offset order).
func (c *Checker) Observe(r *kgo.Record) {
	c.ObserveAt(r, time.Now())
}

// ObserveAt is Observe with the arrival time given.
func (c *Checker) ObserveAt(r *kgo.Record, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.part(r.Partition)
	if r.Offset <= pc.lastOffset {
		pc.violate("partition %d: target offset %d after %d (read out of order)", r.Partition, r.Offset, pc.lastOffset)
		return
	}
	pc.lastOffset = r.Offset
	pc.records++
	seq, err := Decode(r.Partition, r.Key, r.Value, r.Headers)
	if err != nil {
		pc.violate("partition %d offset %d: %v", r.Partition, r.Offset, err)
		return
	}
	for int64(len(pc.lastCopy)) <= seq {
		pc.lastCopy = append(pc.lastCopy, -1)
	}
	pc.lastCopy[seq] = r.Offset
	switch {
	case seq == pc.next:
		pc.endRun()
		pc.next++
		pc.lastTS = r.Timestamp
		pc.arrived = now
		pc.maxDelay = max(pc.maxDelay, now.Sub(r.Timestamp))
	case seq > pc.next:
		pc.endRun()
		pc.violate("partition %d: seq %d..%d missing before seq %d (target offset %d): lost or out of order",
			r.Partition, pc.next, seq-1, seq, r.Offset)
		pc.next = seq + 1
		pc.lastTS = r.Timestamp
		pc.arrived = now
		pc.maxDelay = max(pc.maxDelay, now.Sub(r.Timestamp))
	default: // a duplicate
		pc.dups++
		if pc.run == nil {
			pc.run = &Rewind{Partition: r.Partition, From: seq, Reached: pc.next - 1, Span: pc.lastTS.Sub(r.Timestamp), At: now}
		}
		pc.run.To = seq
		pc.run.Count++
	}
}

// ResetDelays starts a new measurement for MaxDelay.
func (c *Checker) ResetDelays() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.parts {
		pc.maxDelay = 0
	}
}

// MaxDelay is the longest end-to-end delay (arrival on the target minus
// the timestamp the record got when it was produced to the source) of any
// first copy observed since ResetDelays. It includes the time a record
// waited in the test producer while the source was down.
func (c *Checker) MaxDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, pc := range c.parts {
		m = max(m, pc.maxDelay)
	}
	return m
}

func (pc *partCheck) endRun() {
	if pc.run != nil {
		pc.rewinds = append(pc.rewinds, *pc.run)
		pc.run = nil
	}
}

func (pc *partCheck) violate(format string, args ...any) {
	if len(pc.violations) < maxViolations {
		pc.violations = append(pc.violations, fmt.Sprintf(format, args...))
	}
}

// Next returns, per partition, how many sequence numbers have their first
// copy on the target.
func (c *Checker) Next(partitions int32) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, partitions)
	for p := range partitions {
		if pc := c.parts[p]; pc != nil {
			out[p] = pc.next
		}
	}
	return out
}

// CaughtUp reports whether every partition has the first copies of at least
// want[p] sequence numbers.
func (c *Checker) CaughtUp(want []int64) bool {
	got := c.Next(int32(len(want)))
	for p := range want {
		if got[p] < want[p] {
			return false
		}
	}
	return true
}

// Summary is what the checker saw so far.
type Summary struct {
	Records    int64 // target records read
	Unique     int64 // distinct sequence numbers copied
	Duplicates int64
	Rewinds    []Rewind // sorted by time; includes a run in progress
	Violations []string
	MaxSpan    time.Duration
}

// Summary returns the figures so far.
func (c *Checker) Summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s Summary
	ps := make([]int32, 0, len(c.parts))
	for p := range c.parts {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		pc := c.parts[p]
		s.Records += pc.records
		s.Unique += pc.next
		s.Duplicates += pc.dups
		s.Rewinds = append(s.Rewinds, pc.rewinds...)
		if pc.run != nil {
			s.Rewinds = append(s.Rewinds, *pc.run)
		}
		s.Violations = append(s.Violations, pc.violations...)
	}
	sort.Slice(s.Rewinds, func(i, j int) bool { return s.Rewinds[i].At.Before(s.Rewinds[j].At) })
	for _, r := range s.Rewinds {
		s.MaxSpan = max(s.MaxSpan, r.Span)
	}
	return s
}

// GroupSample is one reading of a consumer group's committed offset on the
// target, with the offset the group had committed on the source when (or
// after) it was read.
type GroupSample struct {
	At              time.Time
	Partition       int32
	TargetOffset    int64
	SourceCommitted int64 // = the next sequence number the group would read on the source
}

// CheckGroup checks that a translated offset never lets the group skip a
// record it had not consumed: starting at TargetOffset on the target, the
// group must still find a copy of every sequence number at or above
// SourceCommitted. It returns the violations (nil when all hold). Call it
// when the checker has read the target past every sample's offset.
func (c *Checker) CheckGroup(samples []GroupSample) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	// sufMin[p][s] = the lowest target offset among the latest copies of
	// seqs s, s+1, ...: a consumer starting at or below it reads them all.
	sufMin := map[int32][]int64{}
	for p, pc := range c.parts {
		n := len(pc.lastCopy)
		m := make([]int64, n+1)
		m[n] = math.MaxInt64
		for s := n - 1; s >= 0; s-- {
			m[s] = m[s+1]
			if o := pc.lastCopy[s]; o >= 0 && o < m[s] {
				m[s] = o
			}
		}
		sufMin[p] = m
	}
	var out []string
	for _, g := range samples {
		m := sufMin[g.Partition]
		if g.SourceCommitted < 0 || g.SourceCommitted >= int64(len(m)) {
			continue // nothing the group has not consumed is on the target yet
		}
		if lim := m[g.SourceCommitted]; g.TargetOffset > lim {
			if len(out) < maxViolations {
				out = append(out, fmt.Sprintf("partition %d at %s: target group offset %d is past offset %d, which holds a record the group had not consumed (source committed %d)",
					g.Partition, g.At.Format("15:04:05.000"), g.TargetOffset, lim, g.SourceCommitted))
			}
		}
	}
	return out
}

// EndOffset returns the target offset after the last record read in
// partition p (0 when none).
func (c *Checker) EndOffset(p int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc := c.parts[p]; pc != nil {
		return pc.lastOffset + 1
	}
	return 0
}

// LastArrival returns when the latest first copy arrived in any partition
// and per partition.
func (c *Checker) LastArrival(partitions int32) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, partitions)
	for p := range partitions {
		if pc := c.parts[p]; pc != nil {
			out[p] = pc.arrived
		}
	}
	return out
}

// Missing returns how many of the first n[p] sequence numbers of each
// partition have no copy on the target.
func (c *Checker) Missing(n []int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost int64
	for p := range n {
		pc := c.parts[int32(p)]
		for s := int64(0); s < n[p]; s++ {
			if pc == nil || s >= int64(len(pc.lastCopy)) || pc.lastCopy[s] < 0 {
				lost++
			}
		}
	}
	return lost
}
