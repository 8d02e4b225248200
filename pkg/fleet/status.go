package fleet

import (
	"time"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// Read models of the fleet: what the status endpoint, GET /metrics and the
// maintenance package's state machine are shown of the jobs, workers and
// replicators' history. The store (package postgres) fills them in.

// JobStatus is one job as the status endpoint shows it.
type JobStatus struct {
	JobID          int64
	Kind           string
	Topic          string
	Partition      int32
	Owner          string
	Epoch          int64
	LeaseExpiresAt *time.Time
	HeartbeatAt    *time.Time
	SpecVersion    int64
	Error          *JobError
	Progress       *PartitionProgress
	NextOffset     *int64
}

// Event is one entry of a replicator's history: a state change (Kind
// "state") or a notice (Kind "notice": something a job or discovery did or
// saw, such as a source topic re-created; State is the replicator's state
// at the time).
type Event struct {
	At      time.Time
	State   replicator.State
	Code    string
	Message string
	Kind    string
}

// FleetGauges are the fleet figures the control plane exports at scrape
// time: each live worker's heartbeat age, and each replicator's lag as its
// workers last reported it.
type FleetGauges struct {
	HeartbeatAge map[string]float64 // worker → seconds since it was last heard from
	Lag          []ReplicatorLag
}

// ReplicatorLag is a replicator's total lag in records.
type ReplicatorLag struct {
	Name, AccountID string
	Lag             int64
	Partitions      int
}

// ReplicatorHealth is a replicator's state and what its jobs say, for the
// state machine of package maintenance.
type ReplicatorHealth struct {
	ID, Name, AccountID   string
	State                 replicator.State
	StateCode, StateMsg   string
	SpecVersion, TopoVer  int64
	Jobs, Running         int
	FailingSince          *time.Time
	FailCode, FailMessage string
	// Fatal says a leased job reports a fatal error (JobError.Fatal): the
	// replicator fails at once, without the failure threshold.
	Fatal bool
}
