#!/usr/bin/env bash
# Reproduces the README's latency-aware neighbor tables: time to a target
# accuracy under each neighbor policy, on PlanetLab RTTs and on generated
# edge networks. Usage: scripts/latency.sh [BIN] [DATA_DIR]
#   BIN       gradmesh binary (default bin/gradmesh, built by `make build`)
#   DATA_DIR  the shared data folder holding rtt/ and mnist/ (default ../shared/data)
# Outputs stay under $OUT (default out/latency); MNIST_SEEDS (default
# "1 2 3 4 5 6") sets the seeds of the PlanetLab MNIST comparison.
set -euo pipefail
BIN=${1:-bin/gradmesh}
DATA=${2:-../shared/data}
OUT=${OUT:-out/latency}
MNIST_SEEDS=${MNIST_SEEDS:-1 2 3 4 5 6}
mkdir -p "$OUT"
RTT="$DATA/rtt/planetlab-490.tsv"
[ -x "$BIN" ] || { echo "latency: $BIN not found; run make build" >&2; exit 1; }
[ -f "$RTT" ] || { echo "latency: PlanetLab matrix not found at $RTT (pass the data folder as the 2nd argument)" >&2; exit 1; }

field() { sed -n "s/^  \"$2\": \([^,]*\),\{0,1\}$/\1/p" "$1"; }
ofield() { # a value inside the summary's "overlay" object
	sed -n '/^  "overlay": {/,/^  }/p' "$1" | sed -n "s/^    \"$2\": \"\{0,1\}\([^,\"]*\)\"\{0,1\},\{0,1\}$/\1/p"
}

# row NAME TARGET ARGS...: one simulation, one table row; prints the time to target.
row() {
	local name=$1 target=$2; shift 2
	"$BIN" sim --quiet --target-accuracy "$target" "$@" --out "$OUT/$name" >/dev/null 2>"$OUT/$name.log" ||
		{ cat "$OUT/$name.log" >&2; exit 1; }
	local s="$OUT/$name/summary.json" to
	to=$(field "$s" virtual_seconds_to_target)
	[ "$to" = null ] && to="not reached" || to=$(printf '%.2f' "$to")
	printf '| %s | %s | %.3f | %.2f | %.1f | %d | %.2f | %s | %.2f |\n' "$name" "$(ofield "$s" policy)" \
		"$(field "$s" spectral_gap)" "$(ofield "$s" mean_degree)" "$(ofield "$s" mean_link_rtt_ms)" \
		"$(ofield "$s" async_links)" "$(field "$s" virtual_seconds)" "$to" \
		"$(awk -v a="$(field "$s" final_test_accuracy)" 'BEGIN { printf "%.2f", 100 * a }')"
}

# compare PREFIX SEEDS: latency+long against random on each seed, the
# acceptance terms: time-to-target ratio and final accuracy difference.
compare() {
	local prefix=$1 seed r l
	echo "| seed | latency+long ÷ random, time to target | final accuracy difference, pt |"
	echo "|---:|---:|---:|"
	for seed in $2; do
		r="$OUT/$prefix-random-seed$seed/summary.json" l="$OUT/$prefix-latency+long-seed$seed/summary.json"
		awk -v s="$seed" -v rt="$(field "$r" virtual_seconds_to_target)" -v lt="$(field "$l" virtual_seconds_to_target)" \
			-v ra="$(field "$r" final_test_accuracy)" -v la="$(field "$l" final_test_accuracy)" 'BEGIN {
				ratio = (rt == "null" || lt == "null") ? "not reached" : sprintf("%.2f", lt / rt)
				printf "| %s | %s | %+.2f |\n", s, ratio, 100 * (la - ra)
			}'
	done
}

header() {
	echo "| run | policy | spectral gap | mean degree | mean link RTT ms | async links | virtual s | s to target | final acc % |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
}

echo "### PlanetLab, 64 peers, digits, MLP 64, 300 rounds, degree 4, target 93 %"
echo
header
for seed in 1 2 3; do
	for pol in random latency+long; do
		row "planetlab-$pol-seed$seed" 0.93 --peers 64 --seed "$seed" --latency-matrix "$RTT" --neighbors "$pol" \
			--rounds 300 --eval-every 5
	done
done
echo
compare planetlab "1 2 3"
if [ -d "$DATA/mnist" ]; then
	echo
	echo "### PlanetLab, 64 peers, MNIST, MLP 64, 3 epochs, degree 4, target 94 %"
	echo
	header
	for seed in $MNIST_SEEDS; do
		for pol in random latency+long; do
			row "planetlab-mnist-$pol-seed$seed" 0.94 --peers 64 --seed "$seed" --dataset mnist --data-dir "$DATA/mnist" \
				--latency-matrix "$RTT" --neighbors "$pol" --epochs 3 --eval-every 5 --eval-samples 2000
		done
	done
	echo
	compare planetlab-mnist "$MNIST_SEEDS"
fi
# edge PRESET NAME TARGET ARGS...: one edge-network row per policy.
edge() {
	local preset=$1 name=$2 target=$3 pol
	shift 3
	for pol in random latency+long; do
		row "$name-$preset-$pol" "$target" --peers 200 --topology edge --edge-preset "$preset" --neighbors "$pol" "$@"
	done
}

for preset in rural-5g urban-6g; do
	if [ -d "$DATA/mnist" ]; then
		echo
		echo "### Edge network $preset, 200 devices, MNIST, MLP 64, 5 epochs, degree 4, target 92 %"
		echo
		header
		edge "$preset" edge-mnist 0.92 --dataset mnist --data-dir "$DATA/mnist" --epochs 5 --eval-every 10 --eval-samples 2000
	fi
	echo
	echo "### Edge network $preset, 200 devices, digits, MLP 64, 300 rounds, degree 4, target 93 %"
	echo
	header
	edge "$preset" edge 0.93 --rounds 300 --eval-every 5
done
