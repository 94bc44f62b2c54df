package topology

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

// overlayStats summarises an overlay on an RTT table for comparison.
type overlayStats struct {
	gap        float64 // spectral gap of the Metropolis matrix
	meanDegree float64
	components int
	meanRTT    time.Duration // over active edges
	// pace is the mean over peers of their slowest near link: what a
	// synchronous round waits for (long links are mixed asynchronously).
	pace time.Duration
}

func statsOf(t *testing.T, o *Overlay, rtt rttTable) overlayStats {
	t.Helper()
	gap, _, err := SpectralGap(Metropolis(o.Graph).Dense(o.Graph))
	must(t, err)
	s := overlayStats{gap: math.Max(gap, 0), components: len(componentSizes(o.Graph))}
	var all, pace time.Duration
	for i, nb := range o.Graph.Adj {
		var slowest time.Duration
		for _, j := range nb {
			all += rtt[i][j]
			if !o.IsAsync(i, j) {
				slowest = max(slowest, rtt[i][j])
			}
		}
		pace += slowest
	}
	if e := 2 * o.Graph.Edges(); e > 0 {
		s.meanDegree = float64(e) / float64(o.Graph.N)
		s.meanRTT = all / time.Duration(e)
	}
	s.pace = pace / time.Duration(o.Graph.N)
	return s
}

// TestOverlayOnPlanetLab selects neighbors on real Internet RTTs (the
// PlanetLab matrix: 64 sampled nodes, then all 490) at Degree 4. The
// latency policy alone links each node to its nearest and falls into
// islands that never agree; latency+long stays connected with a spectral
// gap many times larger at a fraction of random's link RTT. With -v it
// prints the table the README quotes; -short skips the 490-node half.
func TestOverlayOnPlanetLab(t *testing.T) {
	l := planetLab(t)
	for _, n := range []int{64, 490} {
		if n > 64 && testing.Short() {
			t.Logf("-short: skipping all %d nodes", n)
			continue
		}
		idx := seeded(64).Perm(l.N)[:n]
		sub, err := l.Sub(idx)
		must(t, err)
		rtt := latencyTable(sub)
		// Estimates as from network coordinates: off by up to ±30% per pair.
		est := make(rttTable, n)
		for i := range est {
			est[i] = make([]time.Duration, n)
			for j := range est[i] {
				est[i][j] = time.Duration(float64(rtt[i][j]) * (0.7 + 0.6*float64(splitMix64(uint64(i*n+j))%1000)/1000))
			}
		}
		ids := peerNames(n)
		stats := map[string]overlayStats{}
		for _, c := range []struct {
			name string
			cfg  SelectConfig
			est  rttTable
		}{
			{"random", SelectConfig{Policy: PolicyRandom}, rtt},
			{"latency", SelectConfig{Policy: PolicyLatency}, rtt},
			{"latency+long", SelectConfig{Policy: PolicyLatencyLong}, rtt},
			{"latency+long, est ±30%", SelectConfig{Policy: PolicyLatencyLong}, est},
			{"latency+long, Long 2", SelectConfig{Policy: PolicyLatencyLong, Long: 2}, rtt},
		} {
			c.cfg.Seed = 1
			o, conv, err := BuildOverlay(ids, c.est.at, rtt.at, c.cfg, nil)
			if err != nil && !(c.cfg.Policy == PolicyLatency && errors.Is(err, ErrDisconnected)) {
				t.Fatalf("n=%d %s: %v", n, c.name, err)
			}
			checkOverlay(t, o, c.cfg)
			s := statsOf(t, o, rtt)
			stats[c.name] = s
			t.Logf("| %d | %s | %.3f | %.2f | %d | %.1f | %.1f | %d | %d |", n, c.name, s.gap, s.meanDegree, s.components,
				float64(s.meanRTT)/1e6, float64(s.pace)/1e6, conv.Iterations, conv.Refusals)
		}
		lat, long, random := stats["latency"], stats["latency+long"], stats["random"]
		if lat.components < 2 {
			t.Errorf("n=%d: latency alone stayed connected; this data should show its islands", n)
		}
		if long.components != 1 || stats["latency+long, est ±30%"].components != 1 {
			t.Errorf("n=%d: latency+long is disconnected", n)
		}
		if long.gap < 0.05 || long.gap <= lat.gap {
			t.Errorf("n=%d: latency+long spectral gap %.4f, want >= 0.05 and above latency's %.4f", n, long.gap, lat.gap)
		}
		if long.pace > random.pace/2 {
			t.Errorf("n=%d: latency+long rounds wait %v for the slowest near link, want under half of random's %v", n, long.pace, random.pace)
		}
	}
}

func ExampleBuildOverlay() {
	// Three cities 150 ms apart, four devices each, 1–2 ms within a city:
	// peer i lives in city i mod 3.
	rtt := func(i, j int) time.Duration {
		if i%3 == j%3 {
			return time.Millisecond + time.Duration(i+j)*50*time.Microsecond
		}
		return 150 * time.Millisecond
	}
	cfg := SelectConfig{Policy: PolicyLatencyLong, Degree: 3, Long: 1, Seed: 1}
	o, conv, err := BuildOverlay(peerNames(12), rtt, rtt, cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connected:", o.Graph.Connected(), "converged:", conv.Converged)
	for _, j := range o.Graph.Adj[0] {
		fmt.Printf("0–%d long=%v\n", j, o.IsAsync(0, j))
	}
	// Output:
	// connected: true converged: true
	// 0–1 long=true
	// 0–3 long=false
	// 0–6 long=false
	// 0–9 long=false
	// 0–10 long=true
}
