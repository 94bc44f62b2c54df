package sims

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gradmesh/gradmesh/topology"
)

// latencySource is where a simulation's round-trip times come from when the
// overlay is chosen from latencies: a matrix file or a generated edge network.
type latencySource struct {
	rtt  func(i, j int) time.Duration // between peers, by peer index
	ms   *topology.LatencyMatrix      // the same, as a matrix over the peers
	edge *topology.EdgeNetwork        // nil for a matrix file
}

// planOverlay chooses the overlay the way live peers do: Vivaldi
// coordinates embedded from sampled RTTs give each peer its shortlist, the
// shortlist is probed (true RTTs), and the neighbor protocol runs to
// agreement under the spec's policy.
func (s Spec) planOverlay(src *latencySource, e *Experiment) (*topology.Overlay, topology.SelectConfig, error) {
	cfg, err := s.selectConfig()
	if err != nil {
		return nil, cfg, err
	}
	embed := topology.DefaultEmbedConfig()
	embed.Seed = s.Seed
	coords, err := topology.EmbedMatrix(src.ms, embed)
	if err != nil {
		return nil, cfg, fmt.Errorf("sims: network coordinates: %w", err)
	}
	est := func(i, j int) time.Duration { return coords[i].DistanceTo(coords[j]) }
	cfg.MessageBytes = e.MessageBytes()
	o, conv, err := topology.BuildOverlayFunc(peerIDs(s.Peers), est, src.rtt, cfg, nil, e.Network.UplinkBitsPerSec, nil)
	if err != nil {
		return nil, cfg, fmt.Errorf("--neighbors %s over %d peers: %w", cfg.Policy, s.Peers, err)
	}
	e.Overlay = overlayFacts(string(cfg.Policy), o, src.rtt)
	e.Overlay.PlanIterations = conv.Iterations
	return o, cfg, nil
}

// selectConfig is the neighbor policy the spec asks for.
func (s Spec) selectConfig() (topology.SelectConfig, error) {
	p, err := topology.ParsePolicy(s.Neighbors)
	if err != nil {
		return topology.SelectConfig{}, fmt.Errorf("--neighbors: %w", err)
	}
	long := 0
	if p == topology.PolicyLatencyLong {
		long = s.LongLinks
	}
	cfg := topology.SelectConfig{Policy: p, Degree: s.Degree, Long: long, LongPeriod: s.LongPeriod, Seed: s.Seed}.WithDefaults()
	if p == topology.PolicyLatencyLong && s.LongLinks == 0 {
		return cfg, fmt.Errorf("--long-links 0 with --neighbors latency+long: use --neighbors latency for no long links")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("--degree %d / --long-links %d / --long-period %d: %w", s.Degree, s.LongLinks, s.LongPeriod, err)
	}
	return cfg, nil
}

func overlayFacts(policy string, o *topology.Overlay, rtt func(i, j int) time.Duration) *OverlayFacts {
	f := &OverlayFacts{Policy: policy, AsyncLinks: o.AsyncEdges()}
	g := o.Graph
	for i := range g.N {
		if o.MaxLinks(i) > 0 {
			f.UplinkCapped++
		}
	}
	var sum float64
	for i, adj := range g.Adj {
		for _, j := range adj {
			sum += float64(rtt(i, j)) / float64(time.Millisecond)
		}
	}
	if links := 2 * g.Edges(); links > 0 {
		f.MeanDegree = float64(links) / float64(g.N)
		f.MeanLinkRTTMs = sum / float64(links)
	}
	return f
}

// edgeMobility moves the edge network's devices every period and, when
// any device changed its site, re-plans the overlay from the one in force
// (hysteresis applies). Peers re-probe after a handover, so the re-plan
// uses measured RTTs as its estimates too.
func (s Spec) edgeMobility(src *latencySource, cfg topology.SelectConfig, current *topology.Overlay, uplinks []float64) *Mobility {
	every, moveFor := s.MobilitySeconds, s.MobilitySeconds*s.MobilitySpeedup
	ids := peerIDs(s.Peers)
	return &Mobility{Every: every, Move: func(float64) (MobilityUpdate, error) {
		moved, err := src.edge.Move(time.Duration(moveFor * float64(time.Second)))
		if err != nil || len(moved) == 0 {
			return MobilityUpdate{}, err
		}
		up := MobilityUpdate{OneWay: EdgeOneWay(src.edge)}
		next, _, err := topology.BuildOverlayFunc(ids, src.edge.RTT, src.edge.RTT, cfg, current, uplinks, nil)
		if err != nil {
			return up, err
		}
		current = next
		up.Graph, up.Long = next.Graph, next.IsAsync
		return up, nil
	}}
}

func peerIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids
}
