package p2p

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// TestAllowList: G admits only L1 and L2. An outsider O can neither dial G
// nor be dialed by it, over TCP or over QUIC; L1 can dial G and G can dial
// L2. (Fresh hosts per case: libp2p services such as the DHT redial a peer
// right after a disconnect, so disconnecting is no way to reset a pair.)
func TestAllowList(t *testing.T) {
	for _, transport := range []string{"tcp", "quic-v1"} {
		t.Run(transport, func(t *testing.T) {
			l1 := newTestHost(t, Config{})
			l2 := newTestHost(t, Config{})
			g := newTestHost(t, Config{AllowList: []peer.ID{l1.ID(), l2.ID()}})
			o := newTestHost(t, Config{})

			if err := dialOver(o, g, transport); err == nil {
				// The dialer's side of the handshake may finish before G
				// refuses; the connection must not survive it.
				waitFor(t, 5*time.Second, "G to drop the outsider", func() bool { return !connected(o, g) })
			}
			if connected(g, o) {
				t.Error("G is connected to the outsider")
			}
			if err := dialOver(g, o, transport); err == nil {
				t.Error("G dialed the outsider")
			}
			if err := dialOver(l1, g, transport); err != nil {
				t.Fatalf("listed peer L1 could not connect to G: %v", err)
			}
			waitFor(t, 5*time.Second, "G to see L1's connection", func() bool { return connected(g, l1) })
			if err := dialOver(g, l2, transport); err != nil {
				t.Fatalf("G could not dial listed peer L2: %v", err)
			}
			if connected(g, o) || connected(o, g) {
				t.Error("the outsider got connected to G")
			}
		})
	}
}

// dialOver connects a to b using only b's addresses of one transport ("tcp"
// or "quic-v1"), forgetting any other address a knew for b.
func dialOver(a, b *Host, transport string) error {
	var addrs []ma.Multiaddr
	for _, x := range b.Host.Addrs() {
		quic := strings.Contains(x.String(), "/quic-v1")
		if quic == (transport == "quic-v1") {
			addrs = append(addrs, x)
		}
	}
	a.Peerstore().ClearAddrs(b.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: addrs})
}
