package gossip_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/wire"
)

// TestLivePeersPickNearNeighbors: eight live peers in two sites, 2–21 ms
// apart within a site and about 150 ms across (injected through
// PeerConfig.RTT, since loopback RTTs are all alike), choose under the
// default policy, latency+long (degree 3: two near links and one long),
// near links within their own site only, agree on every link from both
// ends, stay connected through long links, mix every round exactly over
// the links within AsyncRTT (a long link inside a site too), and mix over
// exactly the links and Metropolis weights that topology.NewView derives
// from the proposals they announce.
//
// (Which long links and which inbound near links end up active depends on
// the order in which the peers heard each other, since long links are
// sticky and full peers refuse; topology.BuildOverlay runs all peers in
// lockstep, so the test compares against the view of the live proposals
// rather than against BuildOverlay's overlay.)
func TestLivePeersPickNearNeighbors(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback")
	}
	const peers, rounds = 8, 40
	f := newMeshFixture(t, "mlp:32", peers, rounds, 3)
	site := func(i int) int { return i / 4 }
	// RTTs within a site, in ms: any two of a peer's differ by at least
	// half, well beyond the planner's 20% hysteresis.
	within := [4][4]int{{0, 2, 5, 13}, {2, 0, 3, 8}, {5, 3, 0, 21}, {13, 8, 21, 0}}
	f.latency = func(i, j int) time.Duration {
		if site(i) != site(j) {
			return 150*time.Millisecond + time.Duration(i+j)*100*time.Microsecond
		}
		return time.Duration(within[i%4][j%4]) * time.Millisecond
	}
	f.gate.set(10) // hold the mesh at round 10 while the links are checked
	live := f.startAll(peers)
	waitFor(t, "all peers to reach round 10", 30*time.Second, func() bool {
		for _, lp := range live {
			if lp.peer.Round() < 10 {
				return false
			}
		}
		return true
	})
	index := map[string]int{}
	for i, lp := range live {
		index[lp.host.ID().String()] = i
	}
	cfg := topology.SelectConfig{Degree: 3, Seed: wire.RunSeed("mesh-test")}.WithDefaults()
	var sts []gossip.Status
	// Heartbeats keep flowing while the steps are held: wait until every
	// peer has planned on the others' latest proposals.
	waitFor(t, "the links to match the announced proposals", 10*time.Second, func() bool {
		sts = sts[:0]
		for _, lp := range live {
			sts = append(sts, lp.peer.Status())
		}
		return activeMismatch(cfg, sts) == ""
	})
	adj := make([][]int, peers)
	for i, st := range sts {
		if st.Policy != string(topology.PolicyLatencyLong) {
			t.Errorf("peer %d runs policy %q, want the default latency+long", i, st.Policy)
		}
		near := 0
		for _, nb := range st.Neighbors {
			j := index[nb.PeerID]
			adj[i] = append(adj[i], j)
			// A link's mode follows its RTT, whether near or long picked it.
			if slow := f.latency(i, j) > cfg.AsyncRTT; nb.Long != slow {
				t.Errorf("peer %d mixes its link to peer %d (%v away) asynchronously=%v, want %v", i, j, f.latency(i, j), nb.Long, slow)
			}
			if nb.Long {
				continue
			}
			near++
			if want := f.latency(i, j); nb.RTTms != float64(want)/float64(time.Millisecond) {
				t.Errorf("peer %d reports %.3f ms to neighbor %d, the injected RTT is %v", i, nb.RTTms, j, want)
			}
		}
		for _, pr := range st.Proposals {
			if j := index[pr.PeerID]; !pr.Long && site(j) != site(i) {
				t.Errorf("peer %d proposes a near link to peer %d in the other site", i, j)
			}
		}
		if near == 0 {
			t.Errorf("peer %d has no near neighbor: %+v", i, st.Neighbors)
		}
		t.Logf("peer %d (site %d): links %v, proposals %+v", i, site(i), adj[i], st.Proposals)
	}
	if !connected(adj) {
		t.Errorf("the live overlay is disconnected: %v", adj)
	}
	f.gate.set(1 << 30)
	for i, lp := range live {
		<-lp.done
		if lp.err != nil {
			t.Fatalf("peer %d: %v", i, lp.err)
		}
	}
}

// activeMismatch derives every peer's active links and weights from the
// proposals the peers announce (topology.NewView) and describes the first
// peer whose live links differ, or returns "".
func activeMismatch(cfg topology.SelectConfig, sts []gossip.Status) string {
	anns := make([]topology.Announcement, len(sts))
	for i, st := range sts {
		anns[i].From, anns[i].UplinkBitsPerSec = st.PeerID, st.UplinkMbps*1e6
		for _, pr := range st.Proposals {
			anns[i].Proposals = append(anns[i].Proposals, topology.Link{ID: pr.PeerID, Long: pr.Long, Slow: pr.Slow,
				RTT: time.Duration(pr.RTTms * float64(time.Millisecond)).Round(time.Microsecond)})
		}
	}
	view := topology.NewView(cfg, anns)
	for _, st := range sts {
		want := view.Active(st.PeerID)
		if len(want) != len(st.Neighbors) {
			return fmt.Sprintf("peer %s has %d links, the view %d", st.PeerID, len(st.Neighbors), len(want))
		}
		for k, l := range want {
			nb := st.Neighbors[k]
			w := topology.MetropolisWeight(len(want), view.Degree(l.ID))
			if nb.PeerID != l.ID || nb.Long != l.Long || math.Abs(nb.Weight-w) > 1e-12 {
				return fmt.Sprintf("peer %s links to %s (long %v, weight %g), the view to %s (long %v, weight %g)",
					st.PeerID, nb.PeerID, nb.Long, nb.Weight, l.ID, l.Long, w)
			}
		}
	}
	return ""
}

// TestLivePeerTakesTheLinksItsUplinkAllows: six live peers, one of which
// states a 1.6 Mbit/s uplink, on which one copy of the model takes 49 ms:
// every peer derives that it takes 2 links (as many copies as fit in the
// 100 ms budget), the slow peer mixes over at most 2, the others over
// more, and all of them agree on every link.
func TestLivePeerTakesTheLinksItsUplinkAllows(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback")
	}
	const peers, rounds = 6, 30
	f := newMeshFixture(t, "mlp:32", peers, rounds, peers-1)
	f.uplink = map[int]float64{0: 1.6e6}
	for i := 1; i < peers; i++ {
		f.uplink[i] = 100e6
	}
	f.gate.set(5)
	live := f.startAll(peers)
	cfg := topology.SelectConfig{Seed: wire.RunSeed("mesh-test"), MessageBytes: 4*len(f.init) + wire.HeaderSize}.WithDefaults()
	var sts []gossip.Status
	waitFor(t, "the links to match the announced proposals and uplinks", 30*time.Second, func() bool {
		sts = sts[:0]
		for _, lp := range live {
			if lp.peer.Round() < 5 {
				return false
			}
			sts = append(sts, lp.peer.Status())
		}
		return activeMismatch(cfg, sts) == ""
	})
	if st := sts[0]; st.MaxLinks != 2 || len(st.Neighbors) == 0 || len(st.Neighbors) > 2 || st.UplinkMbps != 1.6 {
		t.Errorf("slow peer: max_links %d, %d neighbors, uplink %g Mbit/s; want 2, 1 or 2, 1.6", st.MaxLinks, len(st.Neighbors), st.UplinkMbps)
	}
	for i, st := range sts[1:] {
		if st.MaxLinks != 0 {
			t.Errorf("peer %d at 100 Mbit/s: max_links %d, want 0 (no cap of its own)", i+1, st.MaxLinks)
		}
		for _, c := range st.Capabilities {
			if c.PeerID == sts[0].PeerID && c.UplinkMbps != 1.6 {
				t.Errorf("peer %d heard the slow peer state %g Mbit/s, want 1.6", i+1, c.UplinkMbps)
			}
		}
	}
}

// connected reports whether an undirected graph given as adjacency lists is
// one component.
func connected(adj [][]int) bool {
	if len(adj) == 0 {
		return true
	}
	seen := make([]bool, len(adj))
	queue := []int{0}
	seen[0] = true
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				queue = append(queue, j)
			}
		}
	}
	return !slices.Contains(seen, false)
}
