SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO       ?= go
BIN      := bin/snapsync
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Packages the tests need from Debian: RocksDB's ldb and db_bench.
DEB_DEPS := rocksdb-tools

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/snapsync
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/snapsync

.PHONY: deps
deps: ## Install what the tests need (rocksdb-tools) if it is missing
	@if ! command -v ldb >/dev/null || ! command -v db_bench >/dev/null; then \
		echo "installing $(DEB_DEPS)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_DEPS) >/dev/null; \
	fi

.PHONY: test
test: deps ## Install test deps, then run every test with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

.PHONY: demo
demo: ## The main job: make a Pebble DB, serve it, install it on a follower, print what happened
	$(GO) run ./cmd/snapsync demo

.PHONY: bench-deps
bench-deps: deps ## Install the baselines the benchmarks compare against (rsync, zstd)
	@if ! command -v rsync >/dev/null || ! command -v zstd >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq rsync zstd >/dev/null; \
	fi

BENCH_SIZE ?= 1GiB
.PHONY: bench
bench: bench-deps ## Benchmarks: hot paths, and a BENCH_SIZE install vs rsync and tar|zstd baselines
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $$(go list ./... | grep -v /e2e)
	SNAPSYNC_BENCH_SIZE=$(BENCH_SIZE) $(GO) test -run '^$$' -bench Install -benchtime 3x -timeout 60m ./e2e

FUZZTIME ?= 15s
# Every fuzz target, as package:Target; seeds are committed under testdata/fuzz.
FUZZ_TARGETS := ./verify:FuzzDecode ./verify:FuzzValidatePath ./client:FuzzDecodeState ./client:FuzzDecodeChunk \
	./swap:FuzzDecodeRecord ./swap:FuzzDecodeSealedBody ./server:FuzzDecodeDigestCache ./server:FuzzDecodeState \
	./sidecar:FuzzResolveDest ./examples/raftkv:FuzzDecodeCommand ./examples/raftkv:FuzzDecodeLog \
	./examples/raftkv:FuzzDecodePointer
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 15s)
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

.PHONY: proto
proto: ## Regenerate protobuf code with the tools pinned in go.mod
	$(GO) tool buf generate

.PHONY: check-proto
check-proto: proto ## Regenerate and fail if the committed code differs
	git diff --exit-code -- proto/gen

.PHONY: lint
lint: ## go vet, gofmt, buf lint and buf format
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) tool buf lint
	$(GO) tool buf format -d --exit-code

.PHONY: clean
clean: ## Remove build output
	rm -rf bin
