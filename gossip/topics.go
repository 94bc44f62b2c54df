package gossip

import (
	"encoding/hex"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ControlTopic is the run's membership topic: every peer of the run
// subscribes, so the peers gossipsub lists on it are the run's connected
// members, and heartbeats on it carry each peer's round and degree.
func ControlTopic(run [16]byte) string {
	return "/gradmesh/v1/" + hex.EncodeToString(run[:]) + "/control"
}

// ParamTopic is the topic a peer publishes its parameter shards on; only its
// neighbors subscribe to it.
func ParamTopic(run [16]byte, sender peer.ID) string {
	return "/gradmesh/v1/" + hex.EncodeToString(run[:]) + "/params/" + sender.String()
}
