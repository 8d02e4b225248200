// The codes of the errors and notices a job reports (fleet.JobError.Code,
// fleet.Notice.Code).

package kafka

// Error codes a partition job reports (JobError.Code).
const (
	// CodeRecordTooLarge: a record is larger than the target topic takes
	// (max.message.bytes, segment.bytes). Fatal: the partition stops at it.
	CodeRecordTooLarge = "RecordTooLarge"
	// CodeRecordTimestampRejected: the target refuses a record's timestamp
	// (INVALID_TIMESTAMP, message.timestamp.*.max.ms). Fatal.
	CodeRecordTimestampRejected = "RecordTimestampRejected"
	// CodeRecordRejected: the target refuses a record for another reason
	// that retrying does not cure. Fatal.
	CodeRecordRejected = "RecordRejected"
	// CodeSourceTopicRecreated: the source topic was deleted and created
	// again; the job copied the old topic and copies nothing more until the
	// control plane replaces it.
	CodeSourceTopicRecreated = "SourceTopicRecreated"
	// CodeReplicationFailure: producing failed and is being retried.
	CodeReplicationFailure = "ReplicationFailure"
	// CodeTargetTopicUnavailable: the target topic cannot be made sure of
	// (created, listed) yet.
	CodeTargetTopicUnavailable = "TargetTopicUnavailable"
	// CodeLeaseNotRenewed: writes are paused until the lease is renewed.
	CodeLeaseNotRenewed = "LeaseNotRenewed"
)

// NoticeTargetTopicRecreated is the notice of a job that found its target
// topic missing and created it again.
const NoticeTargetTopicRecreated = "TargetTopicRecreated"

// NoticeTargetPartitionsAdded is the notice of a job that found a target
// topic with fewer partitions than its source topic and added them.
const NoticeTargetPartitionsAdded = "TargetPartitionsAdded"
