package topology

import (
	"testing"
)

// BenchmarkBuildOverlay1000 builds the overlay of 1000 peers in 50 cities
// (clusteredRTT) from scratch under each policy. It reports the heartbeat
// exchanges until convergence and the refusals on the way.
func BenchmarkBuildOverlay1000(b *testing.B) {
	rtt, _ := clusteredRTT(1000, 50, 1000)
	ids := peerNames(len(rtt))
	for _, policy := range []Policy{PolicyRandom, PolicyLatency, PolicyLatencyLong} {
		b.Run(string(policy), func(b *testing.B) {
			var conv Convergence
			for b.Loop() {
				var err error
				_, conv, err = BuildOverlay(ids, rtt.at, rtt.at, SelectConfig{Policy: policy, Seed: 1}, nil)
				if err != nil && policy != PolicyLatency {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(conv.Iterations), "exchanges")
			b.ReportMetric(float64(conv.Refusals), "refusals")
		})
	}
}

// BenchmarkReplanEdge1000 is TestOverlayReplansOnAMovingEdgeNetwork at
// 1000 devices: a fresh build, then three minutes of movement, re-planned
// every minute. With -v it logs exchanges and changed edges.
func BenchmarkReplanEdge1000(b *testing.B) {
	var lines []string
	for b.Loop() {
		lines = replanEdge(b, 1000, 3)
	}
	for _, line := range lines {
		b.Log(line)
	}
}
