#!/bin/sh
# Times the training step of gradmesh's convolutional models beside
# PyTorch's on the same modules, same batch and same number of threads, and
# prints the ratio: gradmesh's speed over PyTorch's (1 = as fast).
#
#   scripts/bench_cnn.sh [REPEATS] [MODELS] [BATCHES] [THREADS]
#   scripts/bench_cnn.sh 3 "lenet5 resnet:8,16" "32 64" "1 2"
#
# Each row runs both sides REPEATS times, alternating, and keeps each side's
# best mean step time: other processes on a shared machine only ever slow a
# run down, and alternating lets both sides see the same load. gradmesh's
# side is BenchmarkCNNTrainStep (training/bench_test.go) at -cpu THREADS,
# its layers spread over that many goroutines; PyTorch's is
# scripts/bench_torch_cnn.py with torch.set_num_threads(THREADS). Needs
# Debian's python3-torch.
set -eu
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
MODELS=${2:-"lenet5 resnet:8,16 resnet:20,16"}
BATCHES=${3:-"32 64"}
THREADS=${4:-"1 2"}
PY=${PYTHON:-/usr/bin/python3}

mkdir -p bin
go test -c -o bin/training.test ./training
echo "# $(go version | cut -d' ' -f3), PyTorch $($PY -c 'import torch; print(torch.__version__)'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %6s %8s %14s %14s %10s\n' model batch threads gradmesh_ms pytorch_ms speed
for model in $MODELS; do
	for batch in $BATCHES; do
		for threads in $THREADS; do
			best_go=1e18 best_py=1e18
			for _ in $(seq "$REPEATS"); do
				go_ms=$(bin/training.test -test.run '^$' -test.bench "^BenchmarkCNNTrainStep/$model/batch$batch\$" \
					-test.cpu "$threads" -test.benchtime 1s | awk '/ms\/step/ { for (i = 1; i < NF; i++) if ($(i+1) == "ms/step") print $i }')
				py_ms=$($PY scripts/bench_torch_cnn.py --model "$model" --batch "$batch" --threads "$threads" --repeats 1 | awk '{ print $4 }')
				best_go=$(echo "$best_go $go_ms" | awk '{ print ($2 < $1) ? $2 : $1 }')
				best_py=$(echo "$best_py $py_ms" | awk '{ print ($2 < $1) ? $2 : $1 }')
			done
			printf '%-14s %6s %8s %14.2f %14.2f %9.2fx\n' "$model" "$batch" "$threads" "$best_go" "$best_py" \
				"$(echo "$best_py $best_go" | awk '{ print $1 / $2 }')"
		done
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
