package topology

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// edgeTable snapshots an edge network's device RTTs.
func edgeTable(en *EdgeNetwork) rttTable {
	n := en.Devices()
	r := make(rttTable, n)
	for i := range r {
		r[i] = make([]time.Duration, n)
		for j := range r[i] {
			if i != j {
				r[i][j] = en.RTT(i, j)
			}
		}
	}
	return r
}

// changedEdges counts the edges in one graph and not the other.
func changedEdges(a, b *Graph) int {
	d := 0
	for i := range a.Adj {
		for _, j := range a.Adj[i] {
			if _, ok := slices.BinarySearch(b.Adj[i], j); !ok {
				d++
			}
		}
		for _, j := range b.Adj[i] {
			if _, ok := slices.BinarySearch(a.Adj[i], j); !ok {
				d++
			}
		}
	}
	return d / 2
}

// replanEdge builds the overlay of an urban 6G edge network, then lets its
// devices move for a minute at a time and re-plans from the last overlay,
// checking every intermediate state: every peer keeps an active link and
// the mesh stays connected. It returns one line per re-plan: exchanges,
// changed edges and handovers.
func replanEdge(t testing.TB, devices, minutes int) []string {
	cfg := EdgeUrban6G()
	cfg.Devices = devices
	en, err := GenerateEdge(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := peerNames(devices)
	sel := SelectConfig{Seed: 1}
	o, conv, err := BuildOverlay(ids, en.RTT, en.RTT, sel, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{fmt.Sprintf("fresh: %d exchanges, %d edges", conv.Iterations, o.Graph.Edges())}
	for minute := 1; minute <= minutes; minute++ {
		handovers, err := en.Move(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		before := o.Graph
		o, conv, err = BuildOverlayFunc(ids, en.RTT, en.RTT, sel, o, nil, func(it int, o *Overlay) {
			if d := minDegree(o.Graph); d == 0 {
				t.Errorf("minute %d, exchange %d: a peer has no active link", minute, it)
			}
			if !o.Graph.Connected() {
				t.Errorf("minute %d, exchange %d: the mesh split into %v", minute, it, componentSizes(o.Graph))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		changed := changedEdges(before, o.Graph)
		lines = append(lines, fmt.Sprintf("minute %d: %d handovers, %d exchanges, %d of %d edges changed",
			minute, len(handovers), conv.Iterations, changed, o.Graph.Edges()))
		if b, ok := t.(*testing.T); ok {
			if conv.Iterations > 12 || changed > o.Graph.Edges()/20 {
				b.Errorf("minute %d: re-planning took %d exchanges and changed %d of %d edges; want <= 12 and <= 5%%",
					minute, conv.Iterations, changed, o.Graph.Edges())
			}
		}
	}
	return lines
}

// TestOverlayReplansOnAMovingEdgeNetwork: devices of an urban 6G network
// (walkers, vehicles) move for three minutes; after each minute the mesh
// re-plans in a few exchanges, changes a few percent of its links, and on
// the way never leaves a peer alone nor splits.
func TestOverlayReplansOnAMovingEdgeNetwork(t *testing.T) {
	for _, line := range replanEdge(t, 300, 3) {
		t.Log(line)
	}
}
