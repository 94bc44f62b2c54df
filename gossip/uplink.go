package gossip

import "math"

// maxUplinkBitsPerSec is the fastest uplink a heartbeat can state: its
// field is a u32 in kbit/s.
const maxUplinkBitsPerSec = math.MaxUint32 * 1000

// uplinkKbps is an uplink rate as a heartbeat states it: whole kbit/s,
// at least 1 for any stated rate, 0 for none.
func uplinkKbps(bitsPerSec float64) uint32 {
	if !(bitsPerSec > 0) {
		return 0
	}
	return uint32(min(max(math.Round(bitsPerSec/1000), 1), math.MaxUint32))
}

// modelWireBytes is what a peer sends one neighbor per round: its model
// of n values in shards of at most shardBytes, each with its header.
func modelWireBytes(n, shardBytes int) int {
	per := ShardValues(shardBytes)
	shards := (n + per - 1) / per
	return 4*n + shards*HeaderSize
}
