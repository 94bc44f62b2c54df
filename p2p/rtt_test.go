package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRTT(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen string
		free   bool // measured without a ping (QUIC's estimator)
	}{
		{"tcp", loopTCP, false},
		{"quic", loopQUIC, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestHost(t, Config{Listen: []string{tc.listen}})
			b := newTestHost(t, Config{Listen: []string{tc.listen}})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host.Addrs()}); err != nil {
				t.Fatal(err)
			}
			rtt, err := a.RTT(ctx, b.ID())
			if err != nil {
				t.Fatalf("RTT: %v", err)
			}
			if rtt <= 0 || rtt > time.Second {
				t.Errorf("RTT over loopback = %v, want a small positive duration", rtt)
			}
			if tc.free && a.Peerstore().LatencyEWMA(b.ID()) != 0 {
				t.Error("RTT pinged a QUIC peer instead of reading the connection's estimate")
			}
			if rtt, err := b.RTT(ctx, a.ID()); err != nil || rtt <= 0 {
				t.Errorf("RTT from the accepting side = %v, %v", rtt, err)
			}
		})
	}
}

func TestRTTErrors(t *testing.T) {
	a := newTestHost(t, Config{Listen: []string{loopTCP}})
	b := newTestHost(t, Config{Listen: []string{loopTCP}})
	ctx := context.Background()
	if _, err := a.RTT(ctx, b.ID()); err == nil {
		t.Error("RTT to an unconnected peer succeeded")
	}
	if _, err := a.RTT(ctx, a.ID()); err == nil {
		t.Error("RTT to self succeeded")
	}
}
