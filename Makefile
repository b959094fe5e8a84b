# kapstan — the two commands for a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/kapstan
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build demo test check-tools kube-test-bins machine-rootfs node-bins lint unit fuzz bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kapstan

## demo: build kapstan, start moto on loopback and run the main job against it.
demo: build
	$(GO) run ./hack/demo --kapstan $(BIN)

## test: every test, with what it needs checked first and the Kubernetes
## test binaries and the machine root file system built (about 25 minutes
## the first time, cached in ~/.cache). Run as root: the machine tests
## start containers.
test: check-tools kube-test-bins machine-rootfs lint unit

check-tools:
	@./hack/check-tools.sh

## kube-test-bins: kube-apiserver, kube-controller-manager and etcd at pinned
## versions, built from the Go module proxy into ~/.cache/kapstan (once).
kube-test-bins:
	@./hack/kube-test-bins/build.sh >/dev/null

## machine-rootfs: the Debian root file system of the test machines
## (internal/testing/machine), built once with debootstrap into
## ~/.cache/kapstan (about 4 minutes); installs debootstrap and runc. Root.
machine-rootfs:
	@./hack/machine-rootfs/build.sh >/dev/null

## node-bins: kubelet, kube-proxy, kube-scheduler and a pause image archive
## at the pinned Kubernetes version, for the machines (once, ~/.cache).
node-bins:
	@./hack/node-bins/build.sh >/dev/null

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./internal/store/... ./internal/registry/... ./internal/kube/...

## bench: measure plan, apply, re-apply, delete and rolling update; writes bench/results.json and prints a table.
bench: kube-test-bins
	$(GO) run ./hack/bench --out bench/results.json

## fuzz: run each fuzz target for FUZZTIME (the seed corpora run in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeValidate$$' -fuzztime $(FUZZTIME) ./pkg/apis/kapstan/v1alpha1
	$(GO) test -run '^$$' -fuzz '^FuzzAllocate$$' -fuzztime $(FUZZTIME) ./internal/cidr
	$(GO) test -run '^$$' -fuzz '^FuzzSavedPlan$$' -fuzztime $(FUZZTIME) ./internal/engine
	$(GO) test -run '^$$' -fuzz '^FuzzDiff$$' -fuzztime $(FUZZTIME) ./internal/engine
	$(GO) test -run '^$$' -fuzz '^FuzzChanges$$' -fuzztime $(FUZZTIME) ./internal/registry

clean:
	rm -rf bin
