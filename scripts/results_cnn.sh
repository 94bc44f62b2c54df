#!/usr/bin/env bash
# LeNet-5 on MNIST: centralized training against D-PSGD with 16 peers on a
# Dirichlet α=0.1 split, at the same sample budget (8 epochs), for each seed.
# Usage: scripts/results_cnn.sh [BIN] [DATA_DIR] [SEEDS]
#   BIN       gradmesh binary (default bin/gradmesh, built by `make build`)
#   DATA_DIR  the shared data folder holding mnist/ (default ../shared/data)
#   SEEDS     seeds to run (default "1 2"); each seed draws its own x₀, split and batches
# Prints a markdown table; each run's outputs stay under $OUT (default out/results-cnn).
# On 2 shared cores a seed takes about 15 minutes.
set -euo pipefail
BIN=${1:-bin/gradmesh}
DATA=${2:-../shared/data}
SEEDS=${3:-"1 2"}
OUT=${OUT:-out/results-cnn}
MNIST="$DATA/mnist"
[ -x "$BIN" ] || { echo "results_cnn: $BIN not found; run make build" >&2; exit 1; }
[ -d "$MNIST" ] || { echo "results_cnn: MNIST not found at $MNIST (pass the data folder as the 2nd argument)" >&2; exit 1; }

# What every run shares: 8 passes over the data, SGD with momentum 0.9,
# weight decay 5e-4, cosine decay.
COMMON=(--dataset mnist --data-dir "$MNIST" --model lenet5 --epochs 8 --momentum 0.9 --weight-decay 5e-4 --quiet)

field() { # field FILE KEY: a number from summary.json
	sed -n "s/^  \"$2\": \([^,]*\),\{0,1\}$/\1/p" "$1"
}
pct() { awk -v a="$1" 'BEGIN { printf "%.2f", 100 * a }'; }

run() { # run NAME ARGS...: one simulation into $OUT/NAME; prints its accuracy and wall seconds
	local name=$1; shift
	"$BIN" sim "${COMMON[@]}" "$@" --out "$OUT/$name" >/dev/null
	echo "$(field "$OUT/$name/summary.json" final_test_accuracy) $(field "$OUT/$name/summary.json" wall_seconds)"
}

echo "| seed | run | peers | batch per step | lr | test acc % | Δ vs centralized (pt) | wall s |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for seed in $SEEDS; do
	read -r base wall < <(run "centralized-s$seed" --peers 1 --batch 64 --lr 0.05 --seed "$seed")
	printf '| %s | centralized SGD | 1 | 64 | 0.05 | %s | | %.0f |\n' "$seed" "$(pct "$base")" "$wall"
	read -r acc wall < <(run "dataparallel-s$seed" --algo centralized --peers 16 --batch 16 --lr 0.1 --warmup 100 --seed "$seed")
	printf '| %s | data-parallel SGD (16×16) | 1 | 256 | 0.1 | %s | %+.2f | %.0f |\n' "$seed" "$(pct "$acc")" \
		"$(awk -v a="$acc" -v b="$base" 'BEGIN { print 100 * (a - b) }')" "$wall"
	read -r acc wall < <(run "dpsgd-dirichlet0.1-s$seed" --peers 16 --partition dirichlet:0.1 --batch 16 --lr 0.1 --warmup 100 --seed "$seed")
	printf '| %s | D-PSGD, exponential graph, Dirichlet α=0.1 | 16 | 16 | 0.1 | %s | %+.2f | %.0f |\n' "$seed" "$(pct "$acc")" \
		"$(awk -v a="$acc" -v b="$base" 'BEGIN { print 100 * (a - b) }')" "$wall"
done
