package p2p

import (
	"context"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
)

// natOptions are the libp2p options that let edge peers behind NATs take part:
//
//   - NATPortMap: ask the home router for a port mapping (UPnP, NAT-PMP);
//   - EnableAutoNATv2: learn per address whether it is reachable from outside;
//   - EnableRelay + EnableAutoRelayWithPeerSource: a peer that finds itself
//     unreachable reserves a slot on relays chosen among the mesh peers it
//     knows (see relayCandidates) and advertises the relayed address;
//   - EnableHolePunching: upgrade a relayed connection to a direct one
//     (DCUtR) whenever the NATs allow it.
//
// With relayService, the peer also serves others: circuit relay v2 and the
// AutoNAT (v1) dial-back service, which peers behind NATs need to find out
// that they are unreachable at all in a mesh without public IPFS nodes.
func natOptions(relayService bool, relays autorelay.PeerSource) []libp2p.Option {
	opts := []libp2p.Option{
		libp2p.NATPortMap(),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableRelay(),
		libp2p.EnableAutoRelayWithPeerSource(relays),
		libp2p.EnableHolePunching(),
	}
	if relayService {
		opts = append(opts, libp2p.EnableRelayService(), libp2p.EnableNATService())
	}
	return opts
}

// relayCandidates offers AutoRelay the mesh peers this host knows, connected
// peers first, then the DHT's routing table. AutoRelay itself checks which of
// them actually run a relay service. It is safe for concurrent use; before
// set is called it offers nobody.
type relayCandidates struct {
	h atomic.Pointer[Host]
}

// set starts offering h's peers.
func (rc *relayCandidates) set(h *Host) { rc.h.Store(h) }

// source implements autorelay.PeerSource: it sends at most num candidates
// with known addresses and closes the channel without blocking.
func (rc *relayCandidates) source(_ context.Context, num int) <-chan peer.AddrInfo {
	num = min(max(num, 0), maxRelayCandidates)
	out := make(chan peer.AddrInfo, num)
	defer close(out)
	h := rc.h.Load()
	if h == nil || num == 0 {
		return out
	}
	seen := map[peer.ID]bool{h.ID(): true}
	offer := func(ids []peer.ID) {
		for _, id := range ids {
			if len(out) == num {
				return
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			if addrs := h.Peerstore().Addrs(id); len(addrs) > 0 {
				out <- peer.AddrInfo{ID: id, Addrs: addrs}
			}
		}
	}
	var direct []peer.ID
	for _, c := range h.Network().Conns() {
		if directConn(c) { // a peer reached through a relay cannot relay for us
			direct = append(direct, c.RemotePeer())
		}
	}
	offer(direct)
	offer(h.DHT.RoutingTable().ListPeers())
	return out
}

// directConn reports whether c is a direct (not relayed) connection.
func directConn(c network.Conn) bool { return !c.Stat().Limited }
