package p2p

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-yamux/v5"
	"github.com/quic-go/quic-go"
)

// RTT returns the round-trip time to the connected peer id, from the
// cheapest source that has a measurement:
//
//  1. a QUIC connection's smoothed RTT (quic-go's RFC 9002 estimator, fed by
//     every acknowledged packet; no extra traffic);
//  2. a yamux session's RTT (yamux pings each TCP connection when it opens
//     and every 30 s; no extra traffic);
//  3. the peerstore's latency EWMA, which only libp2p ping feeds;
//  4. one libp2p ping, at most 2 s, whose result also feeds the EWMA.
//
// It fails if h is not connected to id or the ping fails. It is safe for
// concurrent use and blocks for at most the ping.
func (h *Host) RTT(ctx context.Context, id peer.ID) (time.Duration, error) {
	if id == h.ID() {
		return 0, fmt.Errorf("p2p: RTT: %s is this host", id)
	}
	conns := h.Network().ConnsToPeer(id)
	if len(conns) == 0 {
		return 0, fmt.Errorf("p2p: RTT to %s: not connected", id)
	}
	for _, c := range conns {
		var qc *quic.Conn
		if c.As(&qc) && qc != nil {
			if rtt := qc.ConnectionStats().SmoothedRTT; rtt > 0 {
				return rtt, nil
			}
		}
	}
	for _, c := range conns {
		var ys *yamux.Session
		if c.As(&ys) && ys != nil {
			if rtt := ys.RTT(); rtt > 0 {
				return rtt, nil
			}
		}
	}
	if rtt := h.Peerstore().LatencyEWMA(id); rtt > 0 {
		return rtt, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel() // ping.Ping pings until its context ends
	select {
	case res, ok := <-ping.Ping(ctx, h.Host, id):
		switch {
		case !ok:
			return 0, fmt.Errorf("p2p: RTT to %s: ping ended without a result", id)
		case res.Error != nil:
			return 0, fmt.Errorf("p2p: RTT to %s: ping: %w", id, res.Error)
		}
		return res.RTT, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("p2p: RTT to %s: ping: %w", id, ctx.Err())
	}
}
