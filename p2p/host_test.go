package p2p

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func TestAddrsIncludePeerID(t *testing.T) {
	h := newTestHost(t, Config{})
	addrs := h.Addrs()
	if len(addrs) < 2 {
		t.Fatalf("Addrs() = %v, want a TCP and a QUIC address", addrs)
	}
	suffix := "/p2p/" + h.ID().String()
	for _, a := range addrs {
		if !strings.HasSuffix(a, suffix) {
			t.Errorf("address %s does not end in %s", a, suffix)
		}
		ai, err := peer.AddrInfoFromString(a)
		if err != nil || ai.ID != h.ID() {
			t.Errorf("address %s: parsed peer %v, err %v", a, ai.ID, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	key := newKey(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{}, "Key"},
		{"bad listen", Config{Key: key, Listen: []string{"not-a-multiaddr"}}, "not-a-multiaddr"},
		{"bootstrap without peer ID", Config{Key: key, Bootstrap: []string{"/ip4/127.0.0.1/tcp/4001"}}, "/p2p/"},
		{"bad bootstrap", Config{Key: key, Bootstrap: []string{"bogus"}}, "bogus"},
		{"watermarks", Config{Key: key, ConnLow: 10, ConnHigh: 5}, "ConnLow"},
		{"negative watermark", Config{Key: key, ConnLow: -1}, "negative"},
		{"unsupported listen transport", Config{Key: key, Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1/webtransport"}}, "listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = testLogger()
			h, err := New(context.Background(), tc.cfg)
			if err == nil {
				h.Close()
				t.Fatal("New accepted the config")
			}
			if !strings.HasPrefix(err.Error(), "p2p: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want the p2p: prefix and %q", err, tc.want)
			}
		})
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	h, err := New(context.Background(), Config{Key: newKey(t), Listen: []string{loopTCP}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// JoinRun on a closed host returns at once.
	done := make(chan struct{})
	go func() {
		h.JoinRun(context.Background(), "closed", time.Second)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("JoinRun on a closed host did not return")
	}
}

// TestDHTServerMode checks that every peer serves the gradmesh DHT even on
// loopback, where AutoNAT would leave an auto-mode peer a client forever: a
// peer that knows only A finds C's addresses through A.
func TestDHTServerMode(t *testing.T) {
	a := newTestHost(t, Config{})
	boot := a.Addrs()
	c := newTestHost(t, Config{Bootstrap: boot})
	if a.DHT.Mode() != dht.ModeServer || c.DHT.Mode() != dht.ModeServer {
		t.Fatalf("DHT modes %v, %v; want server", a.DHT.Mode(), c.DHT.Mode())
	}
	protos := a.Mux().Protocols()
	if !slices.Contains(protos, protocol.ID("/gradmesh/kad/1.0.0")) || slices.Contains(protos, protocol.ID("/ipfs/kad/1.0.0")) {
		t.Fatalf("protocols %v: want /gradmesh/kad/1.0.0 and not /ipfs/kad/1.0.0", protos)
	}
	waitFor(t, 5*time.Second, "C in A's routing table", func() bool { return a.DHT.RoutingTable().Find(c.ID()) != "" })

	b := newTestHost(t, Config{Bootstrap: boot})
	if got := b.DHT.RoutingTable().Find(a.ID()); got == "" {
		waitFor(t, 5*time.Second, "A in B's routing table", func() bool { return b.DHT.RoutingTable().Find(a.ID()) != "" })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ai, err := b.DHT.FindPeer(ctx, c.ID())
	if err != nil {
		t.Fatalf("B.FindPeer(C): %v", err)
	}
	if len(ai.Addrs) == 0 {
		t.Fatal("B.FindPeer(C) returned no addresses")
	}
}

func TestConfigDefaults(t *testing.T) {
	key := newKey(t)
	for _, tc := range []struct {
		low, high         int
		wantLow, wantHigh int
	}{
		{0, 0, DefaultConnLow, DefaultConnHigh},
		{10, 0, 10, DefaultConnHigh},
		{0, 20, 20, 20},
		{0, 100, DefaultConnLow, 100},
		{300, 0, 300, 300},
	} {
		cfg, err := Config{Key: key, ConnLow: tc.low, ConnHigh: tc.high}.withDefaults()
		if err != nil {
			t.Errorf("ConnLow %d, ConnHigh %d: %v", tc.low, tc.high, err)
			continue
		}
		if cfg.ConnLow != tc.wantLow || cfg.ConnHigh != tc.wantHigh {
			t.Errorf("ConnLow %d, ConnHigh %d → %d, %d; want %d, %d", tc.low, tc.high, cfg.ConnLow, cfg.ConnHigh, tc.wantLow, tc.wantHigh)
		}
		if !slices.Equal(cfg.Listen, DefaultListen) || cfg.Logger == nil {
			t.Errorf("Listen %v, Logger %v: want the defaults", cfg.Listen, cfg.Logger)
		}
	}
}

// TestMDNSStartsAndStops: a host with mDNS on starts and closes cleanly
// (whether multicast works here or not; finding LAN peers is not tested).
func TestMDNSStartsAndStops(t *testing.T) {
	newTestHost(t, Config{MDNS: true})
}
