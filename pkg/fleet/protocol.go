package fleet

import (
	"time"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// Job kinds.
const (
	KindMetadata  = "metadata"
	KindPartition = "partition"
)

// OffsetEarliest as a start offset means the start of the partition's log.
const OffsetEarliest int64 = -2

// Lease is one job granted to a worker.
type Lease struct {
	JobID        int64  `json:"jobId"`
	Epoch        int64  `json:"epoch"`
	ReplicatorID string `json:"replicatorId"`
	Kind         string `json:"kind"`
	Topic        string `json:"topic,omitempty"`
	Partition    int32  `json:"partition"`
	// StartOffset is where a partition job resumes: the next source offset
	// to copy, or OffsetEarliest.
	StartOffset int64     `json:"startOffset"`
	SpecVersion int64     `json:"specVersion"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// AcquireRequest asks for jobs. Max 0 means as many as the worker's share.
type AcquireRequest struct {
	WorkerID string            `json:"workerId"`
	Max      int               `json:"max,omitempty"`
	Info     map[string]string `json:"info,omitempty"`
}

// AcquireResponse grants leases.
type AcquireResponse struct {
	Leases         []Lease `json:"leases"`
	LeaseTTLMillis int64   `json:"leaseTtlMillis"`
}

// JobReport is what a worker says about one job it holds.
type JobReport struct {
	JobID       int64 `json:"jobId"`
	Epoch       int64 `json:"epoch"`
	SpecVersion int64 `json:"specVersion"`
	// Checkpoint is the next source offset to copy; it never runs ahead of
	// what the target acknowledged. Partition jobs only.
	Checkpoint *int64 `json:"checkpoint,omitempty"`
	// TargetCheckpoint is the next target offset after the records copied
	// up to Checkpoint: together they are an exact offset mapping point.
	TargetCheckpoint *int64             `json:"targetCheckpoint,omitempty"`
	Progress         *PartitionProgress `json:"progress,omitempty"`
	Error            *JobError          `json:"error,omitempty"`
}

// PartitionProgress is a partition job's figures at the time of a report.
type PartitionProgress struct {
	TargetTopic string `json:"targetTopic,omitempty"`
	// LastOffset is the last source offset copied and acknowledged by the
	// target (-1 before the first).
	LastOffset    int64   `json:"lastOffset"`
	HighWatermark int64   `json:"highWatermark"`
	Lag           int64   `json:"lag"`
	LatencyMillis float64 `json:"latencyMillis"`
	BytesPerSec   float64 `json:"bytesPerSec"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
}

// JobError says a job cannot make progress, since when and why.
type JobError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// HeartbeatRequest renews every lease the worker holds and reports on them.
type HeartbeatRequest struct {
	WorkerID string      `json:"workerId"`
	Jobs     []JobReport `json:"jobs"`
}

// HeartbeatResponse says which leases were renewed, which are lost (stop
// now), which to give back (finish, checkpoint, release), and the current
// spec version of each replicator involved.
type HeartbeatResponse struct {
	Renewed        []int64          `json:"renewed"`
	Lost           []int64          `json:"lost"`
	Revoke         []int64          `json:"revoke"`
	SpecVersions   map[string]int64 `json:"specVersions"`
	LeaseTTLMillis int64            `json:"leaseTtlMillis"`
}

// ReleaseRequest gives jobs back, with their final checkpoints.
type ReleaseRequest struct {
	WorkerID string      `json:"workerId"`
	Jobs     []JobReport `json:"jobs"`
	// Leaving says the worker stops: it no longer counts as live.
	Leaving bool `json:"leaving,omitempty"`
}

// Topology is what a metadata job sees on the source cluster: the topics
// that match the spec, with their partitions.
type Topology struct {
	WorkerID    string      `json:"workerId"`
	JobID       int64       `json:"jobId"`
	Epoch       int64       `json:"epoch"`
	SpecVersion int64       `json:"specVersion"`
	Topics      []TopicInfo `json:"topics"`
}

// TopicInfo is one source topic.
type TopicInfo struct {
	Name       string          `json:"name"`
	Partitions []PartitionInfo `json:"partitions"`
}

// PartitionInfo is one source partition with its log start and end.
type PartitionInfo struct {
	Partition int32 `json:"partition"`
	Earliest  int64 `json:"earliest"`
	Latest    int64 `json:"latest"`
}

// ReplicatorSpec is what a worker needs to run a replicator's jobs. Secrets
// are not in it: only their ARNs, which workers resolve themselves.
type ReplicatorSpec struct {
	ID          string           `json:"id"`
	ARN         string           `json:"arn"`
	Name        string           `json:"name"`
	AccountID   string           `json:"accountId"`
	SpecVersion int64            `json:"specVersion"`
	State       replicator.State `json:"state"`
	Spec        replicator.Spec  `json:"spec"`
}

// WorkerInfo describes a live worker and what it holds (GET /v1/workers).
type WorkerInfo struct {
	ID        string            `json:"id"`
	FirstSeen time.Time         `json:"firstSeen"`
	LastSeen  time.Time         `json:"lastSeen"`
	Info      map[string]string `json:"info,omitempty"`
	Jobs      []HeldJob         `json:"jobs"`
}

// HeldJob is one lease held by a worker.
type HeldJob struct {
	JobID          int64     `json:"jobId"`
	ReplicatorID   string    `json:"replicatorId"`
	ReplicatorName string    `json:"replicatorName"`
	Kind           string    `json:"kind"`
	Topic          string    `json:"topic,omitempty"`
	Partition      int32     `json:"partition"`
	Epoch          int64     `json:"epoch"`
	ExpiresAt      time.Time `json:"leaseExpiresAt"`
}

// MappingPoint is an exact offset mapping of one partition: every source
// record before SourceOffset was copied to the target before TargetOffset,
// and none after. The control plane keeps recent points of each partition.
type MappingPoint struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	SourceOffset int64  `json:"sourceOffset"`
	TargetOffset int64  `json:"targetOffset"`
}

// MappingsResponse lists a replicator's mapping points, newest first per
// partition.
type MappingsResponse struct {
	Points []MappingPoint `json:"points"`
}
