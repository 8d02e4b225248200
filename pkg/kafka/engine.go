// The engine: its configuration, and the replications it keeps for the
// jobs a worker starts with it (fleet.Engine).

package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/logx"
)

// Config configures the engine.
type Config struct {
	Secrets  Secrets
	Clusters Clusters
	Logger   *slog.Logger
	Metrics  *Metrics
	// Checkpoints returns the control plane's offset mapping points of a
	// replicator, for consumer-group translation.
	Checkpoints func(ctx context.Context, replicatorID string) ([]fleet.MappingPoint, error)
	// DiscoveryInterval is how often the metadata job looks for new topics
	// and partitions (500ms); SyncInterval how often it syncs configs,
	// ACLs and group offsets (1s).
	DiscoveryInterval, SyncInterval time.Duration
	// FetchMaxWait bounds how long a fetch waits for data (100ms), and
	// FetchMinBytes is how much it waits for (1 byte: answer as soon as
	// anything is there).
	FetchMaxWait  time.Duration
	FetchMinBytes int32
	// ProducerLinger is how long the target producer waits to fill a batch
	// (2ms).
	ProducerLinger time.Duration
	// Dial connects to brokers (nil: kgo's dialer). The worker passes the
	// operator's destination policy here (netguard), which checks the
	// address actually dialled; TLS is layered on top of it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// InflightBytes bounds what a replication on this worker has handed
	// to its target producer and not yet had acknowledged (32 MiB), shared
	// by its partitions: a partition whose target does not answer holds at
	// most its share, and the others go on.
	InflightBytes int64
	// DeliveryTimeout is how long a partition's records may wait in the
	// producer without any being acknowledged before they fail and the
	// partition is fetched again from the first (30s). The producer fails
	// them only where that cannot duplicate or reorder (records not sent,
	// or answered).
	DeliveryTimeout time.Duration
	// RejectedRetryInterval is how often a partition stopped at a record
	// the target refuses tries it again, with the target's limits read
	// again (10s).
	RejectedRetryInterval time.Duration
	// LogInterval is how often a repeated error (the same fetch or
	// produce error of a partition) is logged: once, then once per
	// interval with the count of those not logged (30s).
	LogInterval time.Duration
}

// Engine runs replication jobs; it implements fleet.Engine.
type Engine struct {
	cfg     Config
	limiter *logx.Limiter
	mu      sync.Mutex
	reps    map[string]*replication
}

var _ fleet.Engine = (*Engine)(nil)

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.DiscoveryInterval <= 0 {
		cfg.DiscoveryInterval = 500 * time.Millisecond
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 100 * time.Millisecond
	}
	if cfg.FetchMinBytes <= 0 {
		cfg.FetchMinBytes = 1
	}
	if cfg.ProducerLinger < 0 {
		cfg.ProducerLinger = 0
	} else if cfg.ProducerLinger == 0 {
		cfg.ProducerLinger = 2 * time.Millisecond
	}
	if cfg.InflightBytes <= 0 {
		cfg.InflightBytes = 32 << 20
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 30 * time.Second
	}
	if cfg.RejectedRetryInterval <= 0 {
		cfg.RejectedRetryInterval = 10 * time.Second
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 30 * time.Second
	}
	return &Engine{cfg: cfg, limiter: logx.New(cfg.LogInterval, nil), reps: map[string]*replication{}}
}

// Start implements fleet.Engine.
func (e *Engine) Start(ctx context.Context, l fleet.Lease, spec *fleet.ReplicatorSpec, env fleet.TaskEnv) (fleet.Task, error) {
	rep, err := e.replication(spec, env.Logger)
	if err != nil {
		return nil, err
	}
	switch l.Kind {
	case fleet.KindMetadata:
		return rep.startMetadata(ctx, l, env), nil
	case fleet.KindPartition:
		return rep.startPartition(l, env.LeaseFresh), nil
	}
	e.release(rep)
	return nil, fmt.Errorf("unknown job kind %q", l.Kind)
}

// replication returns the shared state of a replicator on this worker,
// creating it for the first job.
func (e *Engine) replication(spec *fleet.ReplicatorSpec, log *slog.Logger) (*replication, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.reps[spec.ID]; r != nil {
		r.refs++
		return r, nil
	}
	r, err := newReplication(e, spec, log)
	if err != nil {
		return nil, err
	}
	r.refs = 1
	e.reps[spec.ID] = r
	return r, nil
}

func (e *Engine) release(r *replication) {
	e.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last {
		delete(e.reps, r.id)
	}
	e.mu.Unlock()
	if last {
		r.close()
		e.cfg.Metrics.forget(r.labels())
	}
}
