#!/usr/bin/env bash
# The integration suite against real Apache Kafka, start to end:
#
#   bash test/kafka/integration.sh [go test flags, e.g. -run TestSASL]
#
# 1. fetch  the Kafka jars from Maven Central (test/kafka/kafka.sh fetch; skipped when cached)
# 2. up     two single-node KRaft clusters on loopback (kafka.sh up)
# 3. suite  go test -tags integration ./internal/integration/ -count=1 -v
# 4. down   stop the clusters and remove their data, always (also on failure or Ctrl-C)
#
# Each stage prints its duration. The exit code is the suite's (or that of
# the stage that failed). When the suite fails, the brokers' logs are kept in
# $KAFKA_CACHE/last-logs and their tails printed; the replicator processes'
# logs are in .cache/integration-logs. Clusters left running by an earlier
# run of the same KAFKA_CACHE are stopped first.
#
# Environment: everything kafka.sh reads (KAFKA_CACHE, ports, KAFKA_HEAP),
# TEST_DATABASE_URL, REPLICATOR_TEST_TIME_SCALE, INTEGRATION_TIMEOUT (go test
# -timeout, default 20m), CI (=true: missing infrastructure fails the run).
set -euo pipefail

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin integration

kafka_stages
go_suite "$GO" test -tags integration ./internal/integration/ -count=1 -v -timeout "${INTEGRATION_TIMEOUT:-20m}" "$@"
