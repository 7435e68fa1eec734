SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO       ?= go
BIN      := bin/snapsync
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Packages the tests need from Debian: RocksDB's ldb and db_bench; a JDK,
# protoc with the grpc-java plugin and grpc-java's jars for the Java client
# test (e2e/java_test.go; libgrpc-java does not pull in netty and perfmark,
# and the stubs need javax.annotation.Generated from geronimo-annotation).
DEB_DEPS := rocksdb-tools openjdk-17-jdk-headless libgrpc-java libprotobuf-java protobuf-compiler \
	protobuf-compiler-grpc-java-plugin libnetty-java libperfmark-java libgeronimo-annotation-1.3-spec-java
# Developer tools (buf, protoc-gen-go, protoc-gen-connect-go, grpcurl) are
# pinned in a module file of their own, so the library's go.mod stays free of
# them.
TOOL     := $(GO) tool -modfile=tools/go.mod
# Modules of this repository: the library, the example cluster, and the
# deployment (image builder, Kubernetes manifests, alert rules, their tests).
MODULES  := . examples/raftkv deploy

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/snapsync
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/snapsync

REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE    ?= snapsync:$(VERSION)
.PHONY: image
image: ## Build the container image reproducibly: bin/image (OCI layout), bin/snapsync-image.tar
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/image-build/snapsync ./cmd/snapsync
	$(GO) -C deploy run ./image -binary ../bin/image-build/snapsync -oci ../bin/image \
		-tar ../bin/snapsync-image.tar -tag $(IMAGE) -version $(VERSION) -revision $(REVISION)

.PHONY: deps
deps: ## Install what the tests need (rocksdb-tools, a JDK, grpc-java) if it is missing
	@if ! command -v ldb >/dev/null || ! command -v db_bench >/dev/null || ! command -v javac >/dev/null || \
		! command -v protoc >/dev/null || ! command -v grpc_java_plugin >/dev/null || \
		! [ -f /usr/share/java/grpc-netty.jar ] || ! [ -f /usr/share/java/perfmark-api.jar ] || \
		! [ -f /usr/share/java/netty-codec-http2.jar ] || ! [ -f /usr/share/java/geronimo-annotation-1.3-spec.jar ]; then \
		echo "installing $(DEB_DEPS)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_DEPS) >/dev/null; \
	fi

.PHONY: test
test: deps ## Install test deps, then run every test with the race detector
	@for m in $(MODULES); do \
		echo "go test -race $$m/..."; \
		$(GO) -C $$m test -race -count=1 -timeout 30m ./... || exit 1; \
	done

.PHONY: demo
demo: ## The main job: make a Pebble DB, serve it, install it on a follower, print what happened
	$(GO) run ./cmd/snapsync demo

.PHONY: bench-deps
bench-deps: deps ## Install the baselines the benchmarks compare against (rsync, zstd, GNU tar, an sshd for rsync over ssh)
	@if ! command -v rsync >/dev/null || ! command -v zstd >/dev/null || ! command -v ssh >/dev/null || ! command -v tar >/dev/null || \
		! command -v ssh-keygen >/dev/null || ! [ -x /usr/sbin/sshd ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq rsync zstd tar openssh-client openssh-server >/dev/null; \
	fi

BENCH_SIZE ?= 256MiB
# Five rounds: on this shared 2-core VM the median of three moved the
# full-install ratio by 0.14 from one run to the next.
BENCH_ROUNDS ?= 5
BENCH_REPORT ?= bench/RESULTS.md
# The empty-files scenario: its file count and rounds (one: a snapsync
# install of a million files takes minutes today).
BENCH_FILES ?= 1048576
BENCH_FILES_ROUNDS ?= 1
# The windowed-plan scenario's tree (4 KiB chunks; 0 skips it).
BENCH_WINDOWED ?= 2GiB
# The backup scenarios (restic and kopia built from tools/bench/go.mod):
# on, off, or only (alone), and their rounds.
BENCH_BACKUP ?= on
BENCH_BACKUP_ROUNDS ?= 3
.PHONY: bench
bench: bench-deps ## Side by side on a BENCH_SIZE checkpoint: snapsync vs rsync (daemon, ssh), tar|zstd, cp -a, mTLS, BENCH_FILES empty files vs tar|tar, backups vs restic/kopia (BENCH_BACKUP=on|off|only); writes BENCH_REPORT (bench/RESULTS.md)
	SNAPSYNC_BENCH_SIZE=$(BENCH_SIZE) SNAPSYNC_BENCH_ROUNDS=$(BENCH_ROUNDS) SNAPSYNC_BENCH_REPORT=$(abspath $(BENCH_REPORT)) \
		SNAPSYNC_BENCH_FILES=$(BENCH_FILES) SNAPSYNC_BENCH_FILES_ROUNDS=$(BENCH_FILES_ROUNDS) \
		SNAPSYNC_BENCH_WINDOWED=$(BENCH_WINDOWED) \
		SNAPSYNC_BENCH_BACKUP=$(BENCH_BACKUP) SNAPSYNC_BENCH_BACKUP_ROUNDS=$(BENCH_BACKUP_ROUNDS) \
		$(GO) test -count=1 -run '^TestBenchReport$$' -timeout 150m ./e2e
	@cat $(BENCH_REPORT)

.PHONY: bench-go
bench-go: bench-deps ## Go benchmarks: the hot paths (b.SetBytes), and BenchmarkInstall on a BENCH_SIZE checkpoint
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $$(go list ./... | grep -v /e2e)
	SNAPSYNC_BENCH_SIZE=$(BENCH_SIZE) $(GO) test -run '^$$' -bench Install -benchtime 3x -timeout 60m ./e2e

FUZZTIME ?= 15s
# Every fuzz target, as package:Target; seeds are committed under testdata/fuzz.
# A target in another module names its directory: examples/raftkv:Target.
FUZZ_TARGETS := ./verify:FuzzDecode ./verify:FuzzValidatePath ./client:FuzzDecodeState ./client:FuzzDecodeChunk \
	./swap:FuzzDecodeRecord ./swap:FuzzDecodeSealedBody ./internal/digestcache:FuzzDecodeDigestCache ./server:FuzzDecodeState \
	./sidecar:FuzzResolveDest ./sidecar:FuzzDecodeRecord ./repo:FuzzDecodeChunk ./repo:FuzzDecodeInfo \
	./repo:FuzzDecodeConfig ./repo:FuzzOpenKeyslot ./repo:FuzzOpenStream ./repo:FuzzOpenBlob ./internal/rpccodec:FuzzUnmarshal ./internal/rpccodec:FuzzDirect examples/raftkv:FuzzDecodeCommand examples/raftkv:FuzzDecodeLog \
	examples/raftkv:FuzzDecodePointer
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 15s)
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; \
		pkg=$${t%%:*}; dir=.; \
		case $$pkg in ./*) ;; *) dir=$$pkg; pkg=. ;; esac; \
		$(GO) -C $$dir test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	done

.PHONY: proto
proto: ## Regenerate protobuf code with the tools pinned in tools/go.mod
	$(TOOL) buf generate

.PHONY: check-proto
check-proto: proto ## Regenerate and fail if the committed code differs
	git diff --exit-code -- proto/gen
	@out=$$(git status --porcelain -- proto/gen); if [ -n "$$out" ]; then echo "untracked generated files:"; echo "$$out"; exit 1; fi

.PHONY: lint
lint: ## go vet, gofmt, go mod tidy -diff, buf lint and buf format
	@for m in $(MODULES); do \
		echo "go vet and go mod tidy -diff in $$m"; \
		$(GO) -C $$m vet ./... || exit 1; \
		$(GO) -C $$m mod tidy -diff || exit 1; \
	done
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(TOOL) buf lint
	$(TOOL) buf format -d --exit-code

.PHONY: clean
clean: ## Remove build output
	rm -rf bin
