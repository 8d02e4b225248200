package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/logx"
	"github.com/openreplicator/replicator/pkg/replicator"
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

// replication is one replicator's state on this worker: the spec, the
// clients shared by its jobs, and the partitions this worker copies.
type replication struct {
	e    *Engine
	id   string
	log  *slog.Logger
	refs int // guarded by e.mu

	mu      sync.Mutex
	spec    *fleet.ReplicatorSpec
	flow    *Flow
	src     endpoint
	dst     endpoint
	parts   map[tp]*partState
	clients *clients
	connErr *fleet.JobError
	srcErr  *fleet.JobError
	dstErr  *fleet.JobError
	wake    chan struct{}
	// notices of the replication rather than of one job (partitions
	// added to a target topic), until a job of it on this worker takes
	// them into its reports.
	notices []fleet.Notice

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	topics topicEnsurer

	// consumedIDs is, per source topic, the topic ID the consumer fetches
	// it under ("" unknown); idChecked when its identity was last checked
	// after a fetch error. Guarded by mu.
	consumedIDs map[string]string
	idChecked   map[string]time.Time

	targets targets // target topics: limits, recoveries

	// The pipeline goroutine's inbox (see pipeline.go).
	postMu     sync.Mutex
	posted     []func(*clients)
	dmu        sync.Mutex
	dirty      map[*partState]struct{}
	pollMu     sync.Mutex
	pollCancel context.CancelFunc
	kicked     bool
	houseNow   atomic.Bool
	lastHouse  time.Time // pipeline goroutine only
}

type tp struct {
	topic     string
	partition int32
}

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

func newReplication(e *Engine, spec *fleet.ReplicatorSpec, log *slog.Logger) (*replication, error) {
	flow, err := NewFlow(&spec.Spec)
	if err != nil {
		return nil, err
	}
	ri := spec.Spec.ReplicationInfo[0]
	srcC, dstC := spec.Spec.ClusterByAlias(ri.SourceAlias), spec.Spec.ClusterByAlias(ri.TargetAlias)
	if srcC == nil || dstC == nil {
		return nil, errors.New("spec names clusters it does not list")
	}
	r := &replication{e: e, id: spec.ID, log: log, spec: spec, flow: flow, parts: map[tp]*partState{}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), consumedIDs: map[string]string{}}
	r.topics.r = r
	if r.src, err = resolve(srcC, spec.AccountID, e.cfg.Clusters, e.cfg.Dial); err != nil {
		return nil, err
	}
	if r.dst, err = resolve(dstC, spec.AccountID, e.cfg.Clusters, e.cfg.Dial); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

func (r *replication) close() {
	r.cancel()
	<-r.done
}

// addNotice queues a notice of the replication for the next report of
// any of its jobs on this worker. Not under any st.mu.
func (r *replication) addNotice(code, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notices) >= maxNotices {
		r.notices = r.notices[1:]
	}
	r.notices = append(r.notices, fleet.Notice{Code: code, Message: msg, At: time.Now()})
}

// takeNotices returns the queued notices of the replication and forgets
// them: the caller's job reports them until they are acknowledged.
func (r *replication) takeNotices() []fleet.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns := r.notices
	r.notices = nil
	return ns
}

func (r *replication) labels() (name, account string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spec.Name, r.spec.AccountID
}

// run connects, then copies records and watches cluster health until the
// replication closes.
func (r *replication) run() {
	defer close(r.done)
	var cl *clients
	for backoff := 250 * time.Millisecond; cl == nil; backoff = min(2*backoff, 5*time.Second) {
		var err error
		if cl, err = r.connect(); err != nil {
			r.mu.Lock()
			r.connErr = &fleet.JobError{Code: "ConnectionSetupFailed", Message: err.Error(), Since: sinceOr(r.connErr)} // configuration and secrets only: nothing was dialled
			r.mu.Unlock()
			r.log.Warn("engine: cannot set up cluster connections", "err", err)
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}
	r.mu.Lock()
	r.clients, r.connErr = cl, nil
	r.mu.Unlock()
	defer cl.close()
	go r.watchHealth(cl)
	r.pipeline(cl)
}

func sinceOr(e *fleet.JobError) time.Time {
	if e != nil {
		return e.Since
	}
	return time.Now()
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

// watchHealth pings both clusters every second; a cluster that cannot be
// reached or refuses authentication becomes the error of every job.
func (r *replication) watchHealth(cl *clients) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		name, account := r.labels()
		for _, side := range []struct {
			ep   endpoint
			adm  *kgo.Client
			slot **fleet.JobError
			what string
		}{{r.src, cl.srcAdmCl, &r.srcErr, "Source"}, {r.dst, cl.dstAdmCl, &r.dstErr, "Target"}} {
			ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
			err := side.adm.Ping(ctx)
			if err == nil {
				// A metadata request proves authentication too.
				_, err = kadm.NewClient(side.adm).BrokerMetadata(ctx)
			}
			cancel()
			if r.ctx.Err() != nil {
				return
			}
			r.e.cfg.Metrics.ping(name, account, side.ep.alias, err == nil)
			r.mu.Lock()
			if err == nil {
				if *side.slot != nil {
					r.log.Info("engine: cluster reachable again", "cluster", side.ep.alias)
				}
				*side.slot = nil
			} else {
				code, msg, class := classify(side.what, side.ep, err)
				if code == side.what+"AuthenticationFailed" {
					r.e.cfg.Metrics.authError(name, account, side.ep.alias)
				}
				r.e.cfg.Metrics.connectionError(name, account, side.ep.alias, class)
				if *side.slot == nil {
					r.log.Warn("engine: cluster check failed", "cluster", side.ep.alias, "code", code, "class", class, "err", err)
				}
				*side.slot = &fleet.JobError{Code: code, Message: msg, Since: sinceOr(*side.slot)}
			}
			r.mu.Unlock()
		}
		r.refreshLag(cl, name, account)
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshLag reads the source's end offsets of the partitions this worker
// copies, so that lag is measured against the log's real end and not only
// the high watermark of the last fetch (which is stale while fetches are
// slow), and exports the per-topic lag.
func (r *replication) refreshLag(cl *clients, name, account string) {
	r.mu.Lock()
	parts := make([]*partState, 0, len(r.parts))
	topics := map[string]bool{}
	for _, st := range r.parts {
		parts = append(parts, st)
		topics[st.topic] = true
	}
	r.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	// The source topics' identities: franz-go stops fetching a topic that
	// was deleted and created again without saying so (or with
	// UNKNOWN_TOPIC_ID errors), so they are compared here too.
	if td, err := cl.srcAdm.ListTopics(ctx, names...); err == nil {
		for _, n := range names {
			if d, ok := td[n]; ok && d.Err == nil {
				if id := topicIDString(d.ID); r.idChanged(n, id) {
					r.post(func(cl *clients) { r.applySourceID(cl, n, id) })
				}
			}
		}
	}
	ends, err := cl.srcAdm.ListEndOffsets(ctx, names...)
	if err != nil {
		return
	}
	lag := map[string]int64{}
	for _, st := range parts {
		st.mu.Lock()
		if e, ok := ends.Lookup(st.topic, st.partition); ok && e.Err == nil && e.Offset > st.hwm {
			st.hwm = e.Offset
		}
		lag[st.topic] += st.lagLocked()
		st.mu.Unlock()
	}
	for t, l := range lag {
		r.e.cfg.Metrics.setLag(name, account, t, l)
	}
}

// classify turns a connection error into a stateInfo code, a message that
// names the cluster and its brokers but neither a secret nor the raw error,
// and the error's class for the connection-errors metric. The raw error
// would tell a tenant a closed port from a web server or a database on the
// workers' network; it goes to the log only.
func classify(side string, ep endpoint, err error) (code, msg, class string) {
	authish := errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || strings.Contains(err.Error(), "SASL")
	if !authish && ep.auth != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// A broker closes the connection on a bad password.
		authish = true
	}
	where := fmt.Sprintf("%s cluster %s (%s)", strings.ToLower(side), ep.alias, strings.Join(ep.brokers, ","))
	if authish {
		return side + "AuthenticationFailed", "authentication to the " + where + " was refused", "auth"
	}
	return side + "Unreachable", "cannot connect to the " + where, connClass(err)
}

// jobError is the error every job of this replication reports now.
func (r *replication) jobError() *fleet.JobError {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.connErr != nil:
		return r.connErr
	case r.srcErr != nil:
		return r.srcErr
	case r.dstErr != nil:
		return r.dstErr
	}
	return nil
}

func (r *replication) specVersion() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spec.SpecVersion
}

func (r *replication) updateSpec(spec *fleet.ReplicatorSpec) {
	flow, err := NewFlow(&spec.Spec)
	if err != nil {
		r.log.Error("engine: new spec does not compile", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if spec.SpecVersion > r.spec.SpecVersion {
		r.spec, r.flow = spec, flow
	}
}

func (r *replication) getClients(ctx context.Context) (*clients, error) {
	for {
		r.mu.Lock()
		cl := r.clients
		r.mu.Unlock()
		if cl != nil {
			return cl, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicIDString is a topic ID as the engine reports and compares it
// (kadm's base64 form), "" when the cluster reports none.
func topicIDString(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return id.String()
}
