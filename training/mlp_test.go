package training

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomBatch(rng *rand.Rand, batch, dim, classes int) ([]float32, []int32) {
	x := make([]float32, batch*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return x, y
}

// TestMLPGradientMatchesFiniteDifferences checks every parameter of small
// networks against central differences of the loss, computed in float64 on a
// float64 copy of the forward pass so float32 rounding does not hide errors.
func TestMLPGradientMatchesFiniteDifferences(t *testing.T) {
	for _, sizes := range [][]int{{5, 3}, {6, 4, 3}, {4, 5, 6, 3}} {
		m, err := NewMLP(sizes...)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		params := make([]float32, m.NumParams())
		m.Init(params, rng)
		for i := range params { // nonzero biases so every path is exercised
			params[i] += float32(0.1 * rng.NormFloat64())
		}
		x, y := randomBatch(rng, 7, sizes[0], sizes[len(sizes)-1])
		grad := make([]float32, len(params))
		loss := m.LossGrad(params, grad, x, y)

		p64 := make([]float64, len(params))
		for i, v := range params {
			p64[i] = float64(v)
		}
		if want := referenceLoss(sizes, p64, x, y); math.Abs(loss-want) > 1e-5*math.Max(1, want) {
			t.Fatalf("%v: loss %g, float64 reference %g", sizes, loss, want)
		}
		const h = 1e-5
		for i := range p64 {
			orig := p64[i]
			p64[i] = orig + h
			up := referenceLoss(sizes, p64, x, y)
			p64[i] = orig - h
			down := referenceLoss(sizes, p64, x, y)
			p64[i] = orig
			numeric := (up - down) / (2 * h)
			if diff := math.Abs(numeric - float64(grad[i])); diff > 1e-4+1e-3*math.Abs(numeric) {
				t.Fatalf("%v: d loss / d param[%d] = %g, finite differences give %g", sizes, i, grad[i], numeric)
			}
		}
	}
}

// referenceLoss is a plain per-sample float64 implementation of the MLP's
// mean cross-entropy with the same parameter layout.
func referenceLoss(sizes []int, p []float64, x []float32, y []int32) float64 {
	batch := len(y)
	var total float64
	for s := range batch {
		a := make([]float64, sizes[0])
		for i := range a {
			a[i] = float64(x[s*sizes[0]+i])
		}
		off := 0
		for l := 1; l < len(sizes); l++ {
			in, out := sizes[l-1], sizes[l]
			z := make([]float64, out)
			for j := range out {
				z[j] = p[off+in*out+j]
				for i := range in {
					z[j] += a[i] * p[off+i*out+j]
				}
				if l < len(sizes)-1 && z[j] < 0 {
					z[j] = 0
				}
			}
			off += in*out + out
			a = z
		}
		maxv := a[0]
		for _, v := range a {
			maxv = math.Max(maxv, v)
		}
		var sum float64
		for _, v := range a {
			sum += math.Exp(v - maxv)
		}
		total += math.Log(sum) + maxv - a[y[s]]
	}
	return total / float64(batch)
}

func TestMLPEvaluateAgreesWithLoss(t *testing.T) {
	m, _ := NewMLP(8, 16, 4)
	rng := rand.New(rand.NewPCG(3, 4))
	params := make([]float32, m.NumParams())
	m.Init(params, rng)
	x, y := randomBatch(rng, 1300, 8, 4) // spans several evaluation chunks
	grad := make([]float32, len(params))
	loss := m.LossGrad(params, grad, x, y)
	correct, lossSum := m.Evaluate(params, x, y)
	if math.Abs(lossSum/1300-loss) > 1e-6 {
		t.Fatalf("Evaluate mean loss %g, LossGrad %g", lossSum/1300, loss)
	}
	if correct < 0 || correct > 1300 {
		t.Fatalf("correct = %d", correct)
	}
}

func TestMLPLearnsSeparableData(t *testing.T) {
	m, _ := NewMLP(2, 16, 2)
	rng := rand.New(rand.NewPCG(5, 6))
	params := make([]float32, m.NumParams())
	m.Init(params, rng)
	// XOR-like quadrants: not linearly separable, so the hidden layer must work.
	x := make([]float32, 0, 400)
	y := make([]int32, 0, 200)
	for range 200 {
		a, b := rng.Float64()*2-1, rng.Float64()*2-1
		x = append(x, float32(a), float32(b))
		if (a > 0) == (b > 0) {
			y = append(y, 1)
		} else {
			y = append(y, 0)
		}
	}
	opt := OptimizerConfig{Kind: "sgd", Momentum: 0.9}.New(len(params))
	grad := make([]float32, len(params))
	for range 1500 {
		m.LossGrad(params, grad, x, y)
		opt.Step(params, grad, 0.1)
	}
	correct, _ := m.Evaluate(params, x, y)
	if correct < 190 {
		t.Fatalf("MLP fits only %d/200 XOR points", correct)
	}
}

func TestParseModel(t *testing.T) {
	good := map[string]string{"softmax": "mlp:64-10", "mlp:32": "mlp:64-32-10", "mlp:32,16": "mlp:64-32-16-10"}
	for spec, want := range good {
		m, err := ParseModel(spec, Flat(64), 10)
		if err != nil || m.Spec() != want {
			t.Errorf("ParseModel(%q) = %v, %v; want %s", spec, m, err, want)
		}
	}
	for _, spec := range []string{"", "cnn", "mlp", "mlp:", "mlp:0", "mlp:12,x", "softmax:3", "mlp:-4"} {
		if _, err := ParseModel(spec, Flat(64), 10); err == nil {
			t.Errorf("ParseModel(%q) accepted a bad spec", spec)
		}
	}
}

func TestMLPParamsAndFLOPs(t *testing.T) {
	m, _ := NewMLP(784, 256, 128, 10)
	if got, want := m.NumParams(), 784*256+256+256*128+128+128*10+10; got != want {
		t.Fatalf("NumParams = %d, want %d", got, want)
	}
	// forward 2·MACs, weight gradients 2·MACs, input gradients 2·MACs except layer 1.
	macs := 784.0*256 + 256*128 + 128*10
	if got, want := m.TrainFLOPs(), 6*macs-2*784*256; got != want {
		t.Fatalf("TrainFLOPs = %g, want %g", got, want)
	}
}
