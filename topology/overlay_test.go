package topology

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkOverlay asserts what holds of every agreed overlay: a well-formed
// symmetric graph, no peer above MaxDegree, valid Metropolis weights, long
// flags symmetric and only on edges.
func checkOverlay(t *testing.T, o *Overlay, cfg SelectConfig) {
	t.Helper()
	cfg = cfg.WithDefaults()
	if err := o.Graph.Validate(); err != nil {
		t.Fatalf("overlay graph: %v", err)
	}
	if d := o.Graph.MaxDegree(); d > cfg.MaxDegree {
		t.Errorf("a peer has %d active links, above MaxDegree=%d", d, cfg.MaxDegree)
	}
	if err := Metropolis(o.Graph).Validate(o.Graph); err != nil {
		t.Errorf("Metropolis weights: %v", err)
	}
	for i := range o.Graph.N {
		for j := range o.Graph.N {
			if o.IsAsync(i, j) != o.IsAsync(j, i) {
				t.Fatalf("IsAsync(%d,%d)=%v but IsAsync(%d,%d)=%v", i, j, o.IsAsync(i, j), j, i, o.IsAsync(j, i))
			}
			if _, edge := slices.BinarySearch(o.Graph.Adj[i], j); o.IsAsync(i, j) && !edge {
				t.Fatalf("IsAsync(%d,%d) on a non-edge", i, j)
			}
		}
	}
}

func TestBuildOverlayInvariants(t *testing.T) {
	rtt, _ := clusteredRTT(120, 6, 1)
	ids := peerNames(len(rtt))
	for _, c := range []struct {
		cfg       SelectConfig
		connected bool
	}{
		// AsyncRTT 40 ms: links within a cluster are faster, many between clusters slower.
		{SelectConfig{Policy: PolicyRandom, AsyncRTT: ms(40)}, true},
		{SelectConfig{Policy: PolicyLatency, AsyncRTT: ms(40)}, false},
		{SelectConfig{Policy: PolicyLatencyLong, AsyncRTT: ms(40)}, true},
		{SelectConfig{Policy: PolicyLatencyLong, Degree: 6, Long: 2, MaxDegree: 9, AsyncRTT: ms(40)}, true},
		{SelectConfig{Policy: PolicyLatencyLong, Degree: 3, MaxDegree: 4, AsyncRTT: ms(40)}, true}, // the cap binds
	} {
		t.Run(string(c.cfg.Policy), func(t *testing.T) {
			o, conv, err := BuildOverlay(ids, rtt.at, rtt.at, c.cfg, nil)
			if c.connected && err != nil || !c.connected && !errors.Is(err, ErrDisconnected) {
				t.Fatalf("error %v, want connected=%v", err, c.connected)
			}
			if !conv.Converged {
				t.Fatalf("not converged: %+v", conv)
			}
			checkOverlay(t, o, c.cfg)
			cfg := c.cfg.WithDefaults()
			asyncEdges := 0
			for i := range ids {
				props := o.Proposals(i)
				if len(props) != cfg.Degree {
					t.Fatalf("peer %d proposes %d links, want Degree=%d", i, len(props), cfg.Degree)
				}
				long := 0
				for _, l := range props {
					if l.Long {
						long++
					}
				}
				if long != cfg.longCount() {
					t.Errorf("peer %d proposes %d long links, want %d", i, long, cfg.longCount())
				}
				for _, j := range o.Graph.Adj[i] {
					if o.IsAsync(i, j) {
						asyncEdges++
					}
					// The mode of a link follows its RTT, whatever picked it:
					// slow above AsyncRTT, fast below the hysteresis band
					// (inside it a long link stays slow, a near one fast).
					band := time.Duration(float64(cfg.AsyncRTT) * (1 - cfg.Hysteresis))
					switch r := rtt.at(i, j); {
					case cfg.Policy == PolicyRandom || r <= band:
						if o.IsAsync(i, j) {
							t.Errorf("%d–%d (%v) async, want every round", i, j, r)
						}
					case r > cfg.AsyncRTT:
						if !o.IsAsync(i, j) {
							t.Errorf("%d–%d (%v) mixed every round, want async", i, j, r)
						}
					}
				}
			}
			if got := o.AsyncEdges(); got != asyncEdges/2 || (cfg.Policy == PolicyLatencyLong) != (got > 0) {
				t.Errorf("AsyncEdges() = %d, counted %d; want some exactly when the policy makes long links", got, asyncEdges/2)
			}
			if g, err := FromEdges(o.Graph.N, nil); err == nil && sameGraph(g, o.Graph) {
				t.Error("overlay has no edges")
			}
		})
	}
}

func TestBuildOverlayIsDeterministic(t *testing.T) {
	rtt, _ := clusteredRTT(80, 5, 2)
	ids := peerNames(len(rtt))
	cfg := SelectConfig{Seed: 4}
	a, ca, err := BuildOverlay(ids, rtt.at, rtt.at, cfg, nil)
	must(t, err)
	b, cb, err := BuildOverlay(ids, rtt.at, rtt.at, cfg, nil)
	must(t, err)
	if !sameGraph(a.Graph, b.Graph) || ca != cb || a.AsyncEdges() != b.AsyncEdges() {
		t.Errorf("two builds differ: %+v vs %+v", ca, cb)
	}
	cfg.Seed = 5
	c, _, err := BuildOverlay(ids, rtt.at, rtt.at, cfg, nil)
	must(t, err)
	if sameGraph(a.Graph, c.Graph) {
		t.Error("seeds 4 and 5 gave the same overlay; the long links should differ")
	}
}

// TestBuildOverlayRefusalsConverge: every peer's nearest is the same hub,
// which can take only MaxDegree of them. The first exchange, before anyone
// has heard anything, sends every proposal to the hub; it refuses all but
// the fastest, the others move on, and the mesh settles within a bounded
// number of exchanges: one to propose, one to learn the refusals,
// RefusalMemory while they are remembered, and a few for the knock-on
// moves.
func TestBuildOverlayRefusalsConverge(t *testing.T) {
	const n = 30
	rtt := make(rttTable, n)
	for i := range rtt {
		rtt[i] = make([]time.Duration, n)
		for j := range rtt[i] {
			switch {
			case i == j:
			case i == 0 || j == 0: // the hub, 1 ms from all, a little more for higher indices
				rtt[i][j] = ms(1 + float64(i+j)/100)
			default:
				rtt[i][j] = ms(40 + float64((i*j)%17))
			}
		}
	}
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 3, Long: 1, MaxDegree: 5}
	o, conv, err := BuildOverlay(peerNames(n), rtt.at, rtt.at, cfg, nil)
	must(t, err)
	checkOverlay(t, o, cfg)
	if conv.Refusals < n-cfg.MaxDegree {
		t.Errorf("%d refusals, want at least the %d peers the hub cannot take", conv.Refusals, n-cfg.MaxDegree)
	}
	if d := o.Graph.Degree(0); d != cfg.MaxDegree {
		t.Errorf("hub has %d active links, want it full at MaxDegree=%d", d, cfg.MaxDegree)
	}
	if bound := 2 + DefaultRefusalMemory + 6; !conv.Converged || conv.Iterations > bound {
		t.Errorf("converged=%v after %d exchanges, want within %d", conv.Converged, conv.Iterations, bound)
	}
	// Beside its own proposals, the hub kept its fastest proposers: the
	// lowest-numbered peers.
	own := linkIDs(o.Proposals(0))
	for _, j := range o.Graph.Adj[0] {
		if !slices.Contains(own, o.IDs[j]) && j > cfg.MaxDegree {
			t.Errorf("hub accepted peer %d (its own proposals: %v); the fastest proposers are peers 1..%d", j, own, cfg.MaxDegree)
		}
	}
}

func TestBuildOverlayDisconnectedSaysWhatToDo(t *testing.T) {
	// Two cities 100 ms apart, 20 peers each, 1–3 ms within a city.
	const n = 40
	rtt := make(rttTable, n)
	for i := range rtt {
		rtt[i] = make([]time.Duration, n)
		for j := range rtt[i] {
			if i != j {
				rtt[i][j] = ms(1 + float64((i+j)%3))
				if i%2 != j%2 {
					rtt[i][j] += ms(100)
				}
			}
		}
	}
	ids := peerNames(n)
	o, _, err := BuildOverlay(ids, rtt.at, rtt.at, SelectConfig{Policy: PolicyLatency}, nil)
	if !errors.Is(err, ErrDisconnected) || o == nil {
		t.Fatalf("latency policy across two cities: error %v, want ErrDisconnected with the overlay", err)
	}
	for _, want := range []string{"components (sizes", "never meet", "latency+long", "Degree"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	o, _, err = BuildOverlay(ids, rtt.at, rtt.at, SelectConfig{Policy: PolicyLatencyLong}, nil)
	if err != nil || !o.Graph.Connected() {
		t.Errorf("latency+long across two cities: %v, connected=%v", err, o.Graph.Connected())
	}
}

func TestBuildOverlayErrors(t *testing.T) {
	rtt, _ := clusteredRTT(3, 1, 1)
	cases := []struct {
		name string
		ids  []string
		f    func(i, j int) time.Duration
		cfg  SelectConfig
		want string
	}{
		{"no peers", nil, rtt.at, SelectConfig{}, "at least one peer"},
		{"empty ID", []string{"a", "", "c"}, rtt.at, SelectConfig{}, "peer 1 has an empty ID"},
		{"duplicate ID", []string{"a", "b", "a"}, rtt.at, SelectConfig{}, `"a" appears twice (peers 0 and 2)`},
		{"nil RTT", peerNames(3), nil, SelectConfig{}, "RTT functions"},
		{"bad config", peerNames(3), rtt.at, SelectConfig{Shortlist: 1}, "Shortlist=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := BuildOverlay(c.ids, c.f, c.f, c.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "topology: ") {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestBuildOverlayTinyMeshes(t *testing.T) {
	rtt, _ := clusteredRTT(3, 1, 1)
	for n, wantEdges := range map[int]int{1: 0, 2: 1, 3: 3} {
		o, conv, err := BuildOverlay(peerNames(n), rtt.at, rtt.at, SelectConfig{}, nil)
		if err != nil || o.Graph.Edges() != wantEdges || !conv.Converged {
			t.Errorf("%d peers: %d edges, %+v, %v; want %d edges, converged", n, o.Graph.Edges(), conv, err, wantEdges)
		}
	}
}

// TestBuildOverlayReplansAfterAMove moves a whole cluster of peers next to
// another one (a train reaching the next city) and re-plans from the old
// overlay. At every exchange on the way each peer keeps at least one
// active link and the mesh stays connected; it settles within a bounded
// number of exchanges on a state that no further exchange changes, in
// which the movers link to their new neighbours.
func TestBuildOverlayReplansAfterAMove(t *testing.T) {
	const n, clusters = 60, 6
	before, pos := clusteredRTT(n, clusters, 8)
	ids := peerNames(n)
	cfg := SelectConfig{Seed: 2}
	old, _, err := BuildOverlay(ids, before.at, before.at, cfg, nil)
	must(t, err)

	// Cluster 0 (peers 0, 6, 12, ...) moves to cluster 3's centre.
	moved := slices.Clone(pos)
	var shift [2]float64
	for d := range 2 {
		shift[d] = pos[3][d] - pos[0][d]
	}
	isMover := func(i int) bool { return i%clusters == 0 }
	for i := range moved {
		if isMover(i) {
			moved[i] = [2]float64{pos[i][0] + shift[0], pos[i][1] + shift[1]}
		}
	}
	after := rttFromPositions(moved)

	o, conv, err := BuildOverlayFunc(ids, after.at, after.at, cfg, old, nil, func(it int, o *Overlay) {
		checkOverlay(t, o, cfg)
		if d := minDegree(o.Graph); d == 0 {
			t.Errorf("exchange %d: a peer has no active link", it)
		}
		if !o.Graph.Connected() {
			t.Errorf("exchange %d: the mesh fell apart into %v", it, componentSizes(o.Graph))
		}
	})
	must(t, err)
	// Three near links to swap one per exchange, plus the knock-on moves of
	// the peers they displace and the refusal memory.
	if bound := 3 + DefaultRefusalMemory + 8; conv.Iterations > bound {
		t.Errorf("re-planning took %d exchanges, want at most %d", conv.Iterations, bound)
	}
	if conv.MinDegree < 1 {
		t.Errorf("Convergence.MinDegree = %d, want >= 1", conv.MinDegree)
	}
	for i := range ids {
		if !isMover(i) {
			continue
		}
		for _, l := range o.Proposals(i) {
			if !l.Long && l.RTT > ms(15) {
				t.Errorf("mover %d still proposes near link %v; its new neighbours are a few ms away", i, l)
			}
		}
	}
	again, conv2, err := BuildOverlay(ids, after.at, after.at, cfg, o)
	must(t, err)
	if conv2.Iterations != 1 || conv2.Changes != 0 || !sameGraph(again.Graph, o.Graph) {
		t.Errorf("the settled overlay is not a fixed point: %+v", conv2)
	}
}
