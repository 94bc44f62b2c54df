package sims

import "github.com/gradmesh/gradmesh/topology"

// NetworkFromEdge models a generated edge network with one simulated peer
// per device: half of each pair's round-trip time as the one-way delay, and
// each device's own uplink and downlink rates. For mobility, move en and
// pass EdgeOneWay(en) to ReplaceDelaysAt.
func NetworkFromEdge(en *topology.EdgeNetwork) *Network {
	n := en.Devices()
	nw := &Network{
		OneWay: EdgeOneWay(en), N: n,
		UplinkBitsPerSec: make([]float64, n), DownlinkBitsPerSec: make([]float64, n),
	}
	for i := range n {
		nw.UplinkBitsPerSec[i] = en.UplinkBitsPerSec(i)
		nw.DownlinkBitsPerSec[i] = en.DownlinkBitsPerSec(i)
	}
	return nw
}

// EdgeOneWay returns the one-way delays between en's devices as they stand
// now, seconds, row = sender: half of each round-trip time.
func EdgeOneWay(en *topology.EdgeNetwork) []float64 {
	d := en.Matrix().MS // a fresh matrix; converted in place to spare a second N² slice
	for k, ms := range d {
		d[k] = ms / 2 / 1000
	}
	return d
}
