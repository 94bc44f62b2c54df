package sims

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gradmesh/gradmesh/topology"
)

// Network prices a message: it waits for the sender's uplink, which sends
// one message at a time, then crosses the link's one-way delay.
type Network struct {
	// OneWay[i*N+j] is the propagation delay from peer i to peer j, seconds.
	OneWay []float64
	N      int
	// UplinkBitsPerSec is each peer's sending rate; 0 or less means unlimited.
	UplinkBitsPerSec float64
}

// UniformNetwork gives every pair the same one-way delay.
func UniformNetwork(n int, oneWaySeconds, uplinkBitsPerSec float64) *Network {
	d := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				d[i*n+j] = oneWaySeconds
			}
		}
	}
	return &Network{OneWay: d, N: n, UplinkBitsPerSec: uplinkBitsPerSec}
}

// MatrixNetwork places n peers on distinct nodes of a round-trip-time matrix
// (milliseconds, row = sender) and takes half the RTT as the one-way delay.
// With fewer peers than nodes, the nodes are a seeded random sample.
func MatrixNetwork(m *topology.LatencyMatrix, n int, uplinkBitsPerSec float64, seed uint64) (*Network, []int, error) {
	if n > m.N {
		return nil, nil, fmt.Errorf("sims: %d peers but the latency matrix has only %d nodes", n, m.N)
	}
	nodes := make([]int, m.N)
	for i := range nodes {
		nodes[i] = i
	}
	if n < m.N {
		rng := rand.New(rand.NewPCG(seed, 0x6e6f646573))
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		nodes = nodes[:n]
		slices.Sort(nodes)
	}
	d := make([]float64, n*n)
	for i, a := range nodes {
		for j, b := range nodes {
			if i == j {
				continue
			}
			rtt := m.At(a, b)
			if rtt != rtt || rtt < 0 { // NaN: unknown after filling means no data at all
				return nil, nil, fmt.Errorf("sims: latency matrix has no RTT from node %d to %d", a, b)
			}
			d[i*n+j] = rtt / 2 / 1000
		}
	}
	return &Network{OneWay: d, N: n, UplinkBitsPerSec: uplinkBitsPerSec}, nodes, nil
}

// transmitSeconds is how long a message of the given size occupies an uplink.
func (nw *Network) transmitSeconds(bytes int) float64 {
	if nw.UplinkBitsPerSec <= 0 {
		return 0
	}
	return float64(bytes) * 8 / nw.UplinkBitsPerSec
}
