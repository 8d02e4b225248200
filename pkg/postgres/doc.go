// Package postgres is the store of the control plane, and the only package
// of the service with SQL (tests, benchmarks and the fault and soak suites
// also read the database they set up): replicators, their tags and
// history, and the jobs, leases, checkpoints, offset mappings and workers
// of the fleet.
//
// One file per concern:
//
//   - replicators.go: the replicators the API creates, reads, updates,
//     deletes and tags, and the spec a worker reads (ReplicatorSpec);
//   - lease.go and topology.go: the fenced statements of the lease protocol
//     (described in package fleet): acquire, heartbeat (renewal, progress,
//     checkpoints, notices), release, and the metadata job's topology
//     report. Every one that acts under a lease checks (owner, epoch,
//     token) and an unexpired lease;
//   - the statements of the leader's maintenance (package maintenance), one
//     file each: leader.go (the leader lease), expire.go, rebalance.go,
//     deleting.go (revoke, then purge), prune.go, states.go (the health
//     read and the state change of the state machine);
//   - status.go: the read models shown by the status endpoint, GET
//     /v1/workers, GET /metrics and the workers' offset translation;
//   - events.go: a replicator's history, bounded;
//   - errors.go: translate, the one place where driver errors become domain
//     errors (PostgreSQL unreachable or going away: replicator.KindUnavailable),
//     and wrap, with which every exported method names itself in its error.
//
// Its answers are the domain's types (package replicator) and the
// protocol's (package fleet), so that its callers never import it: the API
// and package maintenance declare the methods they call, and cmd/replicator
// wires the store in. It imports pkg/replicator, pkg/fleet, migrations, pgx
// and goose, and never api, workers, pkg/kafka or pkg/maintenance.
package postgres
