package fleet

import (
	"context"
	"log/slog"
	"time"
)

// This file holds the interfaces between a worker and the engine that runs
// its jobs. The worker (package workers) holds leases and calls an Engine;
// the engine (package kafka, or a simulated one in tests) runs each leased
// job as a Task and calls back through the job's TaskEnv. Both sides import
// these from here, so neither depends on the other: a worker does not know
// how records are copied, and an engine does not know how leases are held.
//
// The calls follow the lease protocol (see the package doc): a task runs
// only while its lease is held, reports through Report at every heartbeat,
// writes to the target only while TaskEnv.LeaseFresh says so, is drained
// when the lease is given back and aborted when it is lost.

// Engine runs jobs.
type Engine interface {
	// Start begins running the leased job and returns at once. ctx ends
	// when the worker aborts the job.
	Start(ctx context.Context, lease Lease, spec *ReplicatorSpec, env TaskEnv) (Task, error)
}

// Task is one running job.
type Task interface {
	// Report returns the job's current checkpoint, progress and error, and
	// the spec version it runs. It must not block.
	Report() JobReport
	// UpdateSpec hands the task a newer spec of its replicator.
	UpdateSpec(spec *ReplicatorSpec)
	// Drain stops the task gracefully: in-flight batches finish, so that
	// Report afterwards holds the final checkpoint.
	Drain(ctx context.Context) error
	// Abort stops the task at once; it must not write to any cluster or
	// report a checkpoint again (its lease is lost).
	Abort()
}

// TaskEnv is what a running job may call back.
type TaskEnv struct {
	WorkerID string
	Logger   *slog.Logger
	// ReportTopology sends the topics a metadata job sees, under its lease
	// (its token included). When the control plane stored the report but
	// answered a condition (TopologyResponse.Error, e.g. a quota the
	// topics exceed) it returns a *TopologyError; see there.
	ReportTopology func(ctx context.Context, specVersion int64, topics []TopicInfo) error
	// LeaseFresh reports whether the job's lease was granted or renewed
	// within the last half of its TTL. A job writes to the target only
	// while it returns true: a worker that was paused or cut off from the
	// control plane stops writing long before another worker can be
	// granted the lease (see FreshFraction).
	LeaseFresh func() bool
}

// FreshFraction is the part of the lease TTL after a renewal during which
// a job may write: half the TTL, so that what a job hands its producer
// while the lease is fresh has the other half to be written before the
// lease can expire.
const FreshFraction = 2

// TopologyError is what TaskEnv.ReportTopology returns when the control
// plane applied a topology report only in part and answered a condition the
// metadata job must report as its error (TopologyResponse.Error: for
// example QuotaExceeded, fatal). The worker itself puts Job in the
// metadata job's reports, in place of the task's own error unless that one
// is fatal, until a later report is answered without a condition; so an
// engine needs do nothing more than report again later (the condition may
// clear: topics deleted, a quota raised). An engine that knows this type
// may also report Job as its own error.
type TopologyError struct{ Job JobError }

func (e *TopologyError) Error() string { return e.Job.Code + ": " + e.Job.Message }

// NoticeAcker is implemented by tasks whose reports carry notices
// (JobReport.Notices). A task keeps reporting a notice until the worker
// calls AckNotices with a time at or after the notice's: the worker does
// so after a heartbeat that carried the task's notices renewed its lease
// (the control plane stored them), with the newest notice's time.
type NoticeAcker interface {
	AckNotices(upTo time.Time)
}
