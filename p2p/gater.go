package p2p

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// allowListGater makes a private mesh: it refuses every connection, inbound
// or outbound, direct or relayed, to a peer that is not on the list.
//
// Why not a pre-shared key: libp2p's private networks (pnet, the
// libp2p.PrivateNetwork option) encrypt the raw TCP stream with the PSK and
// cannot wrap QUIC, whose handshake is TLS 1.3 inside the transport; a PSK
// host runs TCP only. gradmesh keeps QUIC (cheaper handshakes, hole punching,
// a free RTT estimate) and isolates a private mesh with this allow-list plus
// its own protocol IDs (the /gradmesh DHT prefix). Peer IDs are public keys,
// checked during the security handshake, so the list cannot be spoofed.
//
// An inbound connection's peer is unknown until the handshake completes, so
// InterceptAccept lets every connection through and InterceptSecured decides.
//
// allowListGater is immutable after construction and safe for concurrent use.
type allowListGater struct {
	allowed map[peer.ID]struct{}
}

var _ connmgr.ConnectionGater = (*allowListGater)(nil)

// newAllowListGater allows self and the listed peers.
func newAllowListGater(self peer.ID, list []peer.ID) *allowListGater {
	g := &allowListGater{allowed: make(map[peer.ID]struct{}, len(list)+1)}
	g.allowed[self] = struct{}{}
	for _, id := range list {
		g.allowed[id] = struct{}{}
	}
	return g
}

func (g *allowListGater) allows(id peer.ID) bool {
	_, ok := g.allowed[id]
	return ok
}

// InterceptPeerDial refuses to dial a peer that is not on the list.
func (g *allowListGater) InterceptPeerDial(p peer.ID) bool { return g.allows(p) }

// InterceptAddrDial refuses to dial any address of a peer not on the list.
func (g *allowListGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.allows(p) }

// InterceptAccept lets every inbound connection reach the handshake: the
// remote peer is not known yet.
func (g *allowListGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses an authenticated connection, in either direction,
// from or to a peer not on the list.
func (g *allowListGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allows(p)
}

// InterceptUpgraded allows every connection that got this far.
func (g *allowListGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
