package gossip

import (
	"io"
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/internal/testpeer"
	"github.com/gradmesh/gradmesh/topology"
)

// A peer with members never mixes with nobody: while no link is active it
// keeps its previous links that are still members, and without any it
// takes its accepted set, each weighted 1/(1+n).
func TestFallbackLinks(t *testing.T) {
	a, b, c, gone := testpeer.ID(t, 11), testpeer.ID(t, 12), testpeer.ID(t, 13), testpeer.ID(t, 14)
	members := map[string]peer.ID{a.String(): a, b.String(): b, c.String(): c}
	p := &Peer{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	accepted := []topology.Link{{ID: c.String()}, {ID: gone.String(), Long: true}, {ID: a.String(), Long: true}}

	p.neighbors.links = []link{{id: b, weight: 0.2}, {id: gone, long: true, weight: 0.2}}
	got := p.fallbackLinks(members, accepted)
	if len(got) != 1 || got[0] != (link{id: b, weight: 0.5}) {
		t.Errorf("with previous link b still a member: %+v, want b alone, near, weight 1/2", got)
	}

	p.neighbors.links = []link{{id: gone, weight: 0.5}}
	got = p.fallbackLinks(members, accepted)
	want := []link{{id: c, weight: 1.0 / 3}, {id: a, weight: 1.0 / 3}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("with no previous link left: %+v, want the accepted members c and a, near, weight 1/3", got)
	}

	if got := p.fallbackLinks(map[string]peer.ID{}, accepted); len(got) != 0 {
		t.Errorf("without members: %+v, want none", got)
	}
}
