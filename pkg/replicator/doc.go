// Package replicator holds the domain of the service: replicators, their
// specs, states, ARNs and the error kinds every other package speaks. It
// imports only the standard library; wire formats live in api/, storage in
// pkg/postgres.
package replicator
