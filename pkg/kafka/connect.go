// A replication's clients: the source consumer, the target producers and
// both clusters' admin clients, created once the secrets resolve.

package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// clients are the connections of one replication, created once the
// secrets resolve and the spec is known.
type clients struct {
	consumer, producer *kgo.Client
	srcAdm, dstAdm     *kadm.Client
	srcAdmCl, dstAdmCl *kgo.Client
	// solo is the second producer (see limits.go), created at first use
	// by the pipeline goroutine with dstOpts.
	solo    *kgo.Client
	dstOpts []kgo.Opt
	// compressed says the producers compress batches (targetCompressionType
	// other than NONE): a broker compares the compressed batch with its
	// limits, so a record's uncompressed size does not tell whether the
	// target takes it.
	compressed bool
}

func (c *clients) close() {
	for _, cl := range []*kgo.Client{c.consumer, c.producer, c.solo, c.srcAdmCl, c.dstAdmCl} {
		if cl != nil {
			cl.Close()
		}
	}
}

func compression(t string) kgo.CompressionCodec {
	switch t {
	case replicator.CompressionGzip:
		return kgo.GzipCompression()
	case replicator.CompressionSnappy:
		return kgo.SnappyCompression()
	case replicator.CompressionLZ4:
		return kgo.Lz4Compression()
	case replicator.CompressionZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func (r *replication) connect() (*clients, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
	defer cancel()
	srcOpts, err := clientOpts(ctx, r.src, r.e.cfg.Secrets)
	if err != nil {
		return nil, fmt.Errorf("source cluster %s: %w", r.src.alias, err)
	}
	dstOpts, err := clientOpts(ctx, r.dst, r.e.cfg.Secrets)
	if err != nil {
		return nil, fmt.Errorf("target cluster %s: %w", r.dst.alias, err)
	}
	r.mu.Lock()
	comp := r.spec.Spec.ReplicationInfo[0].TargetCompression
	r.mu.Unlock()
	name, account := r.labels()
	hooks := r.e.cfg.Metrics.hooks(name, account)
	c := &clients{dstOpts: append(append([]kgo.Opt{}, dstOpts...), kgo.ProducerBatchCompression(compression(comp)),
		kgo.WithHooks(hooks(r.dst.alias))), compressed: comp != "" && comp != replicator.CompressionNone}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	if c.consumer, err = kgo.NewClient(append(append([]kgo.Opt{}, srcOpts...),
		kgo.FetchMaxWait(r.e.cfg.FetchMaxWait), kgo.FetchMinBytes(r.e.cfg.FetchMinBytes),
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(2<<20), kgo.MaxConcurrentFetches(2),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.WithHooks(hooks(r.src.alias)),
	)...); err != nil {
		return nil, err
	}
	if c.producer, err = kgo.NewClient(append(append([]kgo.Opt{}, dstOpts...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(compression(comp)),
		kgo.ProducerLinger(r.e.cfg.ProducerLinger),
		// Each target topic's batches are capped by what it takes (see
		// limits.go).
		kgo.ProducerBatchMaxBytesFn(r.targets.batchMaxBytes),
		// The pipeline bounds what it hands over (per-partition in-flight
		// caps); the producer's own limits, shared by every partition,
		// are out of reach, so handing over never blocks nor fails for
		// room (which would reorder records).
		kgo.MaxBufferedRecords(1<<40),
		// A missing target topic fails its records after a few metadata
		// refreshes; the engine then creates it again.
		kgo.UnknownTopicRetries(unknownTopicRetries),
		// No RecordDeliveryTimeout: franz-go measures it from the
		// record's timestamp, which is the source's (see housekeep).
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.WithHooks(hooks(r.dst.alias)),
	)...); err != nil {
		return nil, err
	}
	if c.srcAdmCl, err = kgo.NewClient(append(append([]kgo.Opt{}, srcOpts...), kgo.MetadataMinAge(250*time.Millisecond))...); err != nil {
		return nil, err
	}
	if c.dstAdmCl, err = kgo.NewClient(append(append([]kgo.Opt{}, dstOpts...), kgo.MetadataMinAge(250*time.Millisecond))...); err != nil {
		return nil, err
	}
	c.srcAdm, c.dstAdm = kadm.NewClient(c.srcAdmCl), kadm.NewClient(c.dstAdmCl)
	ok = true
	return c, nil
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
