#!/usr/bin/env bash
# make bench-replication: start two Kafka clusters with full JIT on ports
# of their own (so a parallel `make test-kafka` is not disturbed), run
# `cmd/bench replication` against them for both workloads (1x12, then 100x4), each
# into its own marked section of BENCHMARKS.md, stop them. Extra arguments
# go to it, e.g.
#   bash test/bench-replication/run.sh -bytes 2GiB
#   bash test/bench-replication/run.sh -workloads 100x4 -out /tmp/replication.md
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
export KAFKA_CACHE=${BENCH_KAFKA_CACHE:-$ROOT/.cache/kafka-bench}
export KAFKA_SOURCE_PORT=${KAFKA_SOURCE_PORT:-49092} KAFKA_SOURCE_CONTROLLER_PORT=${KAFKA_SOURCE_CONTROLLER_PORT:-49192}
export KAFKA_TARGET_PORT=${KAFKA_TARGET_PORT:-49093} KAFKA_TARGET_SASL_PORT=${KAFKA_TARGET_SASL_PORT:-49094}
export KAFKA_TARGET_CONTROLLER_PORT=${KAFKA_TARGET_CONTROLLER_PORT:-49193}
# Full JIT for brokers, perf tools and MirrorMaker 2 (kafka.sh defaults to C1 only).
export KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS-}
mkdir -p "$KAFKA_CACHE"
# Share the jars of the test suite's cache when they are there.
if [ ! -e "$KAFKA_CACHE/lib" ] && [ -d "$ROOT/.cache/kafka/lib" ]; then
	ln -s "$ROOT/.cache/kafka/lib" "$KAFKA_CACHE/lib"
fi
bash test/kafka/kafka.sh fetch
bash test/kafka/kafka.sh down >/dev/null 2>&1 || true
bash test/kafka/kafka.sh up
trap 'bash test/kafka/kafka.sh down' EXIT
go run ./cmd/bench replication -source "127.0.0.1:$KAFKA_SOURCE_PORT" -target "127.0.0.1:$KAFKA_TARGET_PORT" "$@"
