package training

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

// A Network of nn.Linear and nn.ReLU layers is the MLP in PyTorch's layout
// (weights out×in instead of in×out): given the same weights it must give
// the same loss, gradient and evaluation.
func TestNetworkOfLinearLayersComputesWhatTheMLPDoes(t *testing.T) {
	const in, hidden, classes, batch = 7, 5, 3, 9
	body := nn.MustSequential(
		nn.Named[float32]{Name: "0", Layer: nn.NewLinear[float32](in, hidden, 1)},
		nn.Named[float32]{Name: "1", Layer: nn.NewReLU[float32](hidden)},
		nn.Named[float32]{Name: "2", Layer: nn.NewLinear[float32](hidden, classes, 1)},
	)
	net, err := NewClassifier("test-mlp", body, classes)
	if err != nil {
		t.Fatal(err)
	}
	mlp, _ := NewMLP(in, hidden, classes)
	rng := rand.New(rand.NewPCG(1, 2))
	pm := make([]float32, mlp.NumParams())
	mlp.Init(pm, rng)
	for i := range pm {
		pm[i] += float32(0.1 * rng.NormFloat64())
	}
	// The MLP's layers are W (in×out) then b; the network's weight (out×in) then bias.
	toNet := func(v []float32) []float32 {
		out := make([]float32, 0, len(v))
		off := 0
		for _, s := range [][2]int{{in, hidden}, {hidden, classes}} {
			w := v[off : off+s[0]*s[1]]
			for o := 0; o < s[1]; o++ {
				for i := 0; i < s[0]; i++ {
					out = append(out, w[i*s[1]+o])
				}
			}
			out = append(out, v[off+s[0]*s[1]:off+s[0]*s[1]+s[1]]...)
			off += s[0]*s[1] + s[1]
		}
		return out
	}
	x := make([]float32, batch*in)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	gm := make([]float32, len(pm))
	gn := make([]float32, len(pm))
	lm := mlp.LossGrad(pm, gm, x, y)
	ln := net.LossGrad(toNet(pm), gn, x, y)
	if math.Abs(lm-ln) > 1e-6*math.Abs(lm) {
		t.Errorf("loss %v, MLP's %v", ln, lm)
	}
	if e := nntest.RelErr(gn, toNet(gm)); e > 1e-5 {
		t.Errorf("gradient relative error %.3g against the MLP's", e)
	}
	cm, sm := mlp.Evaluate(pm, x, y)
	cn, sn := net.Evaluate(toNet(pm), x, y)
	if cm != cn || math.Abs(sm-sn) > 1e-5*sm {
		t.Errorf("evaluation (%d, %v), MLP's (%d, %v)", cn, sn, cm, sm)
	}
}
