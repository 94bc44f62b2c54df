package sims

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gradmesh/gradmesh/topology"
)

// Network prices a message in three stages: it waits for and serializes on
// the sender's uplink, crosses the one-way delay from sender to receiver,
// then waits for and serializes on the receiver's downlink. Each link
// carries one message at a time, first come first served, and the network
// forwards whole messages. A message takes the delay in force when it
// leaves the sender's uplink; ReplaceDelaysAt changes the delays for later
// messages only.
type Network struct {
	// OneWay[i*N+j] is the propagation delay from peer i to peer j, seconds,
	// from virtual time 0 until the first replacement.
	OneWay []float64
	N      int
	// UplinkBitsPerSec[i] is peer i's sending rate and DownlinkBitsPerSec[i]
	// its receiving rate. A nil slice, or an entry of 0 or less, means that
	// link is unlimited and never queues.
	UplinkBitsPerSec   []float64
	DownlinkBitsPerSec []float64

	replaced []delaySet // by strictly increasing start time
}

// delaySet is a delay matrix in force from a virtual time on.
type delaySet struct {
	from   float64
	oneWay []float64
}

// UniformNetwork gives every pair the same one-way delay and every peer the
// same uplink rate (0 or less: unlimited) and an unlimited downlink.
func UniformNetwork(n int, oneWaySeconds, uplinkBitsPerSec float64) *Network {
	d := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				d[i*n+j] = oneWaySeconds
			}
		}
	}
	return &Network{OneWay: d, N: n, UplinkBitsPerSec: sameRate(n, uplinkBitsPerSec)}
}

// sameRate is a per-peer rate list with one value, or nil when unlimited.
func sameRate(n int, bitsPerSec float64) []float64 {
	if !(bitsPerSec > 0) {
		return nil
	}
	r := make([]float64, n)
	for i := range r {
		r[i] = bitsPerSec
	}
	return r
}

// MatrixNetwork places n peers on distinct nodes of a round-trip-time matrix
// (milliseconds, row = sender) and takes half the RTT as the one-way delay.
// With fewer peers than nodes, the nodes are a seeded random sample. Every
// peer gets the same uplink rate (0 or less: unlimited) and an unlimited
// downlink.
func MatrixNetwork(m *topology.LatencyMatrix, n int, uplinkBitsPerSec float64, seed uint64) (*Network, []int, error) {
	nodes, err := sampleNodes(m.N, n, seed)
	if err != nil {
		return nil, nil, err
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
	return &Network{OneWay: d, N: n, UplinkBitsPerSec: sameRate(n, uplinkBitsPerSec)}, nodes, nil
}

// ReplaceDelaysAt makes oneWay (N×N, seconds, row = sender) the delay matrix
// for messages that leave their sender's uplink at virtual time at or
// later; messages already in flight keep the delay they left with. Times
// must strictly increase from one call to the next. The network keeps
// oneWay: do not change it afterwards.
func (nw *Network) ReplaceDelaysAt(at float64, oneWay []float64) error {
	switch {
	case !(at > 0) || math.IsInf(at, 0):
		return fmt.Errorf("sims: delays replaced at virtual time %g s, want a finite time > 0", at)
	case len(nw.replaced) > 0 && at <= nw.replaced[len(nw.replaced)-1].from:
		return fmt.Errorf("sims: delays replaced at %g s, not after the previous replacement at %g s",
			at, nw.replaced[len(nw.replaced)-1].from)
	}
	if err := checkDelays(oneWay, nw.N); err != nil {
		return fmt.Errorf("sims: delays replaced at %g s: %w", at, err)
	}
	nw.replaced = append(nw.replaced, delaySet{from: at, oneWay: oneWay})
	return nil
}

// OneWayAt is the one-way delay, seconds, of a message that leaves peer
// from's uplink for peer to at virtual time at.
func (nw *Network) OneWayAt(from, to int, at float64) float64 {
	d := nw.OneWay
	// The last replacement that started at or before at.
	if k, _ := slices.BinarySearchFunc(nw.replaced, at, func(s delaySet, t float64) int {
		if s.from <= t {
			return -1
		}
		return 1
	}); k > 0 {
		d = nw.replaced[k-1].oneWay
	}
	return d[from*nw.N+to]
}

// Validate reports the first inconsistency: a delay matrix that is not N×N
// or holds a negative or non-finite delay, a rate list that does not have
// one entry per peer, or a NaN rate.
func (nw *Network) Validate() error {
	if nw.N < 0 {
		return fmt.Errorf("sims: network has %d peers", nw.N)
	}
	if err := checkDelays(nw.OneWay, nw.N); err != nil {
		return fmt.Errorf("sims: network: %w", err)
	}
	for _, r := range []struct {
		name  string
		rates []float64
	}{{"uplink", nw.UplinkBitsPerSec}, {"downlink", nw.DownlinkBitsPerSec}} {
		if r.rates == nil {
			continue
		}
		if len(r.rates) != nw.N {
			return fmt.Errorf("sims: network has %d %s rates for %d peers", len(r.rates), r.name, nw.N)
		}
		if i := slices.IndexFunc(r.rates, math.IsNaN); i >= 0 {
			return fmt.Errorf("sims: network: peer %d's %s rate is NaN", i, r.name)
		}
	}
	return nil
}

func checkDelays(oneWay []float64, n int) error {
	if len(oneWay) != n*n {
		return fmt.Errorf("delay matrix has %d entries for %d peers, want %d", len(oneWay), n, n*n)
	}
	for k, d := range oneWay {
		if !(d >= 0) || math.IsInf(d, 0) {
			return fmt.Errorf("delay from peer %d to %d is %g s, want a finite value ≥ 0", k/n, k%n, d)
		}
	}
	return nil
}

// serializeSeconds is how long a message of the given size occupies a link
// of the given rate; 0 for an unlimited link.
func serializeSeconds(rates []float64, peer, bytes int) float64 {
	if rates == nil || !(rates[peer] > 0) {
		return 0
	}
	return float64(bytes) * 8 / rates[peer]
}

// sampleNodes picks n of a latency matrix's nodes for the peers: all of them
// in order when n equals the matrix's size, else a seeded random sample in
// ascending order.
func sampleNodes(size, n int, seed uint64) ([]int, error) {
	if n > size {
		return nil, fmt.Errorf("sims: %d peers but the latency matrix has only %d nodes", n, size)
	}
	nodes := make([]int, size)
	for i := range nodes {
		nodes[i] = i
	}
	if n < size {
		rng := rand.New(rand.NewPCG(seed, 0x6e6f646573))
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		nodes = nodes[:n]
		slices.Sort(nodes)
	}
	return nodes, nil
}
