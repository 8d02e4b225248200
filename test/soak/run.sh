#!/usr/bin/env bash
# The soak run against real Apache Kafka (make soak; not in CI):
#
#   bash test/soak/run.sh [go test flags]
#
# 1. fetch  the Kafka jars (test/kafka/kafka.sh fetch; skipped when cached)
# 2. up     two single-node KRaft clusters on their own ports (2309x, below
#           the kernel's ephemeral range), so that they never meet another
#           suite's clusters
# 3. soak   go test -tags soak ./internal/soak -run TestSoak -v: serve, two
#           workers and a PostgreSQL of their own, a steady stream copied for
#           SOAK_DURATION, samples every SOAK_INTERVAL; writes its table into
#           RELIABILITY.md between the soak markers
# 4. down   always
#
# Environment: SOAK_DURATION (default 30m), SOAK_INTERVAL (default 1m),
# SOAK_WARMUP (default 30s, before the first sample), SOAK_RATE (records/s,
# default 500), SOAK_MAPPING_RETENTION (serve's REPLICATOR_MAPPING_RETENTION,
# default 5m), SOAK_REPORT (default RELIABILITY.md; - for none),
# SOAK_LOG_DIR (default .cache/soak-logs), SOAK_PORT_BASE (default 23092),
# SOAK_TIMEOUT (go test -timeout,
# default 4h), REPLICATOR_TEST_TIME_SCALE.
set -euo pipefail

# shellcheck source=../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/suite.sh"
suite_begin soak

export KAFKA_RUN=${KAFKA_RUN:-$SUITE_ROOT/.cache/kafka-soak-run}
kafka_ports "${SOAK_PORT_BASE:-23092}"
SUITE_LOG_DIRS=${SOAK_LOG_DIR:-$SUITE_ROOT/.cache/soak-logs}

kafka_stages
go_suite "$GO" test -tags soak ./internal/soak/ -run TestSoak -count=1 -v -timeout "${SOAK_TIMEOUT:-4h}" "$@"
