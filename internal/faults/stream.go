// Package faults is the fault-injection suite's machinery: a continuous,
// checksummed record stream (stream.go), a checker that reads what arrived
// on the target and proves nothing was lost, reordered or corrupted
// (checker.go), the system of real processes (system.go), a TCP proxy that
// drops, delays and cuts connections (netproxy.go), the kinds of fault
// (kinds.go) and the report it writes to RELIABILITY.md (report.go). The
// suite itself is suite_test.go, built with the `faults` tag (make
// test-faults); the soak run (internal/soak) uses the same pieces.
package faults

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A stream record carries, per partition, a sequence number starting at 0
// and a checksum over everything else, so that the checker can tell a lost,
// duplicated, reordered or altered record from the record alone. The epoch
// is the incarnation of the source topic: when the suite deletes the topic
// and creates it again, the stream goes on in the next epoch, from seq 0.
//
//	key    "<epoch>/<partition>-<seq>"
//	value  magic (2 bytes) | epoch (4, big endian) | seq (8, big endian) | crc32-C (4) | payload
//	header "seq" = decimal seq
//
// The checksum covers the key, the epoch and seq bytes and the payload.
const (
	magic0, magic1 = 0xFA, 0x18
	headerLen      = 2 + 4 + 8 + 4
	// SeqHeader is the header that repeats the sequence number.
	SeqHeader = "seq"
	// RecordOverhead is what a record adds to its payload (value header).
	RecordOverhead = headerLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func streamKey(epoch, partition int32, seq int64) string {
	return strconv.Itoa(int(epoch)) + "/" + strconv.Itoa(int(partition)) + "-" + strconv.FormatInt(seq, 10)
}

// Encode builds the key, value and headers of record seq of partition in
// epoch.
func Encode(epoch, partition int32, seq int64, payload []byte) (key, value []byte, headers []kgo.RecordHeader) {
	key = []byte(streamKey(epoch, partition, seq))
	value = make([]byte, headerLen+len(payload))
	value[0], value[1] = magic0, magic1
	binary.BigEndian.PutUint32(value[2:6], uint32(epoch))
	binary.BigEndian.PutUint64(value[6:14], uint64(seq))
	copy(value[headerLen:], payload)
	binary.BigEndian.PutUint32(value[14:18], checksum(key, value[2:14], payload))
	return key, value, []kgo.RecordHeader{{Key: SeqHeader, Value: []byte(strconv.FormatInt(seq, 10))}}
}

func checksum(key, ids, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, key)
	c = crc32.Update(c, castagnoli, ids)
	return crc32.Update(c, castagnoli, payload)
}

// Decode checks a record of partition and returns its epoch and sequence
// number. Any difference from what Encode built is an error.
func Decode(partition int32, key, value []byte, headers []kgo.RecordHeader) (epoch int32, seq int64, err error) {
	if len(value) < headerLen || value[0] != magic0 || value[1] != magic1 {
		return 0, 0, errors.New("not a stream record (bad magic or length)")
	}
	epoch = int32(binary.BigEndian.Uint32(value[2:6]))
	seq = int64(binary.BigEndian.Uint64(value[6:14]))
	if want := streamKey(epoch, partition, seq); string(key) != want {
		return epoch, seq, fmt.Errorf("key %q, want %q (record of another partition, or altered)", key, want)
	}
	if got, want := binary.BigEndian.Uint32(value[14:18]), checksum(key, value[2:14], value[headerLen:]); got != want {
		return epoch, seq, fmt.Errorf("epoch %d seq %d: checksum %08x, want %08x (record altered)", epoch, seq, got, want)
	}
	found := false
	for _, h := range headers {
		if h.Key == SeqHeader {
			if string(h.Value) != strconv.FormatInt(seq, 10) {
				return epoch, seq, fmt.Errorf("seq %d: header %s = %q", seq, SeqHeader, h.Value)
			}
			found = true
		}
	}
	if !found {
		return epoch, seq, fmt.Errorf("seq %d: header %s missing", seq, SeqHeader)
	}
	return epoch, seq, nil
}

// Producer writes the stream to a topic at a steady rate, spreading records
// over the partitions round-robin, with an idempotent producer that retries
// forever (so the source holds every sequence number once, in order, even
// across source broker restarts).
type Producer struct {
	cl         *kgo.Client
	topic      string
	partitions int32
	size       int
	rate       float64
	epoch      int32
	paused     atomic.Bool
	burst      atomic.Int64

	next  []atomic.Int64 // next seq per partition: records handed to the client
	acked []atomic.Int64 // records acknowledged per partition
	fails atomic.Int64
	lastE atomic.Value // string
	// failed holds the seqs the source refused, per partition: holes in
	// the stream, not losses of the copy.
	failMu sync.Mutex
	failed map[int32]map[int64]bool

	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	t0      time.Time
	t1      time.Time
	stopped sync.Once
	stopErr error
	// pauses, for Producing
	pausedAt  time.Time
	pausedFor time.Duration
}

// NewProducer returns a producer of the stream's epoch for topic; Start
// begins writing. bootstrap is a comma-separated list.
func NewProducer(bootstrap, topic string, partitions int32, size int, rate float64, epoch int32) (*Producer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ClientID("faults-producer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// A broker that is shutting down may close a new connection at
		// once; by default kgo takes that for a configuration error and
		// fails the records, which would put a hole in the stream.
		kgo.AlwaysRetryEOF(),
		kgo.UnknownTopicRetries(-1), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		return nil, err
	}
	return &Producer{cl: cl, topic: topic, partitions: partitions, size: size, rate: rate, epoch: epoch,
		next: make([]atomic.Int64, partitions), acked: make([]atomic.Int64, partitions),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Start begins producing in the background.
func (p *Producer) Start(seed uint64) {
	p.mu.Lock()
	p.t0 = time.Now()
	p.mu.Unlock()
	go p.run(seed)
}

func (p *Producer) run(seed uint64) {
	defer close(p.done)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	payload := make([]byte, p.size)
	interval := time.Duration(float64(time.Second) / p.rate * 10) // 10 records per tick
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var part int32
	one := func() {
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		seq := p.next[part].Add(1) - 1
		k, v, h := Encode(p.epoch, part, seq, payload)
		pp := part
		p.cl.Produce(context.Background(), &kgo.Record{Topic: p.topic, Partition: pp, Key: k, Value: v, Headers: h},
			func(_ *kgo.Record, err error) {
				if err != nil {
					p.refused(pp, seq, err)
					return
				}
				p.acked[pp].Add(1)
			})
		part = (part + 1) % p.partitions
	}
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.paused.Load() {
			continue
		}
		for range p.burst.Swap(0) * int64(p.partitions) {
			one()
		}
		for range 10 {
			one()
		}
	}
}

func (p *Producer) refused(partition int32, seq int64, err error) {
	p.fails.Add(1)
	p.lastE.Store(err.Error())
	p.failMu.Lock()
	defer p.failMu.Unlock()
	if p.failed == nil {
		p.failed = map[int32]map[int64]bool{}
	}
	if p.failed[partition] == nil {
		p.failed[partition] = map[int64]bool{}
	}
	p.failed[partition][seq] = true
}

// Burst makes the producer hand n more records per partition to the
// client at once, on top of the steady rate.
func (p *Producer) Burst(n int64) { p.burst.Add(n) }

// Epoch is the stream epoch the producer writes.
func (p *Producer) Epoch() int32 { return p.epoch }

// Pause stops producing (records in flight go on) until Resume.
func (p *Producer) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused.Swap(true) {
		p.pausedAt = time.Now()
	}
}

func (p *Producer) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused.Swap(false) {
		p.pausedFor += time.Since(p.pausedAt)
	}
}

// Producing is how long the producer has been producing: from Start to
// Stop (or now), without its pauses.
func (p *Producer) Producing() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	t1 := p.t1
	if t1.IsZero() {
		t1 = time.Now()
	}
	d := t1.Sub(p.t0) - p.pausedFor
	if p.paused.Load() {
		d -= t1.Sub(p.pausedAt)
	}
	return max(d, 0)
}

// Flush waits until every record handed to the client is acknowledged or
// failed.
func (p *Producer) Flush(ctx context.Context) error { return p.cl.Flush(ctx) }

// Stop stops producing and waits for every record in flight; later calls
// return the first one's result.
func (p *Producer) Stop(ctx context.Context) error {
	p.stopped.Do(func() {
		close(p.stop)
		<-p.done
		p.stopErr = p.cl.Flush(ctx)
		p.mu.Lock()
		p.t1 = time.Now()
		p.mu.Unlock()
		p.cl.Close()
	})
	return p.stopErr
}

// Acked returns the records acknowledged so far per partition.
func (p *Producer) Acked() []int64 {
	out := make([]int64, p.partitions)
	for i := range out {
		out[i] = p.acked[i].Load()
	}
	return out
}

// Produced returns the records handed to the client so far per partition
// (acknowledged or not yet).
func (p *Producer) Produced() []int64 {
	out := make([]int64, p.partitions)
	for i := range out {
		out[i] = p.next[i].Load()
	}
	return out
}

// Refused reports whether the source refused record seq of partition.
func (p *Producer) Refused(partition int32, seq int64) bool {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failed[partition][seq]
}

// Failures returns how many records the source refused, and the last error.
func (p *Producer) Failures() (int64, string) {
	s, _ := p.lastE.Load().(string)
	return p.fails.Load(), s
}

// Rate is the records acknowledged per second of Producing.
func (p *Producer) Rate() float64 {
	var n int64
	for _, a := range p.Acked() {
		n += a
	}
	if d := p.Producing().Seconds(); d > 0 {
		return float64(n) / d
	}
	return 0
}

// checkStream reads the source topic back: the stream itself must be whole
// (offset = sequence number), or the suite measured nothing.
func checkStream(bootstrap, topic string, partitions int32, epoch int32, acked []int64) []string {
	var out []string
	parts := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range partitions {
		parts[topic][p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ConsumePartitions(parts))
	if err != nil {
		return []string{err.Error()}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := make([]int64, partitions)
	var total, want int64
	for _, a := range acked {
		want += a
	}
	for total < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			ep, seq, err := Decode(r.Partition, r.Key, r.Value, r.Headers)
			if err != nil || ep != epoch || seq != r.Offset || seq != got[r.Partition] {
				if len(out) < 10 {
					out = append(out, fmt.Sprintf("source %s[%d] offset %d: epoch %d seq %d (%v): the stream itself is not whole", topic, r.Partition, r.Offset, ep, seq, err))
				}
			}
			got[r.Partition]++
			total++
		})
	}
	if total < want {
		out = append(out, fmt.Sprintf("source: read %d of %d records back", total, want))
	}
	return out
}
