#!/usr/bin/env bash
# Times one `gradmesh sim` workload on gonum and on OpenBLAS, alternating,
# and prints each run's wall seconds, the best of each and their ratio: the
# simulator, with its worker pool, should speed up as the training step
# does (internal/cpubench models).
#
# Usage: scripts/bench_sim_blas.sh [BIN] [DATA_DIR] [REPEATS] [-- SIM FLAGS...]
#   BIN       gradmesh binary (default bin/gradmesh, built by `make build`)
#   DATA_DIR  the shared data folder holding mnist/ (default ../shared/data)
#   REPEATS   runs per BLAS (default 2); the best of them is compared, the
#             one least disturbed by other work on the machine
# The default workload: MNIST, mlp:256,128, 16 peers, D-PSGD, half an epoch.
set -euo pipefail
POS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do POS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
BIN=${POS[0]:-bin/gradmesh}
DATA=${POS[1]:-../shared/data}
REPEATS=${POS[2]:-2}
[ -x "$BIN" ] || { echo "bench_sim_blas: $BIN not found; run make build" >&2; exit 1; }
if [ $# -gt 0 ]; then
	FLAGS=("$@")
else
	[ -d "$DATA/mnist" ] || { echo "bench_sim_blas: MNIST not found at $DATA/mnist" >&2; exit 1; }
	FLAGS=(--dataset mnist --data-dir "$DATA/mnist" --model mlp:256,128 --peers 16 --epochs 0.5 --device cpu --quiet)
fi

wall() { # wall BLAS: one run's wall seconds, from the summary line
	GRADMESH_BLAS=$1 "$BIN" sim "${FLAGS[@]}" 2>/dev/null | sed -n 's/.* · \([0-9.]*\) wall s$/\1/p'
}

echo "# gradmesh sim ${FLAGS[*]}"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(GRADMESH_BLAS=openblas "$BIN" sim --peers 2 --epochs 0.01 --device cpu --quiet 2>&1 >/dev/null | sed -n 's/.*msg="blas: \(.*\)"$/\1/p')"
best_gonum="" best_openblas=""
for i in $(seq "$REPEATS"); do
	for blas in gonum openblas; do
		s=$(wall "$blas")
		[ -n "$s" ] || { echo "bench_sim_blas: no wall time from the $blas run" >&2; exit 1; }
		echo "run $i  $blas  $s s"
		eval "best=\$best_$blas"
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			eval "best_$blas=$s"
		fi
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v g="$best_gonum" -v o="$best_openblas" 'BEGIN {
	printf "best: gonum %.2f s, OpenBLAS %.2f s: %.2f× faster on OpenBLAS\n", g, o, g / o }'
