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

// RTTSource says where a round-trip time came from.
type RTTSource string

// Sources of RTT, cheapest first.
const (
	// RTTFromQUIC is a QUIC connection's smoothed RTT (quic-go's RFC 9002
	// estimator, fed by every acknowledged packet; no extra traffic).
	RTTFromQUIC RTTSource = "quic"
	// RTTFromYamux is a yamux session's RTT (yamux pings each TCP
	// connection when it opens and at every keep-alive; no extra traffic).
	RTTFromYamux RTTSource = "yamux"
	// RTTFromPing is one libp2p ping (/ipfs/ping/1.0.0): two small packets.
	RTTFromPing RTTSource = "ping"
)

// RTTSample is one round-trip-time measurement and where it came from.
type RTTSample struct {
	RTT    time.Duration
	Source RTTSource
}

// RTT measures the round-trip time to peer id, connecting to it first when
// not connected (from the peerstore's addresses, or the host's peer
// routing), from the cheapest source that has a measurement: a QUIC connection's smoothed RTT,
// then a yamux session's RTT, and otherwise one libp2p ping of at most 2 s
// (whose result also feeds the peerstore's latency EWMA). The peerstore's
// EWMA itself is never returned: only ping feeds it, so without a fresh
// ping it would repeat one old sample forever.
//
// It fails if id cannot be reached or the ping fails. It is safe for
// concurrent use and blocks for at most ctx, or the dial and the ping.
func (h *Host) RTT(ctx context.Context, id peer.ID) (RTTSample, error) {
	if id == h.ID() {
		return RTTSample{}, fmt.Errorf("p2p: RTT: %s is this host", id)
	}
	conns := h.Network().ConnsToPeer(id)
	if len(conns) == 0 {
		if err := h.Connect(ctx, peer.AddrInfo{ID: id}); err != nil {
			return RTTSample{}, fmt.Errorf("p2p: RTT to %s: %w", id, err)
		}
		conns = h.Network().ConnsToPeer(id)
	}
	if len(conns) == 0 {
		return RTTSample{}, fmt.Errorf("p2p: RTT to %s: not connected", id)
	}
	for _, c := range conns {
		var qc *quic.Conn
		if c.As(&qc) && qc != nil {
			if rtt := qc.ConnectionStats().SmoothedRTT; rtt > 0 {
				return RTTSample{RTT: rtt, Source: RTTFromQUIC}, nil
			}
		}
	}
	for _, c := range conns {
		var ys *yamux.Session
		if c.As(&ys) && ys != nil {
			if rtt := ys.RTT(); rtt > 0 {
				return RTTSample{RTT: rtt, Source: RTTFromYamux}, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel() // ping.Ping pings until its context ends
	select {
	case res, ok := <-ping.Ping(ctx, h.Host, id):
		switch {
		case !ok:
			return RTTSample{}, fmt.Errorf("p2p: RTT to %s: ping ended without a result", id)
		case res.Error != nil:
			return RTTSample{}, fmt.Errorf("p2p: RTT to %s: ping: %w", id, res.Error)
		}
		return RTTSample{RTT: res.RTT, Source: RTTFromPing}, nil
	case <-ctx.Done():
		return RTTSample{}, fmt.Errorf("p2p: RTT to %s: ping: %w", id, ctx.Err())
	}
}
