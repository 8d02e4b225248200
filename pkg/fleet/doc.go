// Package fleet defines the protocol between workers and the control plane:
// leases on replication jobs, heartbeats, checkpoints, releases and
// topology reports. Workers talk only to the control plane, over HTTP with a
// shared bearer token; only the control plane talks to PostgreSQL.
//
// It also holds what both sides of the protocol share without depending on
// each other: the interfaces between a worker and the engine that runs its
// jobs (Engine, Task, TaskEnv: engine.go), the results and read models the
// store answers and the API shows (store.go, status.go), the limits both
// sides apply (limits.go) and the spec's serialized form (spec.go). It
// imports only the domain (package replicator) and the standard library.
//
// # Jobs
//
// A replicator is split into jobs, each owned by at most one worker at a
// time: one metadata job (discovery of topics and partitions, and topic
// config, ACL and consumer-group sync) and one job per source partition.
// The metadata job reports the topology it sees (the topics that match the
// spec, with their topic IDs, partitions and offsets); the control plane
// turns it into partition jobs, so that new topics and partitions become
// jobs within one report.
//
// # Topic identity
//
// A source topic is followed by its Kafka topic ID, not by its name. Jobs
// and checkpoints keep the ID (Lease.TopicID). A reported topic whose ID
// differs from the stored one was deleted and created again: it is a new
// topic. Its checkpoints and offset mappings are retired, its jobs start
// over at the earliest offset whatever the spec's starting position, and
// the replicator's history records SourceTopicRecreated. Each job row is
// retired in place: a new epoch and no token, so the old holder's next
// heartbeat finds the lease lost, while the lease expiry stays, so nobody
// is granted the job before the old lease would have expired (two workers
// never copy the partition at once). A stored empty ID (rows from before
// topic IDs) adopts the reported one. Partitions that disappear lose their
// jobs, checkpoints and mappings (SourcePartitionsRemoved). A partition job
// checks the source's topic ID itself and copies nothing of another
// incarnation.
//
// # Quotas
//
// A topology report may be large (the worker API takes up to 32 MiB on
// this route). The control plane keeps existing jobs and adds new
// partitions of copied topics, then new topics in name order, while they
// fit the quotas: topics and partitions per replicator, partitions per
// account (over all its replicators). What does not fit gets no job, and
// the answer carries an error (TopologyResponse.Error, QuotaExceeded,
// fatal) that the worker reports for the metadata job until a later report
// is answered without one (see TopologyError).
//
// # Leases and fencing
//
// A worker acquires jobs with POST /internal/v1/acquire. Each grant sets the
// owner, a lease expiry (now + TTL, default 10 s), a fencing epoch that
// increases with every grant, and a lease token: 128 random bits, new with
// every grant (Lease.Token). Workers heartbeat about every second (at most
// TTL/4) with per-partition progress, checkpoints, errors and notices; a
// heartbeat renews only leases whose (owner, epoch, token) still match and
// whose expiry has not passed. Anything not renewed comes back as lost, and
// the worker stops touching that job at once. Checkpoints, notices,
// releases and topology reports are accepted only under the same
// condition, so a worker that was paused past its lease (a zombie) can
// neither renew nor checkpoint afterwards, and the shared worker token
// alone (anyone can name a worker and an epoch) cannot act on another
// worker's lease. Workers also stop on their own when they have not
// renewed for longer than the TTL minus a safety margin. Leases granted
// before the token existed (migration 00006) have none: they are lost once
// and granted again.
//
// # Bounded requests and load shedding
//
// No replicator's size and no job's report can make a request fail for the
// others. A worker sends its reports in heartbeats (and releases) of at
// most MaxReportsPerRequest reports and about MaxRequestBytes of JSON, a few
// at a time; each renews its own leases. Codes, messages and notices are
// cut to MaxCodeBytes, MaxMessageBytes and MaxNoticesPerReport on the
// worker and again on the control plane. The control plane checks each
// report on its own: one it cannot store (no token, a negative checkpoint)
// renews nothing and comes back as lost; the others are not affected.
//
// Heartbeats are never starved: the control plane serves a bounded number
// of acquires at once; one that finds no free slot within a quarter of a
// second is answered with a retryable 503 ServiceUnavailableException and Retry-After (counted in
// replicator_worker_acquires_shed_total); a worker asks again after
// Retry-After plus up to half of it. Heartbeats and releases run on
// PostgreSQL connections reserved for them, and acquires take at most half
// of the others, so neither a burst of acquires nor API reads make a live
// worker's renewal wait for a connection.
//
// # Job errors and notices
//
// A job's error (JobError) shows in the status endpoint; when errors last
// longer than the failure threshold (30 s) the replicator turns FAILED. A
// fatal error (JobError.Fatal: a record the target refuses, a quota) turns
// it FAILED at once; either way it goes back to RUNNING when its jobs
// report no error. Notices (JobReport.Notices) are events a job wants in
// its replicator's history (a target topic re-created, ...): the control
// plane records them as events of kind notice, shown with the state
// changes by the status endpoint. A worker resends a notice until a
// heartbeat carrying it renewed the job's lease, then tells the task
// (NoticeAcker); a notice resent after a lost answer is recorded
// once.
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
