package p2p

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRTT(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen string
		// Sources RTT may use. QUIC measures during its handshake; yamux
		// measures in the background once the session is up, so a call right
		// after connecting may still need a ping.
		sources []RTTSource
	}{
		{"tcp", loopTCP, []RTTSource{RTTFromYamux, RTTFromPing}},
		{"quic", loopQUIC, []RTTSource{RTTFromQUIC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestHost(t, Config{Listen: []string{tc.listen}})
			b := newTestHost(t, Config{Listen: []string{tc.listen}})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host.Addrs()}); err != nil {
				t.Fatal(err)
			}
			got, err := a.RTT(ctx, b.ID())
			if err != nil {
				t.Fatalf("RTT: %v", err)
			}
			if got.RTT <= 0 || got.RTT > time.Second {
				t.Errorf("RTT over loopback = %v, want a small positive duration", got.RTT)
			}
			if !slices.Contains(tc.sources, got.Source) {
				t.Errorf("RTT came from %q, want one of %q", got.Source, tc.sources)
			}
			if got.Source == RTTFromQUIC && a.Peerstore().LatencyEWMA(b.ID()) != 0 {
				t.Error("RTT pinged a QUIC peer instead of reading the connection's estimate")
			}
			if back, err := b.RTT(ctx, a.ID()); err != nil || back.RTT <= 0 {
				t.Errorf("RTT from the accepting side = %v, %v", back, err)
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
