// Package kafka is the replication engine: it runs the jobs a worker
// leases (it implements fleet.Engine), and all of the service's traffic
// with the clusters it replicates goes through it (franz-go). (Besides
// it, only the demo commands produce and consume of cmd/replicator, the
// in-process clusters of replicator dev, and test and benchmark tools use
// franz-go.) A worker runs two kinds of jobs with it:
//
//   - a partition job copies one source partition to the same partition
//     number of the target topic, keeping key, value, headers and
//     timestamp, in order. All partition jobs of a replicator on one worker
//     share one source consumer (direct partition assignment, no consumer
//     group, read_committed) and one idempotent target producer.
//   - the metadata job discovers matching topics and partitions (reported
//     to the control plane, which turns them into partition jobs), creates
//     target topics and partitions, keeps topic configs and ACLs in sync,
//     and translates consumer-group offsets.
//
// # Checkpoints and duplicates
//
// A partition's checkpoint is the next source offset to copy. It advances
// only over records the target acknowledged (or that were deliberately not
// copied, such as records that would loop back to their origin), so it
// never runs ahead of the target. Checkpoints reach the control plane with
// every heartbeat (about every second). After a worker dies, the next owner
// resumes from the last checkpoint: duplicates are bounded by about one
// heartbeat interval of data plus what was in flight.
//
// # The copy pipeline
//
// Each partition hands its records to the producer only while what it has
// in flight stays under its share of the replication's budget
// (Config.InflightBytes); what it fetched beyond that waits, and its
// fetching is paused. So a partition whose target does not answer holds
// no more than its share, and the others go on. Records that wait too
// long for the target (Config.DeliveryTimeout) fail and are fetched again.
// A failed record fences its partition: nothing after it is written
// before it (see fence.go and ack.go).
//
// # Records the target refuses
//
// Each target topic's limit (max.message.bytes, segment.bytes) is read
// when its jobs start, and every record is checked against it before it
// is handed over. A record the target cannot take, or one the broker
// refuses (INVALID_TIMESTAMP, a batch too large, any error retrying does
// not cure), stops its partition at that record, after everything before
// it (a refused batch is copied again one record at a time to find it),
// with a fatal error naming the topic, partition, offset, size and limit.
// The partition tries again every Config.RejectedRetryInterval, with the
// limits read again: raising the target's limit lets it go on.
//
// # Topics deleted or created again
//
// A target topic that disappears is created again (with the source's
// configs when the spec copies them), and its partitions go on from their
// failed records; the job says so with a notice (fleet.Notice, see
// fleet.NoticeAcker). A partition job copies the source topic its lease names
// by ID (fleet.Lease.TopicID): once the source topic under that name is
// another one (deleted and created again), the job copies nothing more
// and reports SourceTopicRecreated until the control plane replaces it.
// The metadata job reports each topic's ID (fleet.TopicInfo.ID).
//
// # Offset translation
//
// With each checkpoint the worker reports the matching target position: the
// next target offset after the records copied so far. This pair is an exact
// mapping point: a consumer group that committed source offset S is
// translated to the target offset of the newest mapping point whose source
// offset is at most S. A group that is caught up with a replicator that is
// caught up re-reads nothing; otherwise it re-reads at most the records
// between that mapping point and S, and never skips any.
//
// # What it owns, and what it must not import
//
// It owns everything between a lease and the clusters: connections and
// their credentials (resolved through Secrets and Clusters, dialled
// through Config.Dial), topic selection and naming, the copy of records,
// target topics and partitions, config, ACL and group offset sync, and
// the engine's metrics. It imports the protocol it implements
// (pkg/fleet), the domain (pkg/replicator), and the leaf packages
// pkg/catalog, pkg/netguard and pkg/logx; never the worker runtime that
// drives it (workers), the API, the store (pkg/postgres) or the
// scheduler: arrows point down (TestImportsPointDown keeps them so). What
// it needs of the control plane comes in through fleet.TaskEnv and
// Config.Checkpoints.
//
// # Where things are
//
// The engine and its jobs:
//   - engine.go: Config, Engine and Start; replication.go: one
//     replicator's state on the worker, shared by its jobs; connect.go:
//     its clients; health.go: cluster checks and lag; cluster.go:
//     reaching a cluster (endpoints, TLS, SASL, connection errors).
//   - partjob.go: the partition job; partition.go: a partition's copy
//     state and report; fence.go: the fence of its writes.
//   - metadata.go: the metadata job (discovery, topology reports);
//     sync.go: topic config and ACL sync; groups.go: group offset sync.
//
// Parts that need no broker, each with table tests:
//   - names.go: topic naming and selection (Flow).
//   - record.go: the copy of one record and its sizes.
//   - translate.go: offset translation and where a group's target offset
//     moves.
//   - decide.go: the pipeline's decisions (what a produce error means,
//     the admission and fencing of a partition's records, the timed work
//     a partition needs); limits.go: target topics' record limits and
//     the producers' caps; codes.go: the codes jobs report.
//
// The copy pipeline, one goroutine per replication (pipeline.go, its loop
// and inbox): fetch.go (polling, queueing fetched records), pump.go
// (handing them to the producer), ack.go (produce results),
// housekeep.go (rewinds, refused records, delivery timeouts, stall
// trims), recover.go (target topics deleted or created again),
// source.go (source topics created again). Target topics and partitions
// are created apart from it, in topics.go.
//
// The parts that need a broker are tested on two in-process clusters
// (kfake) by the rig in rig_test.go.
package kafka
