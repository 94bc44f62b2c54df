package wire

import (
	"encoding/hex"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ControlTopic is the run's membership topic: every peer of the run
// subscribes, so the peers gossipsub lists on it are the run's connected
// members, and heartbeats on it carry each peer's round, degree,
// coordinate and proposed links. Its version is the heartbeat's (5): peers
// of an older version do not share it, so they are neither members nor
// penalized for heartbeats the other side cannot read.
func ControlTopic(run [16]byte) string {
	return controlPrefix + hex.EncodeToString(run[:]) + controlSuffix
}

// ParamTopic is the topic a peer publishes its parameter shards on; only its
// neighbors subscribe to it. Its version is the shard's (1).
func ParamTopic(run [16]byte, sender peer.ID) string {
	return "/gradmesh/v1/" + hex.EncodeToString(run[:]) + "/params/" + sender.String()
}

// LongTopic is the topic a peer publishes its vector on for long-link
// exchanges, only on rounds r with r % LongPeriod == 0; only its long
// neighbors subscribe to it, so a long link costs one vector every
// LongPeriod rounds rather than every round. Shards as on ParamTopic.
func LongTopic(run [16]byte, sender peer.ID) string {
	return "/gradmesh/v1/" + hex.EncodeToString(run[:]) + "/long/" + sender.String()
}

// IsControlTopic reports whether name is a run's control topic of this
// heartbeat version: the one topic whose messages gossipsub relays.
func IsControlTopic(name string) bool {
	return len(name) == len(controlPrefix)+32+len(controlSuffix) &&
		strings.HasPrefix(name, controlPrefix) && strings.HasSuffix(name, controlSuffix)
}

// The control topic's name is controlPrefix, the run ID in hex, controlSuffix.
const controlPrefix, controlSuffix = "/gradmesh/v5/", "/control"
