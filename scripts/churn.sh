#!/usr/bin/env bash
# Live peers with churn: PEERS gradmesh join processes on loopback, started
# over SPREAD seconds, find each other through one bootstrap address and the
# DHT (mDNS off) and train the embedded digits data; a third of them (peers
# 2, 5, 8, ...) are killed with SIGKILL after KILL_AT seconds and started
# again, with the same identity and shard, after DOWN seconds: they rejoin
# a run in progress and catch up. It prints each peer's final line and the mean final accuracy,
# beside gradmesh sim on the same settings.
# Usage: scripts/churn.sh [BIN]
set -euo pipefail
BIN=${1:-bin/gradmesh}
PEERS=${PEERS:-24}
ROUNDS=${ROUNDS:-600}
SPREAD=${SPREAD:-10}
KILL_AT=${KILL_AT:-40}
DOWN=${DOWN:-5}
PORT=${PORT:-4201}
DIR=${DIR:-out/churn}
[ -x "$BIN" ] || { echo "churn: $BIN not found; run make build" >&2; exit 1; }
rm -rf "$DIR" && mkdir -p "$DIR"

declare -A pids
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

id=$("$BIN" keygen "$DIR/peer0.key" | tail -n 1)
boot="/ip4/127.0.0.1/tcp/$PORT/p2p/$id"
start() { # start peer $1, its output in $DIR/peer$1.out (appended: a restart adds to it)
	local i=$1 listen="/ip4/127.0.0.1/tcp/0"
	[ "$i" -eq 0 ] && listen="/ip4/127.0.0.1/tcp/$PORT"
	"$BIN" join --key "$DIR/peer$i.key" --listen "$listen" --bootstrap "$boot" --no-mdns \
		--run churn --shard "$i/$PEERS" --rounds "$ROUNDS" --min-peers 3 --out "$DIR/peer$i" \
		>"$DIR/peer$i.out" 2>>"$DIR/peer$i.log" &
	pids[$i]=$!
}
begun=$(date +%s.%N)
for i in $(seq 0 $((PEERS - 1))); do
	start "$i"
	sleep "$(echo "$SPREAD / $PEERS" | bc -l)"
done
echo "started $PEERS peers over ${SPREAD}s (logs in $DIR/peer*.log); training $ROUNDS rounds"
sleep "$(echo "$KILL_AT - $SPREAD" | bc -l)"
killed=()
for i in $(seq 1 $((PEERS - 1))); do
	if [ $((i % 3)) -eq 2 ]; then kill -9 "${pids[$i]}" 2>/dev/null || true; killed+=("$i"); fi
done
echo "killed peers ${killed[*]} at $(echo "$(date +%s.%N) - $begun" | bc | cut -d. -f1)s"
for i in "${killed[@]}"; do { wait "${pids[$i]}"; } 2>/dev/null || true; done
sleep "$DOWN"
for i in "${killed[@]}"; do start "$i"; done
echo "restarted them ${DOWN}s later"
status=0
for i in $(seq 0 $((PEERS - 1))); do
	if ! wait "${pids[$i]}"; then echo "peer $i failed; see $DIR/peer$i.log"; status=1; fi
done
pids=()
echo "done after $(echo "$(date +%s.%N) - $begun" | bc | cut -d. -f1)s"
acc=()
for i in $(seq 0 $((PEERS - 1))); do
	line=$(tail -n 1 "$DIR/peer$i.out")
	echo "peer $i: $line"
	a=$(grep -o 'accuracy [0-9.]*' <<<"$line" | awk '{print $2}' || true)
	[ -n "$a" ] && acc+=("$a")
done
printf '%s\n' "${acc[@]}" | awk -v n="$PEERS" '{s+=$1; if(min==""||$1<min)min=$1} END {printf "live: %d of %d peers report, mean final accuracy %.4f, min %.4f\n", NR, n, s/NR, min}'
"$BIN" sim --peers "$PEERS" --rounds "$ROUNDS" --topology regular:6 --round-timeout 5s --out "$DIR/sim" | tail -n 3
exit $status
