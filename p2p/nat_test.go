package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRelayCandidates(t *testing.T) {
	var rc relayCandidates
	if n := len(collect(rc.source(context.Background(), 4))); n != 0 {
		t.Fatalf("before set: %d candidates, want 0", n)
	}
	a := newTestHost(t, Config{})
	b := newTestHost(t, Config{Bootstrap: a.Addrs()})
	c := newTestHost(t, Config{Bootstrap: a.Addrs()})
	// Addresses of inbound peers reach the peerstore with identify, a bit
	// after the connection.
	waitFor(t, 5*time.Second, "A to identify B and C", func() bool {
		return connected(a, b) && connected(a, c) && len(a.Peerstore().Addrs(b.ID())) > 0 && len(a.Peerstore().Addrs(c.ID())) > 0
	})
	rc.set(a)

	got := collect(rc.source(context.Background(), 10))
	ids := map[peer.ID]bool{}
	for _, ai := range got {
		if len(ai.Addrs) == 0 {
			t.Errorf("candidate %s has no addresses", ai.ID)
		}
		ids[ai.ID] = true
	}
	if !ids[b.ID()] || !ids[c.ID()] || ids[a.ID()] || len(got) != len(ids) {
		t.Errorf("candidates %v: want B and C once each, never A itself", got)
	}
	if n := len(collect(rc.source(context.Background(), 1))); n != 1 {
		t.Errorf("asked for 1 candidate, got %d", n)
	}
	if n := len(collect(rc.source(context.Background(), -1))); n != 0 {
		t.Errorf("asked for -1 candidates, got %d", n)
	}
}

func collect(ch <-chan peer.AddrInfo) []peer.AddrInfo {
	var out []peer.AddrInfo
	for ai := range ch {
		out = append(out, ai)
	}
	return out
}
