#!/bin/sh
# On a GPU machine: check the CUDA backend, then time gradmesh's train step
# (CPU and CUDA backends, from the prebuilt test binary) and PyTorch's on
# the same models and batches, as one table. Needs no Go there:
#
#   make gpu-test                        # here: builds bin/gpu.test
#   scripts/gpu_bench.sh [bin/gpu.test]  # there
#
# Environment: BENCHTIME (Go, default 2s), SECONDS_PER_ROW (PyTorch,
# default 2), PYTHON (default python3), SKIP_TESTS=1 to time only.
set -eu
bin=${1:-bin/gpu.test}
here=$(dirname "$0")
python=${PYTHON:-python3}

if [ "${SKIP_TESTS:-0}" != 1 ]; then
	echo "# gradmesh GPU tests"
	"$bin" -test.run '^TestGPU' -test.v | grep -E '^(=== RUN|--- |\s+gpu_test|ok|PASS|FAIL)' || true
	# Timing a backend that computes the wrong thing is pointless.
	"$bin" -test.run '^TestGPU' >/dev/null || { echo "GPU tests failed; not timing" >&2; exit 1; }
fi

echo "# gradmesh (Go) BenchmarkTrainStep"
printf '%-12s %-18s %6s %10s %12s %10s\n' backend model batch ms/step samples/s GFLOP/s
"$bin" -test.run '^$' -test.bench 'BenchmarkTrainStep' -test.benchtime "${BENCHTIME:-2s}" | awk '
	/^BenchmarkTrainStep\// {
		split($1, part, "/")
		batch = part[4]; sub(/^batch/, "", batch); sub(/-[0-9]+$/, "", batch)
		for (i = 2; i < NF; i++) {
			if ($(i+1) == "ns/op") ns = $i
			if ($(i+1) == "samples/s") sps = $i
			if ($(i+1) == "GFLOP/s") gf = $i
		}
		printf "%-12s %-18s %6d %10.3f %12.0f %10.1f\n", part[2], part[3], batch, ns / 1e6, sps, gf
		if (part[2] == "cuda") cuda = 1
	}
	END { if (!cuda) print "# no cuda rows: the CUDA backend did not open; the GPU tests above say why" }'

echo
"$python" "$here/bench_torch.py" --seconds "${SECONDS_PER_ROW:-2}"
