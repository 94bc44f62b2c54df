# gradmesh — common tasks. `make help` lists them.
GO       ?= go
BIN      ?= bin/gradmesh
DATA     ?= ../shared/data
BENCHTIME ?= 1x

.PHONY: help build test check bench bench-cpu demo sim churn results fuzz clean ptx gpu-test gpu-bench

help:
	@echo "make build    build $(BIN)"
	@echo "make test     vet, gofmt check and all tests (what CI runs)"
	@echo "make bench    run the benchmarks"
	@echo "make bench-cpu  CPU speed: the OpenBLAS binding, the training step vs PyTorch, the simulator"
	@echo "make demo     six live peers on loopback train together and print their accuracy"
	@echo "make sim      run the default simulation (16 peers, D-PSGD, embedded digits)"
	@echo "make churn    24 live peers on loopback, a third killed and restarted mid-run, vs the simulator"
	@echo "make results  reproduce the README's result tables (needs $(DATA))"
	@echo "make ptx      regenerate gpu/cuda/kernels.ptx from kernels.cu (needs nvcc, ptxas)"
	@echo "make gpu-test build bin/gpu.test, the CUDA tests and benchmarks for a GPU machine"

build:
	$(GO) build -o $(BIN) ./cmd/gradmesh

# -p 1: the live-mesh tests run real peers on loopback and measure bytes
# per round; packages testing side by side on two cores would skew them.
test: check
	$(GO) test -p 1 ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./...

# The tables of docs/RESULTS.md's "CPU speed": the OpenBLAS binding against
# OpenBLAS's own SGEMM (needs gcc), the training step against PyTorch (needs
# Debian's python3-torch) and the simulator on gonum and OpenBLAS.
bench-cpu: build
	$(GO) run ./internal/cpubench sgemm
	$(GO) run ./internal/cpubench models
	./scripts/bench_sim_blas.sh $(BIN) $(DATA)

demo: build
	./scripts/demo.sh $(BIN)

sim: build
	$(BIN) sim

# 24 live peers on loopback started over 10 s, a third killed and restarted
# mid-run, beside the simulator on the same settings.
churn: build
	./scripts/churn.sh $(BIN)

# One fuzz target per run: go test -fuzz takes a single target.
fuzz:
	for f in FuzzDecodeShard FuzzShardPastChecksum FuzzUnmarshalHeartbeat; do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 60s ./wire/ || exit 1; \
	done

results: build
	./scripts/results.sh $(BIN) $(DATA)

# The CUDA kernels ship as PTX so building gradmesh needs no toolkit; after
# editing gpu/cuda/kernels.cu regenerate it (a test fails until you do).
# NVCCFLAGS=-allow-unsupported-compiler helps when gcc is newer than nvcc.
ptx:
	./scripts/cuda_ptx.sh gpu/cuda/kernels.cu gpu/cuda/kernels.ptx

# A test binary that runs on a GPU machine without Go:
#   bin/gpu.test -test.run . -test.bench .   or   scripts/gpu_bench.sh
# Without cgo (purego needs none) it asks nothing of the machine's glibc
# version, so it runs on older distributions than the one it was built on.
# bin/gpu-lend.test lends a real GPU to gpu.Compute and measures the yield
# (bin/gpu-lend.test -test.run GPU -test.bench GPU -test.v); it reads NVML,
# so it needs cgo.
gpu-test:
	CGO_ENABLED=0 $(GO) test -c -o bin/gpu.test ./gpu/cuda/
	$(GO) test -c -o bin/gpu-lend.test ./gpu/

gpu-bench: gpu-test
	./scripts/gpu_bench.sh bin/gpu.test

clean:
	rm -rf bin
