package sims

import (
	"fmt"
	"slices"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// move takes one mobility step at virtual time now: new delays apply to
// messages that leave from now on, and a new overlay takes effect at the
// same round on every peer (one past the most advanced), so no peer waits
// for a neighbor that has already switched.
func (e *Experiment) move(peers []*simPeer, now float64, st *MobilityStats) error {
	up, err := e.Mobility.Move(now)
	if err != nil {
		return fmt.Errorf("sims: mobility at %.3f virtual s: %w", now, err)
	}
	st.Moves++
	if up.OneWay != nil {
		if err := e.Network.ReplaceDelaysAt(now, up.OneWay); err != nil {
			return err
		}
	}
	if up.Graph == nil || e.Algo != "dpsgd" {
		return nil
	}
	if up.Graph.N != len(peers) {
		return fmt.Errorf("sims: re-planned overlay has %d peers, want %d", up.Graph.N, len(peers))
	}
	changes := 0
	for i := range peers {
		changes += symmetricDifference(e.Graph.Adj[i], up.Graph.Adj[i])
	}
	if changes == 0 {
		return nil
	}
	from := 0
	for _, p := range peers {
		from = max(from, p.node.Round()+1)
	}
	mixing := topology.Metropolis(up.Graph)
	minDegree := len(peers)
	for i, p := range peers {
		if p.node.Done() {
			continue
		}
		self, nb := neighborsOf(i, up.Graph, mixing, up.Long)
		if err := p.node.SetNeighborsFrom(from, self, nb); err != nil {
			return fmt.Errorf("sims: peer %d refused its re-planned neighbors: %w", i, err)
		}
		minDegree = min(minDegree, len(nb))
	}
	e.Graph, e.Mixing, e.Long = up.Graph, mixing, up.Long
	st.Replans++
	st.Changes += changes / 2
	if st.Replans == 1 || minDegree < st.MinDegree {
		st.MinDegree = minDegree
	}
	return nil
}

// neighborsOf is peer i's row of the mixing matrix as node neighbors.
func neighborsOf(i int, g *topology.Graph, w *topology.Mixing, long func(i, j int) bool) (float64, []training.Neighbor) {
	var nb []training.Neighbor
	for k, j := range g.Adj[i] {
		nb = append(nb, training.Neighbor{ID: peerName(j), Weight: w.Neighbors[i][k], Long: long != nil && long(i, j)})
	}
	return w.Self[i], nb
}

// symmetricDifference counts the entries in exactly one of two sorted lists.
func symmetricDifference(a, b []int) int {
	n := 0
	for _, x := range a {
		if !slices.Contains(b, x) {
			n++
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			n++
		}
	}
	return n
}
