package sims

import (
	"os"
	"strings"
	"testing"
)

const planetLab = "../../shared/data/rtt/planetlab-490.tsv"

func needPlanetLab(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(planetLab); err != nil {
		t.Skipf("PlanetLab RTT matrix not found at %s (it lives in ../shared/data beside the checkout): %v", planetLab, err)
	}
}

// TestPolicyOverlayOnALatencyMatrix: with a latency matrix and no
// --topology, the neighbor policy chooses the overlay; latency+long keeps
// near links short and the mesh connected, random pays long links.
func TestPolicyOverlayOnALatencyMatrix(t *testing.T) {
	needPlanetLab(t)
	facts := map[string]*OverlayFacts{}
	for _, pol := range []string{"random", "latency+long"} {
		s := smallSpec()
		s.Peers = 32
		s.LatencyMatrix = planetLab
		s.Neighbors = pol
		s.Rounds = 20
		res := runSpec(t, s, 0)
		o := res.Overlay
		if o == nil || o.Policy != pol || o.MeanDegree < 2 || o.PlanIterations == 0 {
			t.Fatalf("%s: overlay facts %+v", pol, o)
		}
		if res.SpectralGap == nil || *res.SpectralGap <= 0 {
			t.Fatalf("%s: overlay not connected (spectral gap %v)", pol, res.SpectralGap)
		}
		facts[pol] = o
	}
	if facts["latency+long"].AsyncLinks == 0 || facts["random"].AsyncLinks != 0 {
		t.Errorf("async links: latency+long %d, random %d", facts["latency+long"].AsyncLinks, facts["random"].AsyncLinks)
	}
	if facts["latency+long"].MeanLinkRTTMs >= facts["random"].MeanLinkRTTMs {
		t.Errorf("mean link RTT: latency+long %.1f ms, random %.1f ms", facts["latency+long"].MeanLinkRTTMs, facts["random"].MeanLinkRTTMs)
	}
}

func TestLatencyPolicyAloneIsRefusedWhenItMakesIslands(t *testing.T) {
	needPlanetLab(t)
	s := smallSpec()
	s.Peers = 64
	s.LatencyMatrix = planetLab
	s.Neighbors = "latency"
	_, err := s.Prepare()
	if err == nil || !strings.Contains(err.Error(), "disconnected") || !strings.Contains(err.Error(), "latency+long") {
		t.Fatalf("latency policy on PlanetLab: %v, want a disconnected-overlay error pointing at latency+long", err)
	}
}

// TestEdgeNetworkWithMobility: devices move, peers re-plan after
// handovers, and nobody is ever left without neighbors.
func TestEdgeNetworkWithMobility(t *testing.T) {
	s := smallSpec()
	s.Peers = 40
	s.Topology = "edge"
	s.MobilitySeconds = 0.05
	s.MobilitySpeedup = 2400 // two minutes of movement per step
	s.Rounds = 100
	res := runSpec(t, s, 0)
	m := res.Mobility
	if m == nil || m.Moves == 0 || m.Replans == 0 || m.Changes == 0 {
		t.Fatalf("mobility %+v: want moves that change the overlay", m)
	}
	if m.MinDegree < 1 {
		t.Fatalf("a peer was left without neighbors after a re-plan: %+v", m)
	}
	if res.Overlay == nil || res.Overlay.Policy != "latency+long" {
		t.Fatalf("edge overlay %+v", res.Overlay)
	}
	t.Logf("edge: %+v, overlay %+v, final accuracy %.4f", *m, *res.Overlay, res.FinalTestAccuracy)
}

func TestOverlayFlagsAreChecked(t *testing.T) {
	cases := []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.MobilitySeconds = 1 }, "--mobility needs --topology edge"},
		{func(s *Spec) { s.Topology = "edge"; s.LatencyMatrix = "x.tsv" }, "drop --latency-matrix"},
		{func(s *Spec) { s.Topology = "edge"; s.EdgePreset = "mars" }, "--edge-preset"},
		{func(s *Spec) { s.Topology = "edge"; s.Neighbors = "nearest" }, "--neighbors"},
		{func(s *Spec) { s.LongPeriod = 0 }, "--long-period"},
		{func(s *Spec) { s.Topology = "edge"; s.LongLinks = 0 }, "--long-links 0"},
	}
	for _, c := range cases {
		s := smallSpec()
		c.edit(&s)
		if _, err := s.Prepare(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to mention %q", s, err, c.want)
		}
	}
}

// TestSlowUplinksDoNotPaceTheMesh: on a rural 5G network the slowest
// handsets' uplinks send a few hundred kbit/s. Under random neighbors every
// round waits for them to push a copy to each of their links; under
// latency+long they take as many links as their uplink sends in the
// budget, and rounds run several times faster.
func TestSlowUplinksDoNotPaceTheMesh(t *testing.T) {
	perRound := map[string]float64{}
	for _, policy := range []string{"random", "latency+long"} {
		s := smallSpec()
		s.Peers, s.Topology, s.EdgePreset, s.Neighbors = 100, "edge", "rural-5g", policy
		s.Model, s.Epochs, s.Rounds = "mlp:64", 0, 20
		res := runSpec(t, s, 0)
		perRound[policy] = res.VirtualSeconds / float64(res.Rounds)
		if capped := res.Overlay.UplinkCapped; (policy == "random") != (capped == 0) {
			t.Errorf("%s: %d peers capped by their uplink", policy, capped)
		}
		t.Logf("%s: %.0f ms per round, %d peers capped", policy, 1000*perRound[policy], res.Overlay.UplinkCapped)
	}
	if r := perRound["latency+long"] / perRound["random"]; r > 0.4 {
		t.Errorf("latency+long rounds take %.2f of random's, want under 0.4", r)
	}
}
