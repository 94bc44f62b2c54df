package sims

import (
	"context"
	"testing"
)

// BenchmarkSimulator reports simulated peer-steps per wall second and the
// wall time of one whole run, including evaluation. The 1000-peer case is the
// scale target: softmax regression on digits, 50 rounds.
func BenchmarkSimulator(b *testing.B) {
	for _, c := range []struct {
		name string
		edit func(*Spec)
	}{
		{"peers=1000/softmax/digits/rounds=50", func(s *Spec) {
			s.Peers, s.Model, s.Rounds, s.Topology = 1000, "softmax", 50, "exponential"
		}},
		{"peers=16/mlp:64/digits/rounds=200", func(s *Spec) {
			s.Peers, s.Model, s.Rounds, s.Topology = 16, "mlp:64", 200, "ring"
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := DefaultSpec()
			c.edit(&s)
			var steps int
			for b.Loop() {
				e, err := s.Prepare()
				if err != nil {
					b.Fatal(err)
				}
				res, err := e.Run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				steps += res.Peers * res.Rounds
			}
			b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "peer-steps/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
		})
	}
}
