#!/usr/bin/env bash
# The fault suite against real Apache Kafka, start to end (make test-faults):
#
#   bash test/faults/run.sh [go test flags]
#
# 1. fetch  the Kafka jars (test/kafka/kafka.sh fetch; skipped when cached)
# 2. up     two KRaft clusters of FAULTS_BROKERS (3) brokers each, replication
#           factor 3 and min.insync.replicas 2, on their own ports (2109x,
#           below the kernel's ephemeral range, so that a restarted broker
#           never finds its port taken by an outgoing connection), with an
#           EXTERNAL listener per broker advertised at port+1000, where the
#           suite's TCP proxies listen: the workers reach the brokers (and
#           serve) only through them
# 3. suite  go test -tags faults ./internal/faults -run TestFaults -v: serve
#           ×2, worker ×3 and a PostgreSQL of its own, a checksummed stream,
#           seeded random faults; writes its table into RELIABILITY.md
# 4. down   always
#
# Environment: FAULTS_KINDS (which faults: comma-separated kind IDs,
# "default", "all", "-ID" to leave one out; default: every kind that is not
# a topic-lifecycle one, see internal/faults/kinds.go), FAULTS_SEED (replay a
# schedule), FAULTS_ROUNDS (default 1: every kind once), FAULTS_MAX (at most
# this many faults), FAULTS_RATE (records/s, default 1000), FAULTS_LEASE_TTL
# (default 5s), FAULTS_REPORT (default RELIABILITY.md; - for none),
# FAULTS_LOG_DIR (default .cache/faults-logs), FAULTS_TIMEOUT (go test
# -timeout, default 30m), FAULTS_BROKERS (brokers per cluster, default 3),
# FAULTS_HEAP (broker heap, default -Xmx384m), FAULTS_PORT_BASE (default
# 21092; node i adds 10*i, the proxies 1000), FAULTS_STOP_TIMEOUT (seconds
# a broker may take to stop in a cluster restart before SIGKILL, default 15),
# REPLICATOR_TEST_TIME_SCALE, CI.
set -euo pipefail

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin faults

export KAFKA_RUN=${KAFKA_RUN:-$SUITE_ROOT/.cache/kafka-faults-run}
export KAFKA_BROKERS=${FAULTS_BROKERS:-3}
export KAFKA_HEAP=${FAULTS_HEAP:--Xmx384m}
# C1 only, one compiler thread, and GC and runtime sized for one CPU: six
# brokers share two cores with the system under test.
export KAFKA_JVM_OPTS=${FAULTS_JVM_OPTS:--XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:ActiveProcessorCount=1}
export KAFKA_STOP_TIMEOUT=${FAULTS_STOP_TIMEOUT:-15}
export KAFKA_PROXY_OFFSET=${FAULTS_PROXY_OFFSET:-1000}
kafka_ports "${FAULTS_PORT_BASE:-21092}"
SUITE_LOG_DIRS=${FAULTS_LOG_DIR:-$SUITE_ROOT/.cache/faults-logs}

kafka_stages
go_suite "$GO" test -tags faults ./internal/faults/ -run TestFaults -count=1 -v -timeout "${FAULTS_TIMEOUT:-30m}" "$@"
