// The fence of a partition's writes: the context every record of the
// partition is produced under, done once the lease is stale, a record
// failed or records timed out, until the partition is rewound.

package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
)

// errLeaseStale fails records whose lease went stale before they were
// sent. It is a cancellation: the partition rewinds, nothing is lost.
var errLeaseStale = fmt.Errorf("the job's lease was not renewed in time: %w", context.Canceled)

// errPartitionFailed fails records handed to the producer after a record
// before them failed (before the pipeline learnt of it): they must not be
// written before that one. A cancellation: the partition rewinds.
var errPartitionFailed = fmt.Errorf("an earlier record of the partition failed: %w", context.Canceled)

// errDeliveryTimeout fails records of a partition whose records waited
// too long for the target. A cancellation: the partition rewinds.
var errDeliveryTimeout = fmt.Errorf("records were not acknowledged by the target in time: %w", context.Canceled)

// leaseCtx is a context that is done when its parent is, when it is
// aborted, when a record of the partition failed, or (checked each time it
// is asked) when the lease is no longer fresh. The producer asks before it
// writes a partition's first buffered batch, so after a pause the answer
// reflects the time of the write, not that of a timer that may not have
// fired yet.
type leaseCtx struct {
	context.Context
	fresh  func() bool
	cancel context.CancelFunc
	// fenced is set the first time anyone sees the lease stale, and stays
	// set until the partition is rewound: a renewal that arrives while
	// the producer is still failing the records it held must not let
	// later records through before those are fetched again (that would
	// write them out of order).
	fenced atomic.Bool
	// failed is set when a record of the partition failed, until the
	// partition is rewound: the producer fails what it still holds of the
	// partition instead of writing it after the failed record.
	failed atomic.Bool
	// timedOut is set when the partition's records waited too long for
	// the target (Config.DeliveryTimeout), until it is rewound.
	timedOut atomic.Bool
}

// ok reports whether writes may go on: not fenced, and the lease fresh
// (seeing it stale fences).
func (c *leaseCtx) ok() bool {
	if c.fenced.Load() || c.failed.Load() || c.timedOut.Load() {
		return false
	}
	if c.fresh != nil && !c.fresh() {
		c.fenced.Store(true)
		return false
	}
	return true
}

// fail fences the partition after a failed record.
func (c *leaseCtx) fail() { c.failed.Store(true) }

// unfence lets writes go on again once the lease is fresh; the caller has
// rewound the partition and nothing is in flight.
func (c *leaseCtx) unfence() bool {
	if c.fresh != nil && !c.fresh() {
		return false
	}
	c.fenced.Store(false)
	c.failed.Store(false)
	c.timedOut.Store(false)
	return true
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newLeaseCtx(parent context.Context, fresh func() bool) *leaseCtx {
	ctx, cancel := context.WithCancel(parent)
	return &leaseCtx{Context: ctx, fresh: fresh, cancel: cancel}
}

func (c *leaseCtx) Done() <-chan struct{} {
	if !c.ok() {
		return closedCh
	}
	return c.Context.Done()
}

func (c *leaseCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if c.failed.Load() {
		return errPartitionFailed
	}
	if c.timedOut.Load() {
		return errDeliveryTimeout
	}
	if !c.ok() {
		return errLeaseStale
	}
	return nil
}
