package replbench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newClient(addr string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, names ...string) error {
	for i := 0; i < len(names); i += 50 {
		chunk := names[i:min(i+50, len(names))]
		res, err := adm.CreateTopics(ctx, partitions, 1, nil, chunk...)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("create %s: %w", r.Topic, r.Err)
			}
		}
	}
	return nil
}

// preload writes n records of size bytes, round-robin over every partition
// of topics, and returns how long it took.
func preload(ctx context.Context, addr string, topics []string, partitions int32, n int64, size int) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedBytes(128<<20), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.UnknownTopicRetries(-1))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	pool := make([]byte, size*64)
	_, _ = rand.Read(pool)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	slots := int64(len(topics)) * int64(partitions)
	for i := int64(0); i < n; i++ {
		slot := i % slots
		off := int(i%64) * size
		r := &kgo.Record{Topic: topics[slot/int64(partitions)], Partition: int32(slot % int64(partitions)), Value: pool[off : off+size]}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
			wg.Done()
		})
		if i%200_000 == 0 && i > 0 {
			progress("  preload: %d/%d records", i, n)
		}
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, e
	}
	return time.Since(start), nil
}

// endTotal is the sum of the end offsets of topics (missing topics count 0).
func endTotal(ctx context.Context, adm *kadm.Client, topics []string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, err
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			sum += o.Offset
		}
	})
	return sum, nil
}

// copyResult is what a throughput run measured.
type copyResult struct {
	FirstRecord time.Duration // start → first record on the target
	Done        time.Duration // start → all records on the target
	Records     int64
	Bytes       int64
}

// Copy window: first record → last record.
func (c copyResult) window() float64 { return (c.Done - c.FirstRecord).Seconds() }
func (c copyResult) mibps() float64  { return float64(c.Bytes) / (1 << 20) / c.window() }
func (c copyResult) rps() float64    { return float64(c.Records) / c.window() }

// waitCopy polls the target's end offsets until they add up to want. alive
// reports an error when the system under test died.
func waitCopy(ctx context.Context, adm *kadm.Client, topics []string, want int64, start time.Time, timeout time.Duration, alive func() error, onFirst func()) (copyResult, error) {
	var res copyResult
	lastLog := time.Now()
	for {
		got, err := endTotal(ctx, adm, topics)
		if err == nil {
			if got > 0 && res.FirstRecord == 0 {
				res.FirstRecord = time.Since(start)
				onFirst()
				progress("  first record on the target after %s", res.FirstRecord.Round(time.Millisecond))
			}
			if got >= want {
				res.Done = time.Since(start)
				res.Records = got
				return res, nil
			}
			if time.Since(lastLog) > 5*time.Second {
				progress("  %d/%d records on the target (%.0f%%) after %s", got, want, 100*float64(got)/float64(want), time.Since(start).Round(time.Second))
				lastLog = time.Now()
			}
		}
		if err := alive(); err != nil {
			return res, err
		}
		if res.FirstRecord == 0 && time.Since(start) > 3*time.Minute {
			return res, fmt.Errorf("no record on the target within 3 minutes")
		}
		if time.Since(start) > timeout {
			return res, fmt.Errorf("not copied within %s (%d/%d records)", timeout, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// latencyResult is end-to-end latency under a steady, rate-limited load.
type latencyResult struct {
	Rate               float64 // records/s offered
	Produced, Received int64
	P50, P99, Max      time.Duration
	// Idle is the share of the machine's CPU time that was idle while the
	// counted part of the run went on (from /proc/stat; -1 unknown).
	Idle float64
}

// measureLatency produces rate records/s into srcTopics for d, and consumes
// dstTopics (the copies, which must exist) on the target; latency is the
// arrival at the target consumer minus the record timestamp set at produce.
// The first warm part of the run is not counted.
func measureLatency(ctx context.Context, source, target string, srcTopics, dstTopics []string, partitions int32, size int, rate float64, d, warm time.Duration) (latencyResult, error) {
	res := latencyResult{Rate: rate}
	_, dadm, err := newClient(target)
	if err != nil {
		return res, err
	}
	// Start at the current end offsets of the copies.
	deadline := time.Now().Add(60 * time.Second)
	offsets := map[string]map[int32]kgo.Offset{}
	for {
		ends, err := dadm.ListEndOffsets(ctx, dstTopics...)
		n := 0
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					if offsets[o.Topic] == nil {
						offsets[o.Topic] = map[int32]kgo.Offset{}
					}
					offsets[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
					n++
				}
			})
		}
		if n == len(dstTopics)*int(partitions) {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("target topics for the latency run do not all exist (%d/%d partitions)", n, len(dstTopics)*int(partitions))
		}
		time.Sleep(200 * time.Millisecond)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(target), kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return res, err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(source), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.UnknownTopicRetries(-1))
	if err != nil {
		return res, err
	}
	defer prod.Close()

	var lat []time.Duration
	var received atomic.Int64
	begin := time.Now()
	countFrom := begin.Add(warm)
	stopAt := begin.Add(d)
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for {
			fs := cons.PollFetches(cctx)
			if cctx.Err() != nil {
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				received.Add(1)
				if !r.Timestamp.Before(countFrom) && r.Timestamp.Before(stopAt) {
					lat = append(lat, now.Sub(r.Timestamp))
				}
			})
		}
	}()

	pool := make([]byte, size*64)
	_, _ = rand.Read(pool)
	slots := int64(len(srcTopics)) * int64(partitions)
	const tick = 5 * time.Millisecond
	var sent int64
	res.Idle = -1
	var cpu0 bench.CPUSnap
	sampled := false
	for now := time.Now(); now.Before(stopAt); now = time.Now() {
		if !sampled && !now.Before(countFrom) {
			cpu0, sampled = bench.MachineSnap(), true
		}
		due := int64(rate * now.Sub(begin).Seconds())
		for ; sent < due; sent++ {
			slot := sent % slots
			off := int(sent%64) * size
			prod.Produce(ctx, &kgo.Record{Topic: srcTopics[slot/int64(partitions)], Partition: int32(slot % int64(partitions)),
				Value: pool[off : off+size], Timestamp: time.Now()}, nil)
		}
		time.Sleep(tick)
	}
	if sampled {
		res.Idle = bench.IdleShare(cpu0, bench.MachineSnap())
	}
	if err := prod.Flush(ctx); err != nil {
		return res, err
	}
	res.Produced = sent
	// Let the tail arrive (at most 30 s).
	wait := time.Now().Add(30 * time.Second)
	for received.Load() < sent && time.Now().Before(wait) {
		time.Sleep(50 * time.Millisecond)
	}
	ccancel()
	<-consDone
	res.Received = received.Load()
	if len(lat) == 0 {
		return res, fmt.Errorf("no record arrived on the target")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		return lat[int(math.Min(float64(len(lat)-1), math.Ceil(p*float64(len(lat)))-1))]
	}
	res.P50, res.P99, res.Max = q(0.50), q(0.99), lat[len(lat)-1]
	return res, nil
}
