package p2p

import (
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// startMDNS announces h on the LAN under the "gradmesh" service name and
// connects to every gradmesh peer it hears of. mDNS is a convenience: if it
// cannot start (no multicast interface, say), that is logged and the host
// runs without it.
func (h *Host) startMDNS() {
	svc := mdns.NewMdnsService(h.Host, mdnsService, mdnsNotifee{h})
	if err := svc.Start(); err != nil {
		h.log.Warn("p2p: mDNS discovery unavailable", "err", err)
		svc.Close()
		return
	}
	h.mdns = svc
}

// mdnsNotifee connects to the peers mDNS finds.
type mdnsNotifee struct{ h *Host }

// HandlePeerFound dials ai in the background (at most dialTimeout); a
// failure is logged at debug level. Called from mDNS's resolver goroutine.
func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := n.h
	if ai.ID == h.ID() || !h.enter() {
		return
	}
	go func() {
		defer h.wg.Done()
		if err := h.connect(h.ctx, ai); err != nil {
			h.log.Debug("p2p: mDNS peer unreachable", "peer", ai.ID, "err", err)
			return
		}
		h.log.Debug("p2p: connected to mDNS peer", "peer", ai.ID)
	}()
}
