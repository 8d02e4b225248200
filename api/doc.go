// Package api is the HTTP surface of the control plane: the eight MSK
// Replicator operations (wire-compatible with the AWS SDKs), the
// extensions (status, GET /v1/workers), the internal worker API of the
// lease protocol (package fleet), and the health and metrics endpoints.
// routes.go lists them all. Handlers return errors; one adapter turns them
// into AWS error responses (errors.go), from the domain's error kinds.
//
// It owns the wire types of the AWS operations and the extensions (wire.go,
// status.go); the worker API's are package fleet's. It declares what it
// needs from persistence (Store, FleetStore) and gets the store from
// cmd/replicator: the answers are the domain's types (pkg/replicator) and
// the protocol's (pkg/fleet), and the errors are already domain errors. It
// imports pkg/replicator, pkg/fleet and pkg/sigv4, and never pkg/postgres,
// pkg/kafka, pkg/maintenance or workers.
package api
