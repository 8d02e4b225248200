// Package maintenance is the control plane's scheduler: the periodic work
// that keeps the fleet's leases and the replicators' states true, done by
// one `serve` replica at a time under a leader lease, so that any number of
// replicas can share one database. It grants no leases: workers ask for
// them, and any replica answers (see package fleet).
//
// Each step of the leader's work is a service of its own, in a file of its
// own with a test of its own (as river's maintenance services are):
//
//   - leader.go: the leader lease (the role "scheduler"), taken or renewed
//     at every tick; a replica that does not hold it does nothing else;
//   - expire.go: frees the jobs whose lease expired (a worker died or
//     stalled);
//   - deleting.go: asks the holders of a deleted replicator's jobs to give
//     them back, and removes the replicator once none is held;
//   - rebalance.go: asks workers over their share of a replicator's jobs
//     to give back the excess (at most once a second);
//   - prune.go: removes offset mapping points older than an hour (every
//     30 seconds);
//   - states.go: the state machine that moves each replicator from what
//     its jobs report (CREATING/UPDATING → RUNNING, FAILED and back).
//
// maintenance.go runs them in that order at every tick. Each service
// declares the store methods it calls; the store (package postgres)
// implements them, and package cmd/replicator wires the two. This package
// imports the domain (pkg/replicator) and the protocol (pkg/fleet), never
// the store, the API or the workers. Its logs say "scheduler:" and its
// metrics are the scheduler's, as the operator knows them.
package maintenance
