#!/usr/bin/env bash
# Six live peers on loopback that find each other only through one bootstrap
# address and the DHT (mDNS off), train the embedded digits data together,
# print each peer's final accuracy and exit. Usage: scripts/demo.sh [BIN]
set -euo pipefail
BIN=${1:-bin/gradmesh}
PEERS=${PEERS:-6}
ROUNDS=${ROUNDS:-200}
PORT=${PORT:-4101}
DIR=${DIR:-out/demo}
[ -x "$BIN" ] || { echo "demo: $BIN not found; run make build" >&2; exit 1; }
rm -rf "$DIR" && mkdir -p "$DIR"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

id=$("$BIN" keygen "$DIR/peer0.key" | tail -n 1)
boot="/ip4/127.0.0.1/tcp/$PORT/p2p/$id"
echo "bootstrap peer: $boot"
for i in $(seq 0 $((PEERS - 1))); do
	listen="/ip4/127.0.0.1/tcp/0"
	[ "$i" -eq 0 ] && listen="/ip4/127.0.0.1/tcp/$PORT"
	"$BIN" join --key "$DIR/peer$i.key" --listen "$listen" --bootstrap "$boot" --no-mdns \
		--run demo --shard "$i/$PEERS" --rounds "$ROUNDS" --min-peers $((PEERS - 1)) --out "$DIR/peer$i" \
		>"$DIR/peer$i.out" 2>"$DIR/peer$i.log" &
	pids+=($!)
done
echo "started $PEERS peers (logs in $DIR/peer*.log); training $ROUNDS rounds..."
status=0
for i in "${!pids[@]}"; do
	if wait "${pids[$i]}"; then cat "$DIR/peer$i.out"; else echo "peer $i failed; see $DIR/peer$i.log"; status=1; fi
done
pids=()
exit $status
