#!/usr/bin/env bash
# Reproduces the README's result tables. Usage: scripts/results.sh [BIN] [DATA_DIR]
#   BIN       gradmesh binary (default bin/gradmesh, built by `make build`)
#   DATA_DIR  the shared data folder holding mnist/ (default ../shared/data)
# Prints markdown tables; each run's outputs stay under $OUT (default out/results).
set -euo pipefail
BIN=${1:-bin/gradmesh}
DATA=${2:-../shared/data}
OUT=${OUT:-out/results}
MNIST="$DATA/mnist"
[ -x "$BIN" ] || { echo "results: $BIN not found; run make build" >&2; exit 1; }
[ -d "$MNIST" ] || { echo "results: MNIST not found at $MNIST (pass the data folder as the 2nd argument)" >&2; exit 1; }

# The settings every MNIST run shares: the issue's 16 peers, MLP 784-128-10, 3 epochs.
COMMON=(--dataset mnist --data-dir "$MNIST" --model mlp:128 --epochs 3 --peers 16 --batch 32 --lr 0.1 --momentum 0.9 --quiet)

field() { # field FILE KEY: a number from summary.json
	sed -n "s/^  \"$2\": \([^,]*\),\{0,1\}$/\1/p" "$1"
}
pct() { awk -v a="$1" 'BEGIN { printf "%.2f", 100 * a }'; }

run() { # run NAME ARGS...: one simulation into $OUT/NAME
	local name=$1; shift
	"$BIN" sim "${COMMON[@]}" "$@" --out "$OUT/$name" >/dev/null
	echo "$OUT/$name/summary.json"
}

echo "### MNIST, 16 peers, MLP 784-128-10, 3 epochs"
echo
base=$(run centralized --algo centralized)
b=$(field "$base" final_test_accuracy)
echo "Centralized baseline (minibatch SGD, batch 16×32, same samples): **$(pct "$b") %**"
echo
echo "| topology | partition | spectral gap | mean acc % | min acc % | Δ vs centralized (pt) | consensus dist. | MB sent / peer | wall s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for topo in ring exponential complete; do
	for part in iid dirichlet:1 dirichlet:0.1; do
		s=$(run "dpsgd-$topo-${part/:/}" --algo dpsgd --topology "$topo" --partition "$part")
		a=$(field "$s" final_test_accuracy)
		printf '| %s | %s | %.4f | %s | %s | %+.2f | %.2g | %.1f | %.1f |\n' "$topo" "$part" \
			"$(field "$s" spectral_gap)" "$(pct "$a")" "$(pct "$(field "$s" final_test_accuracy_min)")" \
			"$(awk -v a="$a" -v b="$b" 'BEGIN { print 100 * (a - b) }')" "$(field "$s" final_consensus_distance)" \
			"$(awk -v x="$(field "$s" bytes_sent_per_peer)" 'BEGIN { print x / 1e6 }')" "$(field "$s" wall_seconds)"
	done
done

echo
echo "### Ablation: exponential graph, Dirichlet α=0.1 (same settings)"
echo
echo "| --mix | --weighting | mean acc % | Δ vs centralized (pt) |"
echo "|---|---|---:|---:|"
for mix in cta atc; do
	for w in uniform samples; do
		s=$(run "ablation-$mix-$w" --algo dpsgd --topology exponential --partition dirichlet:0.1 --mix "$mix" --weighting "$w")
		a=$(field "$s" final_test_accuracy)
		printf '| %s | %s | %s | %+.2f |\n' "$mix" "$w" "$(pct "$a")" "$(awk -v a="$a" -v b="$b" 'BEGIN { print 100 * (a - b) }')"
	done
done
