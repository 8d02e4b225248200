# The replicator's tasks. `make` alone lists them.
GO       ?= go
BIN      ?= bin/replicator
FUZZTIME ?= 15s

.DEFAULT_GOAL := help
.PHONY: help build dev test test-fuzz test-clients test-secretsmanager test-console test-schemathesis bench-load bench-replication test-kafka test-integration test-faults soak kafka-up kafka-down lint bench bench-api bench-fleet migrate clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/replicator (static, as the Dockerfile does)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/replicator

dev: ## run the whole system locally on embedded defaults
	$(GO) run ./cmd/replicator dev

test: ## unit, PostgreSQL and in-process end-to-end tests
	./scripts/with-postgres.sh $(GO) test -count=1 ./...

test-fuzz: ## run every fuzz target for FUZZTIME each
	./scripts/fuzz.sh $(FUZZTIME)

test-clients: ## AWS CLI, boto3, the JavaScript SDK and the dev demo against a running server
	bash test/clients/run.sh

test-kafka: ## integration suite against two real Apache Kafka 4.1 clusters (jars from Maven Central)
	bash test/kafka/integration.sh

test-integration: test-kafka ## the same as test-kafka

test-faults: ## fault suite on 3-broker Kafka clusters: kills, zombies, leader SIGKILL, network faults (FAULTS_KINDS); writes RELIABILITY.md
	bash test/faults/run.sh

soak: ## soak run, not in CI (SOAK_DURATION, default 30m): RSS, goroutines, open files, table sizes per minute; writes RELIABILITY.md
	bash test/soak/run.sh

kafka-up: ## start the suite's two real Kafka clusters (fetches the jars once)
	bash test/kafka/kafka.sh fetch && bash test/kafka/kafka.sh up

kafka-down: ## stop them and remove their data
	bash test/kafka/kafka.sh down

test-schemathesis: ## property-based API fuzzing from openapi.yaml (schemathesis) against replicator dev
	bash test/schemathesis/run.sh

test-console: ## the web console in headless Chromium (screenshot: test/console/artifacts/console.png)
	bash test/console/run.sh

test-secretsmanager: ## secret resolution against a Secrets-Manager-compatible server (moto)
	bash test/secretsmanager/run.sh

lint: ## go vet and gofmt
	$(GO) vet ./...
	$(GO) vet -tags integration ./internal/integration/
	$(GO) vet -tags faults ./internal/faults/
	$(GO) vet -tags soak ./internal/soak/
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench: bench-api bench-fleet bench-load ## API, fleet and load-while-replicating benchmarks (print tables)

bench-replication: ## our service vs MirrorMaker 2 vs the broker limit on real Kafka 4.1.1, both workloads (writes BENCHMARKS.md)
	bash test/bench-replication/run.sh

bench-load: ## 200 clients, open-loop 1000 req/s for 60 s while replicating: errors, p50/p99, lag
	$(GO) run ./cmd/bench load -dev

bench-api: ## signed Describe/List throughput beside pgbench -S, 10,000 replicators
	$(GO) run ./cmd/bench api

bench-fleet: ## 10,000 jobs, 200 simulated workers: grants/s, heartbeats/s, failover time
	$(GO) run ./cmd/bench fleet

migrate: ## apply migrations to DATABASE_URL
	$(GO) run ./cmd/replicator migrate

clean: ## remove build outputs and caches
	rm -rf bin .cache
