// A replication: one replicator's state on this worker, shared by its
// jobs (spec, clients, partitions, errors, notices), and its lifecycle.

package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

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
