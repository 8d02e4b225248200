// Package integration runs the replicator as real processes — `replicator
// migrate`, `replicator serve` and two `replicator worker`s, built from this
// tree — against two real Apache Kafka clusters (test/kafka/kafka.sh up), and
// drives it with the AWS SDK for Go and franz-go, as a user would.
//
// The scenarios both systems run are written once in internal/scenario;
// this package implements scenario.System on the real processes (system,
// in harness_test.go) and runs each scenario from a test of the same name
// (scenarios_test.go), as internal/e2e does in one process on kfake. What
// only real processes can do stays here: killing workers
// (TestWorkerFailover) and checking the brokers are real.
//
// Run it with test/kafka/integration.sh (fetch, up, this suite, down), or by
// hand:
//
//	bash test/kafka/kafka.sh fetch && bash test/kafka/kafka.sh up
//	go test -tags integration ./internal/integration/ -count=1 -v
//	bash test/kafka/kafka.sh down
//
// The clusters are found through KAFKA_SOURCE, KAFKA_TARGET and
// KAFKA_TARGET_SASL, or else $KAFKA_CACHE/run/env (default
// .cache/kafka/run/env), which `kafka.sh up` writes. Without clusters the
// suite skips, except under CI=true, where it fails. PostgreSQL is
// TEST_DATABASE_URL (a fresh database is created in it and dropped) or a
// throwaway server (pkg/pgserver). Process logs are kept in
// $INTEGRATION_LOG_DIR (default .cache/integration-logs) and their tails are
// printed when a test fails. Deadlines scale with REPLICATOR_TEST_TIME_SCALE.
//
// Tests share the clusters and the replicator processes: every test uses its
// own topic, group and replicator names (the system's Prefix, see
// newSystem), and deletes its replicators, topics and ACLs when it ends.
// Deadlines are written for the in-process system and stretched six times
// (system.Within).
package integration
