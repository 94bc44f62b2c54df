// Package modeltest is the contract every training.Backend's models must
// keep: the CPU reference layout and initialisation, gradients that match
// finite differences of an independent float64 forward pass, results that
// match the CPU model on the same inputs, scratch that survives changing
// batch sizes and clones, and clean failure after Close. The CPU backend and
// each GPU backend run the same suite.
package modeltest

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// DefaultTolerance is the relative error allowed against the CPU model and
// the float64 reference when Config leaves it zero.
const DefaultTolerance = 1e-4

// Config tunes Run.
type Config struct {
	// Tolerance bounds the relative error of a loss (|a−b|/|b|) and of a
	// gradient (‖a−b‖₂/‖b‖₂) against the CPU model. Zero means
	// DefaultTolerance.
	Tolerance float64
}

// modelCase is a model spec with the sample shape and classes it is built for.
type modelCase struct {
	spec    string
	input   training.Shape
	classes int
}

// modelCases cover softmax regression, one and two hidden layers, flat and
// image-shaped samples, and widths that are not multiples of any tile or
// warp size.
var modelCases = []modelCase{{"softmax", training.Flat(13), 3}, {"mlp:17", training.Shape{1, 3, 3}, 4}, {"mlp:32,16", training.Flat(20), 10}}

// Run checks the models of the backends that open returns. Most checks share
// one backend; the Close checks open their own, so open must be callable more
// than once.
func Run(t *testing.T, open func() (training.Backend, error), cfg Config) {
	tol := cfg.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	b, err := open()
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close backend %s: %v", b.Name(), err)
		}
	})
	if b.Name() == "" || b.Device() == "" {
		t.Errorf("backend name %q, device %q: want both non-empty", b.Name(), b.Device())
	}
	t.Run("Layout", func(t *testing.T) { testLayout(t, b) })
	t.Run("BadSpec", func(t *testing.T) { testBadSpec(t, b) })
	t.Run("FiniteDifferences", func(t *testing.T) { testFiniteDifferences(t, b) })
	t.Run("MatchesCPU", func(t *testing.T) { testMatchesCPU(t, b, tol) })
	t.Run("EmptyBatch", func(t *testing.T) { testEmptyBatch(t, b) })
	t.Run("Evaluate", func(t *testing.T) { testEvaluate(t, b, tol) })
	t.Run("Clones", func(t *testing.T) { testClones(t, b, tol) })
	t.Run("ModelClose", func(t *testing.T) { testModelClose(t, b, tol) })
	t.Run("BackendClose", func(t *testing.T) { testBackendClose(t, open, tol) })
}

func newPair(t *testing.T, b training.Backend, s modelCase) (m, ref training.Model) {
	t.Helper()
	m, err := b.NewModel(s.spec, s.input, s.classes)
	if err != nil {
		t.Fatalf("%s NewModel(%q, %s, %d): %v", b.Name(), s.spec, s.input, s.classes, err)
	}
	ref, err = training.ParseModel(s.spec, s.input, s.classes)
	if err != nil {
		t.Fatalf("ParseModel(%q): %v", s.spec, err)
	}
	t.Cleanup(func() { _ = training.CloseModel(m) })
	return m, ref
}

func initParams(m training.Model, seed uint64) []float32 {
	p := make([]float32, m.NumParams())
	m.Init(p, rand.New(rand.NewPCG(seed, 1)))
	// Nonzero biases and a spread of weights exercise every path.
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range p {
		p[i] += float32(0.1 * rng.NormFloat64())
	}
	return p
}

func checkHealthy(t *testing.T, m training.Model, what string) {
	t.Helper()
	if err := training.ModelErr(m); err != nil {
		t.Fatalf("%s: model failed: %v", what, err)
	}
}

// testLayout: the same spec means the same parameter vector on every backend.
func testLayout(t *testing.T, b training.Backend) {
	for _, s := range modelCases {
		m, ref := newPair(t, b, s)
		if m.Spec() != ref.Spec() || m.NumParams() != ref.NumParams() || m.TrainFLOPs() != ref.TrainFLOPs() {
			t.Fatalf("%s: spec %q, %d params, %g FLOPs; CPU has %q, %d, %g",
				s.spec, m.Spec(), m.NumParams(), m.TrainFLOPs(), ref.Spec(), ref.NumParams(), ref.TrainFLOPs())
		}
		got, want := make([]float32, m.NumParams()), make([]float32, ref.NumParams())
		m.Init(got, rand.New(rand.NewPCG(7, 7)))
		ref.Init(want, rand.New(rand.NewPCG(7, 7)))
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: Init differs from the CPU's at parameter %d: %g vs %g", s.spec, i, got[i], want[i])
			}
		}
	}
}

func testBadSpec(t *testing.T, b training.Backend) {
	flat4 := training.Flat(4)
	for _, c := range []modelCase{{"cnn", flat4, 2}, {"mlp:0", flat4, 2}, {"mlp:3,x", flat4, 2}, {"softmax", training.Flat(0), 2},
		{"softmax", nil, 2}, {"softmax", training.Shape{1, 0, 4}, 2}, {"softmax", flat4, 1}} {
		if m, err := b.NewModel(c.spec, c.input, c.classes); err == nil {
			_ = training.CloseModel(m)
			t.Errorf("NewModel(%q, %s, %d) accepted a bad model", c.spec, c.input, c.classes)
		}
	}
}

// testFiniteDifferences checks every gradient entry of small networks against
// central differences of the float64 reference loss.
func testFiniteDifferences(t *testing.T, b training.Backend) {
	for _, s := range []modelCase{{"softmax", training.Flat(5), 3}, {"mlp:4", training.Shape{1, 2, 3}, 3}, {"mlp:5,6", training.Flat(4), 3}} {
		m, ref := newPair(t, b, s)
		sizes := ref.(*training.MLP).Sizes()
		params := initParams(m, 11)
		x, y := RandomBatch(rand.New(rand.NewPCG(3, 3)), 7, s.input.Size(), s.classes)
		grad := nanVector(len(params))
		loss := m.LossGrad(params, grad, x, y)
		checkHealthy(t, m, s.spec)

		p64 := widen(params)
		if want := referenceLoss(sizes, p64, x, y); !(math.Abs(loss-want) <= 1e-5*math.Max(1, want)) {
			t.Fatalf("%s: loss %g, float64 reference %g", s.spec, loss, want)
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
			if diff := math.Abs(numeric - float64(grad[i])); !(diff <= 1e-4+1e-3*math.Abs(numeric)) {
				t.Fatalf("%s: d loss / d param[%d] = %g, finite differences give %g", s.spec, i, grad[i], numeric)
			}
		}
	}
}

// testMatchesCPU grows and shrinks the batch, so scratch sized for a larger
// batch must serve a smaller one correctly.
func testMatchesCPU(t *testing.T, b training.Backend, tol float64) {
	for _, s := range modelCases {
		m, ref := newPair(t, b, s)
		params := initParams(m, 21)
		rng := rand.New(rand.NewPCG(5, 5))
		for _, batch := range []int{1, 7, 64, 130, 3, 64} {
			x, y := RandomBatch(rng, batch, s.input.Size(), s.classes)
			lossErr, gradErr := CompareLossGrad(m, ref, params, x, y)
			checkHealthy(t, m, s.spec)
			if !(lossErr <= tol && gradErr <= tol) {
				t.Fatalf("%s batch %d: loss off by %.3g, gradient by %.3g (relative); tolerance %g", s.spec, batch, lossErr, gradErr, tol)
			}
		}
	}
}

func testEmptyBatch(t *testing.T, b training.Backend) {
	s := modelCases[1]
	m, _ := newPair(t, b, s)
	params := initParams(m, 1)
	grad := nanVector(len(params))
	if loss := m.LossGrad(params, grad, nil, nil); loss != 0 {
		t.Fatalf("empty batch: loss %g, want 0", loss)
	}
	for i, g := range grad {
		if g != 0 {
			t.Fatalf("empty batch: grad[%d] = %g, want 0", i, g)
		}
	}
	if correct, loss := m.Evaluate(params, nil, nil); correct != 0 || loss != 0 {
		t.Fatalf("empty Evaluate = %d, %g; want 0, 0", correct, loss)
	}
	checkHealthy(t, m, s.spec)
}

// testEvaluate scores more rows than any backend's evaluation chunk.
func testEvaluate(t *testing.T, b training.Backend, tol float64) {
	const n = 1300
	for _, s := range modelCases {
		m, ref := newPair(t, b, s)
		params := initParams(m, 31)
		x, y := RandomBatch(rand.New(rand.NewPCG(9, 9)), n, s.input.Size(), s.classes)
		diff, ties, lossErr := CompareEvaluate(m, ref, params, x, y)
		checkHealthy(t, m, s.spec)
		if diff > ties {
			t.Fatalf("%s: %d more or fewer correct than the CPU, with %d near-ties that may flip", s.spec, diff, ties)
		}
		if !(lossErr <= tol) {
			t.Fatalf("%s: summed loss off by %.3g (relative)", s.spec, lossErr)
		}
		correct, lossSum := m.Evaluate(params, x, y)
		if correct < 0 || correct > n {
			t.Fatalf("%s: %d of %d correct", s.spec, correct, n)
		}
		// The mean loss Evaluate reports is the loss LossGrad minimises.
		grad := make([]float32, len(params))
		if e := RelErr(lossSum/n, m.LossGrad(params, grad, x, y)); !(e <= tol) {
			t.Fatalf("%s: Evaluate's mean loss and LossGrad's differ by %.3g", s.spec, e)
		}
	}
}

// testClones runs a model and its clones from several goroutines at once,
// each with its own batch sizes; every result must match the CPU.
func testClones(t *testing.T, b training.Backend, tol float64) {
	s := modelCases[2]
	m, ref := newPair(t, b, s)
	params := initParams(m, 41)
	models := []training.Model{m, m.Clone(), m.Clone()}
	for _, c := range models[1:] {
		t.Cleanup(func() { _ = training.CloseModel(c) })
		if c.Spec() != m.Spec() || c.NumParams() != m.NumParams() {
			t.Fatalf("clone is %s with %d params, original %s with %d", c.Spec(), c.NumParams(), m.Spec(), m.NumParams())
		}
	}
	var wg sync.WaitGroup
	errs := make([]string, len(models))
	for w, c := range models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 77))
			cref := ref.Clone()
			for round := range 6 {
				batch := 1 + (w*37+round*53)%90
				x, y := RandomBatch(rng, batch, s.input.Size(), s.classes)
				lossErr, gradErr := CompareLossGrad(c, cref, params, x, y)
				if err := training.ModelErr(c); err != nil {
					errs[w] = err.Error()
					return
				}
				if !(lossErr <= tol && gradErr <= tol) {
					errs[w] = "results differ from the CPU's"
					return
				}
			}
		}()
	}
	wg.Wait()
	for w, e := range errs {
		if e != "" {
			t.Errorf("model %d (0 is the original): %s", w, e)
		}
	}
}

// expectStopped checks the failure signals of a DeviceModel that has stopped.
func expectStopped(t *testing.T, m training.Model, s modelCase, what string) {
	t.Helper()
	params := make([]float32, m.NumParams())
	x, y := RandomBatch(rand.New(rand.NewPCG(1, 1)), 4, s.input.Size(), s.classes)
	grad := nanVector(len(params))
	if loss := m.LossGrad(params, grad, x, y); !math.IsNaN(loss) {
		t.Errorf("%s: LossGrad returned %g, want NaN", what, loss)
	}
	for i, g := range grad {
		if g != 0 {
			t.Fatalf("%s: grad[%d] = %g, want the gradient zeroed", what, i, g)
		}
	}
	if correct, loss := m.Evaluate(params, x, y); correct != 0 || !math.IsNaN(loss) {
		t.Errorf("%s: Evaluate = %d, %g; want 0, NaN", what, correct, loss)
	}
	if training.ModelErr(m) == nil {
		t.Errorf("%s: Err() is nil", what)
	}
}

func testModelClose(t *testing.T, b training.Backend, tol float64) {
	s := modelCases[1]
	m, ref := newPair(t, b, s)
	dm, ok := m.(training.DeviceModel)
	if !ok {
		t.Skipf("%s models hold no device memory", b.Name())
	}
	params := initParams(m, 51)
	x, y := RandomBatch(rand.New(rand.NewPCG(2, 2)), 16, s.input.Size(), s.classes)
	if lossErr, gradErr := CompareLossGrad(m, ref, params, x, y); !(lossErr <= tol && gradErr <= tol) {
		t.Fatalf("before Close: loss off by %.3g, gradient by %.3g", lossErr, gradErr)
	}
	clone := m.Clone()
	t.Cleanup(func() { _ = training.CloseModel(clone) })
	if err := dm.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := dm.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	expectStopped(t, m, s, "closed model")
	// Closing a model leaves its clones and the backend working.
	if lossErr, gradErr := CompareLossGrad(clone, ref, params, x, y); !(lossErr <= tol && gradErr <= tol) || training.ModelErr(clone) != nil {
		t.Fatalf("clone of a closed model: loss off by %.3g, gradient by %.3g, err %v", lossErr, gradErr, training.ModelErr(clone))
	}
}

func testBackendClose(t *testing.T, open func() (training.Backend, error), tol float64) {
	b, err := open()
	if err != nil {
		t.Fatalf("open a second backend: %v", err)
	}
	s := modelCases[2]
	m, ref := newPair(t, b, s)
	params := initParams(m, 61)
	x, y := RandomBatch(rand.New(rand.NewPCG(4, 4)), 32, s.input.Size(), s.classes)
	if lossErr, gradErr := CompareLossGrad(m, ref, params, x, y); !(lossErr <= tol && gradErr <= tol) {
		t.Fatalf("before Close: loss off by %.3g, gradient by %.3g", lossErr, gradErr)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := m.(training.DeviceModel); !ok {
		// Host models own no device state: they keep working.
		if lossErr, gradErr := CompareLossGrad(m, ref, params, x, y); !(lossErr <= tol && gradErr <= tol) {
			t.Fatalf("host model after its backend closed: loss off by %.3g, gradient by %.3g", lossErr, gradErr)
		}
		return
	}
	expectStopped(t, m, s, "model of a closed backend")
	expectStopped(t, m.Clone(), s, "clone made after its backend closed")
	if m2, err := b.NewModel(s.spec, s.input, s.classes); err == nil {
		expectStopped(t, m2, s, "model made after its backend closed")
	}
}
