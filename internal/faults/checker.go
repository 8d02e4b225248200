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
//   - per epoch (incarnation of the source topic) and partition, the first
//     copies of the sequence numbers arrive in order with no gap (a gap is a
//     lost or reordered record);
//   - every other copy is a duplicate: a run of them (a rewind) is measured
//     in seconds of source data, from the timestamps the copies keep;
//   - where each sequence number's last copy sits, for the group check.
//
// What "lost" means (Missing): a record the source acknowledged whose
// first copy never reached the target. Two faults change what the target
// can hold, and the suite arranges them so that the rule stays exact:
//
//   - A source topic deleted and created again: the suite deletes it only
//     after every record of the old incarnation (epoch) was copied, so no
//     record of any epoch may be missing; records a user deletes before
//     they were copied would not count, but the suite never deletes any.
//     Every record written to the new incarnation must arrive, from seq 0.
//   - A target topic deleted: its copies are gone with it (ResetTarget).
//     The suite deletes it only once the checker has seen every record
//     produced so far, so those count as arrived; after the deletion the
//     copy must go on from the replicator's checkpoint, at or below the
//     first record not yet copied: a record never seen in either
//     incarnation of the target is lost, a re-copy below it is a rewind.
//
// It is safe for concurrent use.
type Checker struct {
	mu      sync.Mutex
	streams map[streamID]*partCheck
	targets map[int32]*targetPart
	resets  int      // target incarnations seen after the first
	other   []string // violations of no stream partition (unreadable records, offsets out of order)
}

type streamID struct {
	epoch     int32
	partition int32
}

// targetPart is what the checker knows of a target partition: the offset
// order of what it read, in the current incarnation of the target topic.
type targetPart struct {
	lastOffset int64 // last target offset seen
	records    int64
	fresh      bool // nothing read since the target topic was re-created
}

type partCheck struct {
	id         streamID
	next       int64     // the seq whose first copy comes next
	lastTS     time.Time // source timestamp of seq next-1
	dups       int64
	lastCopy   []int64 // seq → target offset of its latest copy; noCopy, goneCopy
	run        *Rewind // the rewind in progress, if any
	rewinds    []Rewind
	violations []string
	arrived    time.Time // when the latest first copy was observed
	maxDelay   time.Duration
}

const (
	noCopy   = -1 // never copied
	goneCopy = -2 // copied, then deleted with the target topic
)

// Rewind is a run of duplicates: the target got seqs From..To again after
// having reached Reached.
type Rewind struct {
	Epoch     int32
	Partition int32
	From, To  int64 // first and last seq of the run
	Reached   int64 // the highest seq copied before the run
	Count     int64
	// Span is the source data the run repeats, in time: the timestamp of
	// Reached minus that of From.
	Span time.Duration
	At   time.Time
	// AfterTargetReset: the run is the re-copy from the checkpoint that
	// begins a re-created target topic.
	AfterTargetReset bool
}

// maxViolations keeps the report readable when something goes badly wrong.
const maxViolations = 50

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{streams: map[streamID]*partCheck{}, targets: map[int32]*targetPart{}}
}

func (c *Checker) stream(epoch, p int32) *partCheck {
	id := streamID{epoch, p}
	pc := c.streams[id]
	if pc == nil {
		pc = &partCheck{id: id}
		c.streams[id] = pc
	}
	return pc
}

func (c *Checker) target(p int32) *targetPart {
	tp := c.targets[p]
	if tp == nil {
		tp = &targetPart{lastOffset: -1}
		c.targets[p] = tp
	}
	return tp
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
	tp := c.target(r.Partition)
	if r.Offset <= tp.lastOffset {
		c.violate("partition %d: target offset %d after %d (read out of order)", r.Partition, r.Offset, tp.lastOffset)
		return
	}
	tp.lastOffset = r.Offset
	tp.records++
	fresh := tp.fresh
	tp.fresh = false
	epoch, seq, err := Decode(r.Partition, r.Key, r.Value, r.Headers)
	if err != nil {
		c.violate("partition %d offset %d: %v", r.Partition, r.Offset, err)
		return
	}
	pc := c.stream(epoch, r.Partition)
	for int64(len(pc.lastCopy)) <= seq {
		pc.lastCopy = append(pc.lastCopy, noCopy)
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
		pc.violate("epoch %d partition %d: seq %d..%d missing before seq %d (target offset %d): lost or out of order",
			epoch, r.Partition, pc.next, seq-1, seq, r.Offset)
		pc.next = seq + 1
		pc.lastTS = r.Timestamp
		pc.arrived = now
		pc.maxDelay = max(pc.maxDelay, now.Sub(r.Timestamp))
	default: // a duplicate
		pc.dups++
		if pc.run == nil {
			pc.run = &Rewind{Epoch: epoch, Partition: r.Partition, From: seq, Reached: pc.next - 1,
				Span: pc.lastTS.Sub(r.Timestamp), At: now, AfterTargetReset: fresh}
		}
		pc.run.To = seq
		pc.run.Count++
	}
}

// violate records a violation that belongs to no stream partition.
func (c *Checker) violate(format string, args ...any) {
	if len(c.other) < maxViolations {
		c.other = append(c.other, fmt.Sprintf(format, args...))
	}
}

// ResetTarget tells the checker that the target topic was deleted: the
// copies it held are gone, and the next records read are a new
// incarnation's, from offset 0. Call it once the checker has read the old
// incarnation to its end and before reading the new one.
func (c *Checker) ResetTarget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets++
	for _, tp := range c.targets {
		tp.lastOffset = -1
		tp.fresh = true
	}
	for _, pc := range c.streams {
		pc.endRun()
		for s, o := range pc.lastCopy {
			if o >= 0 {
				pc.lastCopy[s] = goneCopy
			}
		}
	}
}

// ResetDelays starts a new measurement for MaxDelay.
func (c *Checker) ResetDelays() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.streams {
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
	for _, pc := range c.streams {
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

// Next returns, per partition of epoch, how many sequence numbers have
// their first copy on the target.
func (c *Checker) Next(epoch, partitions int32) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, partitions)
	for p := range partitions {
		if pc := c.streams[streamID{epoch, p}]; pc != nil {
			out[p] = pc.next
		}
	}
	return out
}

// CaughtUp reports whether every partition of epoch has the first copies
// of at least want[p] sequence numbers.
func (c *Checker) CaughtUp(epoch int32, want []int64) bool {
	got := c.Next(epoch, int32(len(want)))
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
	Unique     int64 // distinct sequence numbers copied (all epochs)
	Duplicates int64
	Rewinds    []Rewind // sorted by time; includes a run in progress
	Violations []string
	MaxSpan    time.Duration // of the rewinds not caused by a target deletion
	// TargetResets is how many times the target topic was re-created.
	TargetResets int
}

// Summary returns the figures so far.
func (c *Checker) Summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s Summary
	ids := make([]streamID, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].epoch != ids[j].epoch {
			return ids[i].epoch < ids[j].epoch
		}
		return ids[i].partition < ids[j].partition
	})
	for _, tp := range c.targets {
		s.Records += tp.records
	}
	s.Violations = append(s.Violations, c.other...)
	for _, id := range ids {
		pc := c.streams[id]
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
		if !r.AfterTargetReset {
			s.MaxSpan = max(s.MaxSpan, r.Span)
		}
	}
	s.TargetResets = c.resets
	return s
}

// GroupSample is one reading of a consumer group's committed offset on the
// target, with the offset the group had committed on the source when (or
// after) it was read, in the source topic's incarnation Epoch.
type GroupSample struct {
	At              time.Time
	Epoch           int32
	Partition       int32
	TargetOffset    int64
	SourceCommitted int64 // = the next sequence number the group would read on the source
}

// CheckGroup checks that a translated offset never lets the group skip a
// record it had not consumed: starting at TargetOffset on the target, the
// group must still find a copy of every sequence number of the epoch at or
// above SourceCommitted. It returns the violations (nil when all hold).
// Call it when the checker has read the target past every sample's offset,
// and before a ResetTarget (samples of a deleted target topic mean
// nothing afterwards).
func (c *Checker) CheckGroup(samples []GroupSample) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	// sufMin[id][s] = the lowest target offset among the latest copies of
	// seqs s, s+1, ...: a consumer starting at or below it reads them all.
	sufMin := map[streamID][]int64{}
	for id, pc := range c.streams {
		n := len(pc.lastCopy)
		m := make([]int64, n+1)
		m[n] = math.MaxInt64
		for s := n - 1; s >= 0; s-- {
			m[s] = m[s+1]
			if o := pc.lastCopy[s]; o >= 0 && o < m[s] {
				m[s] = o
			}
		}
		sufMin[id] = m
	}
	var out []string
	for _, g := range samples {
		m := sufMin[streamID{g.Epoch, g.Partition}]
		if g.SourceCommitted < 0 || g.SourceCommitted >= int64(len(m)) {
			continue // nothing the group has not consumed is on the target yet
		}
		if lim := m[g.SourceCommitted]; g.TargetOffset > lim {
			if len(out) < maxViolations {
				out = append(out, fmt.Sprintf("epoch %d partition %d at %s: target group offset %d is past offset %d, which holds a record the group had not consumed (source committed %d)",
					g.Epoch, g.Partition, g.At.Format("15:04:05.000"), g.TargetOffset, lim, g.SourceCommitted))
			}
		}
	}
	return out
}

// EndOffset returns the target offset after the last record read in
// partition p of the current target topic (0 when none).
func (c *Checker) EndOffset(p int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tp := c.targets[p]; tp != nil {
		return tp.lastOffset + 1
	}
	return 0
}

// Missing returns how many of the first n[p] sequence numbers of each
// partition of epoch never had a copy on the target (a copy deleted with
// the target topic counts as arrived), leaving out those refused says the
// source never took (nil: none).
func (c *Checker) Missing(epoch int32, n []int64, refused func(partition int32, seq int64) bool) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost int64
	for p := range n {
		pc := c.streams[streamID{epoch, int32(p)}]
		for s := int64(0); s < n[p]; s++ {
			if refused != nil && refused(int32(p), s) {
				continue
			}
			if pc == nil || s >= int64(len(pc.lastCopy)) || pc.lastCopy[s] == noCopy {
				lost++
			}
		}
	}
	return lost
}
