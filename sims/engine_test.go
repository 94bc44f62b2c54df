package sims

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// smallSpec is a seconds-long simulation on the embedded digits data.
func smallSpec() Spec {
	s := DefaultSpec()
	s.Peers = 8
	s.Model = "softmax"
	s.Epochs = 4
	s.EvalSamples = 0
	return s
}

func runSpec(t *testing.T, s Spec, workers int) *Result {
	t.Helper()
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	e.Workers = workers
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunIsDeterministic(t *testing.T) {
	s := smallSpec()
	s.Partition = "dirichlet:0.5"
	s.Topology = "ring"
	s.LatencyMS = 3
	a := runSpec(t, s, 1)
	b := runSpec(t, s, 4)
	// Compared as printed: round 0 has no training loss (NaN), and NaN ≠ NaN.
	if fa, fb := fmt.Sprint(a.Records), fmt.Sprint(b.Records); fa != fb {
		t.Fatalf("same seed, different records:\n%s\n%s", fa, fb)
	}
	s.Seed++
	c := runSpec(t, s, 2)
	if reflect.DeepEqual(a.Records[len(a.Records)-1], c.Records[len(c.Records)-1]) {
		t.Fatal("a different seed gave identical final records")
	}
}

// TestVirtualTimeMatchesTheRoundCostModel: with no transmission time, a
// combine-then-adapt round overlaps the step with the network and costs
// max(compute, delay); adapt-then-combine sends after stepping and costs
// compute + delay.
func TestVirtualTimeMatchesTheRoundCostModel(t *testing.T) {
	for _, mix := range []string{"cta", "atc"} {
		s := smallSpec()
		s.Topology = "ring"
		s.Rounds = 10
		s.Mix = mix
		e, err := s.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		step := e.Model.TrainFLOPs() * float64(e.Batch) / e.PeerFLOPS
		for _, latency := range []float64{step / 2, step * 3} {
			e.Network = UniformNetwork(s.Peers, latency, 0)
			res, err := e.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := 10 * math.Max(step, latency)
			if mix == "atc" {
				want = 10 * (step + latency)
			}
			if math.Abs(res.VirtualSeconds-want) > 1e-9*want {
				t.Errorf("%s, latency %gs, step %gs: %g virtual s, want %g", mix, latency, step, res.VirtualSeconds, want)
			}
		}
	}
}

func TestBytesAndSamplesAreCounted(t *testing.T) {
	s := smallSpec()
	s.Topology = "ring"
	s.Rounds = 6
	res := runSpec(t, s, 0)
	e, _ := s.Prepare()
	msg := float64(e.MessageBytes())
	if want := 6 * 2 * msg; res.BytesSentPerPeer != want {
		t.Errorf("bytes sent per peer %g, want %g (6 rounds × 2 neighbors × %g)", res.BytesSentPerPeer, want, msg)
	}
	if want := int64(6 * s.Batch * s.Peers); res.SamplesSeen != want {
		t.Errorf("samples seen %d, want %d", res.SamplesSeen, want)
	}
	s.Algo = "centralized"
	cen := runSpec(t, s, 0)
	if cen.SamplesSeen != res.SamplesSeen || cen.BytesSentPerPeer != 0 || cen.Peers != 1 {
		t.Errorf("centralized: %d samples, %g bytes, %d peers; want %d samples, 0 bytes, 1 peer",
			cen.SamplesSeen, cen.BytesSentPerPeer, cen.Peers, res.SamplesSeen)
	}
}

// TestDPSGDBeatsLocalOnNonIIDData: with two classes per peer no peer can
// learn all ten digits alone; averaging with neighbors must recover them.
func TestDPSGDBeatsLocalOnNonIIDData(t *testing.T) {
	s := smallSpec()
	s.Partition = "shards:2"
	s.Epochs = 20
	s.Topology = "exponential"
	dpsgd := runSpec(t, s, 0)
	s.Algo = "local"
	local := runSpec(t, s, 0)
	if !(dpsgd.FinalTestAccuracy > local.FinalTestAccuracy+0.3) || dpsgd.FinalTestAccuracy < 0.85 {
		t.Fatalf("non-IID: dpsgd %.3f vs local %.3f; want dpsgd ≥ 0.85 and 0.3 ahead",
			dpsgd.FinalTestAccuracy, local.FinalTestAccuracy)
	}
	if dpsgd.FinalConsensusDistance >= local.FinalConsensusDistance {
		t.Fatalf("consensus distance dpsgd %g ≥ local %g", dpsgd.FinalConsensusDistance, local.FinalConsensusDistance)
	}
}

func TestTargetAccuracyTimed(t *testing.T) {
	s := smallSpec()
	s.TargetAccuracy = 0.5
	res := runSpec(t, s, 0)
	if res.VirtualSecondsToTarget == nil || *res.VirtualSecondsToTarget <= 0 || *res.VirtualSecondsToTarget > res.VirtualSeconds {
		t.Fatalf("time to 0.5 accuracy: %v (run took %g)", res.VirtualSecondsToTarget, res.VirtualSeconds)
	}
	s.TargetAccuracy = 1
	if res := runSpec(t, s, 0); res.VirtualSecondsToTarget != nil {
		t.Fatalf("perfect accuracy reported reached at %g", *res.VirtualSecondsToTarget)
	}
}

func TestPrepareRejectsBadSpecs(t *testing.T) {
	cases := []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Peers = 0 }, "--peers 0"},
		{func(s *Spec) { s.Partition = "dirichlet:-1" }, "alpha"},
		{func(s *Spec) { s.Topology = "hypercube" }, "hypercube"},
		{func(s *Spec) { s.Algo = "fedavg" }, "--algo"},
		{func(s *Spec) { s.Model = "mlp:0" }, "mlp:0"},
		{func(s *Spec) { s.Dataset = "imagenet" }, "--dataset"},
		{func(s *Spec) { s.Dataset = "mnist" }, "--data-dir"},
		{func(s *Spec) { s.Dataset = "csv:/nonexistent/x.csv" }, "/nonexistent/x.csv"},
		{func(s *Spec) { s.LatencyMatrix = "/nonexistent/rtt.tsv" }, "/nonexistent/rtt.tsv"},
		{func(s *Spec) { s.Batch = 0 }, "--batch"},
		{func(s *Spec) { s.Epochs = -2 }, "--epochs"},
		{func(s *Spec) { s.LR = 0 }, "learning rate"},
		{func(s *Spec) { s.Schedule = "linear" }, "linear"},
		{func(s *Spec) { s.Momentum = 1.2 }, "momentum"},
		{func(s *Spec) { s.TargetAccuracy = 2 }, "--target-accuracy"},
		{func(s *Spec) { s.Peers = 5000 }, "peers"},
		{func(s *Spec) { s.Mix = "both" }, "--mix"},
		{func(s *Spec) { s.Weighting = "size" }, "--weighting"},
		{func(s *Spec) { s.Topology = "geometric:0.01" }, "disconnected"},
	}
	for _, c := range cases {
		s := smallSpec()
		c.edit(&s)
		_, err := s.Prepare()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("spec %+v: error %v, want one mentioning %q", s, err, c.want)
		}
	}
}
