# The replicator's tasks. `make` alone lists them.
GO       ?= go
BIN      ?= bin/replicator
FUZZTIME ?= 15s

.DEFAULT_GOAL := help
.PHONY: help build dev test test-fuzz test-clients lint bench migrate clean

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

test-clients: ## AWS CLI and boto3 against a running server
	bash test/clients/run.sh

lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench: ## API benchmark beside pgbench (writes a table)
	$(GO) run ./cmd/apibench

migrate: ## apply migrations to DATABASE_URL
	$(GO) run ./cmd/replicator migrate

clean: ## remove build outputs and caches
	rm -rf bin .cache
