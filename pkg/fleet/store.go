package fleet

import (
	"time"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// What the control plane's store answers to the lease protocol's requests.
// The store (package postgres) fills these in; the worker API (package api)
// reads them. Neither side names the other's types.

// AcquireStats says what an acquire did, for metrics.
type AcquireStats struct{ Granted, Moved int }

// HeartbeatResult is the answer to a heartbeat.
type HeartbeatResult struct {
	Renewed, Lost, Revoke []int64
	SpecVersions          map[string]int64
	// ExpiresAt is the new lease expiry of the renewed jobs.
	ExpiresAt time.Time
	// Refused says why reports were refused (their jobs are in Lost),
	// by job ID.
	Refused map[int64]string
}

// TopologyQuotas bound what discovery turns into jobs; 0 means no limit.
// replicator serve's defaults are MSK Replicator's 750 topics per
// replicator, and limits on partitions that keep one tenant from taking the
// fleet (10,000 per replicator, 50,000 per account).
type TopologyQuotas struct {
	Topics            int // source topics per replicator
	Partitions        int // partitions per replicator
	AccountPartitions int // partitions over all of an account's replicators
}

// TopologyResult is what a topology report changed.
type TopologyResult struct {
	Added, Removed int
	// Recreated are the source topics found deleted and created again (a
	// new topic ID): their jobs start over at the earliest offset.
	Recreated []string
	// Error is a condition the metadata job must report as its own (a
	// quota the matched topics exceed); what fits was applied.
	Error *JobError
}

// Event codes a topology report records in a replicator's history, and the
// code of the error it answers when the quotas are exceeded.
const (
	EventSourceTopicRecreated    = "SourceTopicRecreated"
	EventSourcePartitionsRemoved = "SourcePartitionsRemoved"
	CodeQuotaExceeded            = "QuotaExceeded"
)

// ErrLeaseLost is returned when an action under a lease finds the lease
// gone (another epoch or token, or expired). It is a conflict on the
// request's jobId: the worker stops touching the job.
var ErrLeaseLost error = &replicator.Error{Kind: replicator.KindConflict, Param: "jobId", Message: "the lease on this job is lost"}
