// Package kafka is the replication engine and the only package that talks
// to Kafka (through franz-go). A worker runs two kinds of jobs with it:
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
// # Offset translation
//
// With each checkpoint the worker reports the matching target position: the
// next target offset after the records copied so far. This pair is an exact
// mapping point: a consumer group that committed source offset S is
// translated to the target offset of the newest mapping point whose source
// offset is at most S. A group that is caught up with a replicator that is
// caught up re-reads nothing; otherwise it re-reads at most the records
// between that mapping point and S, and never skips any.
package kafka
