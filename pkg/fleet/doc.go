// Package fleet defines the protocol between workers and the control plane:
// leases on replication jobs, heartbeats, checkpoints, releases and
// topology reports. Workers talk only to the control plane, over HTTP with a
// shared bearer token; only the control plane talks to PostgreSQL.
//
// # Jobs
//
// A replicator is split into jobs, each owned by at most one worker at a
// time: one metadata job (discovery of topics and partitions, and topic
// config, ACL and consumer-group sync) and one job per source partition.
// The metadata job reports the topology it sees (the topics that match the
// spec, their partitions and offsets); the control plane turns it into
// partition jobs, so that new topics and partitions become jobs within one
// report.
//
// # Leases and fencing
//
// A worker acquires jobs with POST /internal/v1/acquire. Each grant sets the
// owner, a lease expiry (now + TTL, default 10 s) and a fencing epoch that
// increases with every grant. Workers heartbeat about every second (at most
// TTL/4) with per-partition progress, checkpoints and errors; a heartbeat
// renews only leases whose (owner, epoch) still match and whose expiry has
// not passed. Anything not renewed comes back as lost, and the worker stops
// touching that job at once. A checkpoint is written only under the same
// condition, so a worker that was paused past its lease (a zombie) can
// neither renew nor checkpoint afterwards. Workers also stop on their own
// when they have not renewed for longer than the TTL minus a safety margin.
//
// Writes to the target are fenced by time on the worker: a job hands
// records to its producer only while its lease was renewed within the last
// TTL/2, and the producer refuses to start sending a batch once that is no
// longer true. So a worker that is paused (SIGSTOP, a long GC, a frozen VM)
// or cut off from the control plane stops writing at least TTL/2 before
// another worker can be granted the lease; on resume it learns the lease
// is lost and drops the job. What it can still write after resuming is
// bounded by the produce requests that were already on the wire, and by at
// most one batch per partition queued behind one (the client refuses only
// the head of a partition's queue).
//
// # Spreading and rebalancing
//
// Each replicator's jobs are spread over the live workers: a worker may
// hold at most ceil(jobs/workers) of a replicator's jobs. When a worker
// joins, the scheduler's leader asks workers over their share to give back
// the excess (revoke in the heartbeat answer); they finish in-flight
// batches, checkpoint and release, and the newcomer acquires those jobs.
// Only the excess moves. A released job is free at once; an expired one is
// free when its TTL passes.
//
// # Graceful stop
//
// On SIGTERM a worker finishes in-flight batches, sends its last
// checkpoints with POST /internal/v1/release, and exits; its jobs move to
// other workers on their next acquire (every 500 ms).
package fleet
