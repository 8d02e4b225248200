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
	// TopicID is the identity of the source topic a partition job copies
	// (the Kafka topic ID as the source reported it; "" if it reported
	// none). A topic deleted and created again under the same name has a
	// new ID: it is a new topic, with new jobs and checkpoints, and a job
	// whose topic ID no longer matches the source must copy nothing more.
	TopicID string `json:"topicId,omitempty"`
	// Token is the lease's secret, new with every grant. Every heartbeat,
	// checkpoint, release and topology report under the lease carries it;
	// without it the worker token alone cannot act on another worker's
	// lease.
	Token string `json:"token,omitempty"`
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
	// Token is the lease's secret (Lease.Token).
	Token string `json:"token,omitempty"`
	// Checkpoint is the next source offset to copy; it never runs ahead of
	// what the target acknowledged. Partition jobs only.
	Checkpoint *int64 `json:"checkpoint,omitempty"`
	// TargetCheckpoint is the next target offset after the records copied
	// up to Checkpoint: together they are an exact offset mapping point.
	TargetCheckpoint *int64 `json:"targetCheckpoint,omitempty"`
	// TargetTopicID is the topic ID of the target topic TargetCheckpoint
	// counts in ("" unknown): a target topic deleted and created again
	// starts its offsets over, and mapping points of the old one must not
	// translate offsets into the new one.
	TargetTopicID string             `json:"targetTopicId,omitempty"`
	Progress      *PartitionProgress `json:"progress,omitempty"`
	Error         *JobError          `json:"error,omitempty"`
	// Notices are things the job did or saw that the replicator's history
	// should show (a target topic re-created, a source topic that came
	// back as a new topic). A worker sends each notice until a heartbeat
	// carrying it is answered.
	Notices []Notice `json:"notices,omitempty"`
}

// Notice is one event of a job worth keeping in its replicator's history.
type Notice struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
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
	// Fatal says the job cannot go on until something changes outside it
	// (a record the target refuses, a quota): its replicator turns FAILED
	// at once instead of after the failure threshold. The job keeps
	// retrying and clears the error when it can go on.
	Fatal bool `json:"fatal,omitempty"`
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
	WorkerID    string `json:"workerId"`
	JobID       int64  `json:"jobId"`
	Epoch       int64  `json:"epoch"`
	SpecVersion int64  `json:"specVersion"`
	// Token is the metadata job's lease secret (Lease.Token).
	Token  string      `json:"token,omitempty"`
	Topics []TopicInfo `json:"topics"`
}

// TopologyResponse says what the control plane made of a topology report.
type TopologyResponse struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// Error, when set, is a condition the metadata job must report as its
	// own error (for example a quota the matched topics exceed: the topics
	// beyond it get no jobs).
	Error *JobError `json:"error,omitempty"`
}

// TopicInfo is one source topic.
type TopicInfo struct {
	Name string `json:"name"`
	// ID is the topic's Kafka topic ID (see Lease.TopicID), "" if the
	// source does not report one.
	ID         string          `json:"id,omitempty"`
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
	// TargetTopicID is the target topic (its ID) TargetOffset counts in
	// ("" unknown).
	TargetTopicID string `json:"targetTopicId,omitempty"`
}

// MappingsResponse lists a replicator's mapping points, newest first per
// partition.
type MappingsResponse struct {
	Points []MappingPoint `json:"points"`
}
