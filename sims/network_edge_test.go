package sims

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/topology"
)

func TestNetworkFromEdge(t *testing.T) {
	c := topology.EdgeUrban6G()
	c.Devices = 60
	en, err := topology.GenerateEdge(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	nw := NetworkFromEdge(en)
	if err := nw.Validate(); err != nil {
		t.Fatal(err)
	}
	if nw.N != 60 {
		t.Fatalf("network has %d peers for 60 devices", nw.N)
	}
	for i := range 60 {
		if nw.UplinkBitsPerSec[i] != en.UplinkBitsPerSec(i) || nw.DownlinkBitsPerSec[i] != en.DownlinkBitsPerSec(i) {
			t.Fatalf("peer %d rates %g/%g, device has %g/%g", i, nw.UplinkBitsPerSec[i], nw.DownlinkBitsPerSec[i],
				en.UplinkBitsPerSec(i), en.DownlinkBitsPerSec(i))
		}
		for j := range 60 {
			if want := en.RTT(i, j).Seconds() / 2; math.Abs(nw.OneWay[i*60+j]-want) > 1e-9 {
				t.Fatalf("one-way %d→%d = %g s, want half the RTT %g s", i, j, nw.OneWay[i*60+j], want)
			}
		}
	}
	// Mobility: move until someone changes site, then the new delays differ
	// for that device and take over at the chosen time.
	var hs []topology.EdgeHandover
	for len(hs) == 0 {
		if hs, err = en.Move(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	moved := EdgeOneWay(en)
	if err := nw.ReplaceDelaysAt(10, moved); err != nil {
		t.Fatal(err)
	}
	i := hs[0].Device
	j := (i + 1) % 60
	if nw.OneWayAt(i, j, 9) == nw.OneWayAt(i, j, 10) {
		t.Fatalf("device %d changed site %d→%d but its delay to %d stayed %g s", i, hs[0].From, hs[0].To, j, nw.OneWayAt(i, j, 9))
	}
}

// TestSimulationOnAnEdgeNetwork runs D-PSGD end to end on an edge network
// whose devices have their own rates; it must finish and take longer than
// the same run with unlimited links.
func TestSimulationOnAnEdgeNetwork(t *testing.T) {
	c := topology.EdgeRural5G()
	c.Devices = 8
	en, err := topology.GenerateEdge(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := smallSpec()
	s.Topology, s.Rounds = "ring", 5
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	e.Network = NetworkFromEdge(en)
	limited, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.Network.UplinkBitsPerSec, e.Network.DownlinkBitsPerSec = nil, nil
	free, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !(limited.VirtualSeconds > free.VirtualSeconds) {
		t.Fatalf("edge rates: %g virtual s, unlimited links: %g; want the rates to cost time", limited.VirtualSeconds, free.VirtualSeconds)
	}
}

// BenchmarkSimulatorOnEdge runs D-PSGD over the urban 6G preset with each
// device's own uplink and downlink and again with unlimited links, and
// reports virtual milliseconds per round beside the wall time: what the
// devices' rates cost the training, and what the link queues cost the
// simulator.
func BenchmarkSimulatorOnEdge(b *testing.B) {
	for _, links := range []string{"device-rates", "unlimited"} {
		b.Run("urban-6g/peers=300/mlp:64/rounds=20/links="+links, func(b *testing.B) {
			c := topology.EdgeUrban6G()
			c.Devices = 300
			en, err := topology.GenerateEdge(c, 1)
			if err != nil {
				b.Fatal(err)
			}
			s := DefaultSpec()
			s.Peers, s.Model, s.Rounds, s.Topology = 300, "mlp:64", 20, "exponential"
			var virtual float64
			for b.Loop() {
				e, err := s.Prepare()
				if err != nil {
					b.Fatal(err)
				}
				e.Network = NetworkFromEdge(en)
				if links == "unlimited" {
					e.Network.UplinkBitsPerSec, e.Network.DownlinkBitsPerSec = nil, nil
				}
				res, err := e.Run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				virtual = res.VirtualSeconds
			}
			b.ReportMetric(virtual/float64(s.Rounds)*1000, "virtual-ms/round")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
		})
	}
}
