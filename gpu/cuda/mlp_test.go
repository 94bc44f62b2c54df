package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

func emulatedBackend() (*Backend, *emuDevice) {
	dev := newEmuDevice()
	return newBackend(dev, "emulated GPU"), dev
}

func TestEmulatedBackendKeepsTheModelContract(t *testing.T) {
	modeltest.Run(t, func() (training.Backend, error) {
		b, _ := emulatedBackend()
		return b, nil
	}, modeltest.Config{})
}

// TestEmulatedMatchesCPUOnTheReferenceNetwork runs the reference
// MLP, whose layer widths and offsets are the ones a peer really uses.
func TestEmulatedMatchesCPUOnTheReferenceNetwork(t *testing.T) {
	b, _ := emulatedBackend()
	defer b.Close()
	m, err := b.NewModel("mlp:256,128", training.Flat(784), 10)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := training.ParseModel("mlp:256,128", training.Flat(784), 10)
	params := make([]float32, m.NumParams())
	m.Init(params, rand.New(rand.NewPCG(1, 2)))
	x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(3, 4)), 64, 784, 10)
	lossErr, gradErr := modeltest.CompareLossGrad(m, ref, params, x, y)
	if !(lossErr <= 1e-5 && gradErr <= 1e-5) {
		t.Fatalf("loss off by %.3g, gradient by %.3g", lossErr, gradErr)
	}
}

func TestGemmRowMajorAllTransposes(t *testing.T) {
	const m, n, k = 3, 5, 4
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(c int) []float32 {
		v := make([]float32, c)
		for i := range v {
			v[i] = float32(rng.IntN(9) - 4) // small integers: exact in float32
		}
		return v
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			dev := newEmuDevice()
			leave, _ := dev.enter()
			a, b, c := random(m*k), random(k*n), random(m*n)
			// Stored row-major: A is m×k (k×m when transposed), B k×n (n×k).
			lda, ldb := k, n
			at := func(i, p int) float32 { return a[i*k+p] }
			if ta {
				lda = m
				at = func(i, p int) float32 { return a[p*m+i] }
			}
			bt := func(p, j int) float32 { return b[p*n+j] }
			if tb {
				ldb = k
				bt = func(p, j int) float32 { return b[j*k+p] }
			}
			pa, _ := dev.alloc(4 * len(a))
			pb, _ := dev.alloc(4 * len(b))
			pc, _ := dev.alloc(4 * len(c))
			_ = dev.upload(pa, bytesOf(a))
			_ = dev.upload(pb, bytesOf(b))
			_ = dev.upload(pc, bytesOf(c))
			if err := gemmRowMajor(dev, ta, tb, m, n, k, 2, pa, lda, pb, ldb, 0.5, pc, n); err != nil {
				t.Fatalf("transA=%v transB=%v: %v", ta, tb, err)
			}
			got := make([]float32, m*n)
			_ = dev.download(bytesOf(got), pc)
			leave()
			for i := range m {
				for j := range n {
					var want float32
					for p := range k {
						want += at(i, p) * bt(p, j)
					}
					want = 2*want + 0.5*c[i*n+j]
					if got[i*n+j] != want {
						t.Fatalf("transA=%v transB=%v: C[%d][%d] = %g, want %g", ta, tb, i, j, got[i*n+j], want)
					}
				}
			}
		}
	}
}

// TestBuffersAreAllocatedOncePerBatchSize: a peer calls LossGrad every round
// with the same batch; after the first call no round may allocate.
func TestBuffersAreAllocatedOncePerBatchSize(t *testing.T) {
	b, dev := emulatedBackend()
	defer b.Close()
	m, _ := b.NewModel("mlp:16", training.Flat(12), 4)
	params := make([]float32, m.NumParams())
	m.Init(params, rand.New(rand.NewPCG(1, 1)))
	grad := make([]float32, len(params))
	rng := rand.New(rand.NewPCG(2, 2))
	step := func(batch int) {
		x, y := modeltest.RandomBatch(rng, batch, 12, 4)
		m.LossGrad(params, grad, x, y)
	}
	step(32)
	allocs := dev.counts["alloc"]
	for _, batch := range []int{32, 32, 7, 1, 32} {
		step(batch)
	}
	if dev.counts["alloc"] != allocs {
		t.Fatalf("%d allocations after the first step, want none", dev.counts["alloc"]-allocs)
	}
	step(33) // a larger batch regrows once
	if grew := dev.counts["alloc"] - allocs; grew == 0 || dev.counts["free"] == 0 {
		t.Fatalf("a larger batch allocated %d buffers and freed %d; want a regrow", grew, dev.counts["free"])
	}
	x, y := modeltest.RandomBatch(rng, 3000, 12, 4)
	allocs = dev.counts["alloc"]
	m.Evaluate(params, x, y)
	m.Evaluate(params, x, y)
	if got, perSet := dev.counts["alloc"]-allocs, 6+2*2; got != perSet {
		t.Fatalf("two evaluations of 3000 rows allocated %d buffers, want one set of %d (sized for %d rows)", got, perSet, evalRows)
	}
}

// TestDeviceFailureStopsTheModel fails the emulated GPU at every operation
// of a training step in turn: the model must report the failing call, return
// NaN with a zero gradient, keep failing, and never touch the device again.
func TestDeviceFailureStopsTheModel(t *testing.T) {
	ref, _ := training.ParseModel("mlp:8,6", training.Flat(5), 3)
	params := make([]float32, ref.NumParams())
	ref.Init(params, rand.New(rand.NewPCG(1, 1)))
	x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(2, 2)), 9, 5, 3)

	b, dev := emulatedBackend()
	m, _ := b.NewModel("mlp:8,6", training.Flat(5), 3)
	m.LossGrad(params, make([]float32, len(params)), x, y)
	opsPerStep := dev.ops
	b.Close()

	for failAt := 1; failAt <= opsPerStep; failAt++ {
		b, dev := emulatedBackend()
		dev.failAt = failAt
		m, _ := b.NewModel("mlp:8,6", training.Flat(5), 3)
		grad := make([]float32, len(params))
		for i := range grad {
			grad[i] = 1
		}
		loss := m.LossGrad(params, grad, x, y)
		err := training.ModelErr(m)
		var cerr *Error
		if !math.IsNaN(loss) || !errors.As(err, &cerr) || cerr.Call != dev.failCall {
			t.Fatalf("failure at operation %d (%s): loss %g, err %v", failAt, dev.failCall, loss, err)
		}
		for i, g := range grad {
			if g != 0 {
				t.Fatalf("failure at operation %d: grad[%d] = %g, want 0", failAt, i, g)
			}
		}
		ops := dev.ops
		dev.failAt = 0 // the device "recovers", the model must stay stopped
		if c, l := m.Evaluate(params, x, y); c != 0 || !math.IsNaN(l) || dev.ops != ops {
			t.Fatalf("failure at operation %d: a stopped model evaluated (%d, %g) with %d more device operations", failAt, c, l, dev.ops-ops)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("failure at operation %d: Close: %v", failAt, err)
		}
	}
}

// TestFallbackRecomputesOnTheCPU is the path a live peer takes when its GPU
// fails mid-run.
func TestFallbackRecomputesOnTheCPU(t *testing.T) {
	b, dev := emulatedBackend()
	var reports []string
	fb := training.WithCPUFallback(b, func(err error) { reports = append(reports, err.Error()) })
	m, _ := fb.NewModel("mlp:8", training.Flat(5), 3)
	ref, _ := training.ParseModel("mlp:8", training.Flat(5), 3)
	params := make([]float32, ref.NumParams())
	ref.Init(params, rand.New(rand.NewPCG(1, 1)))
	rng := rand.New(rand.NewPCG(2, 2))
	for step := range 4 {
		if step == 2 {
			dev.failAt = dev.ops + 3
		}
		x, y := modeltest.RandomBatch(rng, 6, 5, 3)
		if lossErr, gradErr := modeltest.CompareLossGrad(m, ref, params, x, y); !(lossErr <= 1e-5 && gradErr <= 1e-5) {
			t.Fatalf("step %d: loss off by %g, gradient by %g", step, lossErr, gradErr)
		}
	}
	if len(reports) != 1 || !strings.Contains(reports[0], "CUDA_ERROR_ILLEGAL_ADDRESS") {
		t.Fatalf("reports %q; want the device failure once", reports)
	}
}

// TestCloseFreesEverything: models free their own memory, the backend frees
// the rest, and the emulator's close refuses live allocations.
func TestCloseFreesEverything(t *testing.T) {
	b, dev := emulatedBackend()
	rng := rand.New(rand.NewPCG(1, 1))
	var models []training.Model
	for _, spec := range []string{"mlp:8", "mlp:16,4", "softmax"} {
		m, _ := b.NewModel(spec, training.Flat(6), 3)
		params := make([]float32, m.NumParams())
		m.Init(params, rng)
		x, y := modeltest.RandomBatch(rng, 20, 6, 3)
		m.LossGrad(params, make([]float32, len(params)), x, y)
		models = append(models, m, m.Clone())
	}
	live := b.liveBytes()
	if live <= 0 {
		t.Fatalf("live bytes %d after three training steps", live)
	}
	if err := training.CloseModel(models[0]); err != nil {
		t.Fatal(err)
	}
	if after := b.liveBytes(); after >= live {
		t.Fatalf("closing a model left live bytes at %d (was %d)", after, live)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b.liveBytes() != 0 || len(dev.liveAllocations()) != 0 {
		t.Fatalf("after Close: %d live bytes, allocations %v", b.liveBytes(), dev.liveAllocations())
	}
	for _, m := range models {
		if err := training.CloseModel(m); err != nil {
			t.Fatalf("closing a model after its backend: %v", err)
		}
	}
}

func TestModelRefusesBadShapes(t *testing.T) {
	b, _ := emulatedBackend()
	defer b.Close()
	m, _ := b.NewModel("mlp:4", training.Flat(3), 2)
	params := make([]float32, m.NumParams())
	for _, c := range []struct {
		name          string
		params, grad  []float32
		x             []float32
		y             []int32
		wantInMessage string
	}{
		{"short params", params[1:], params, make([]float32, 3), []int32{0}, "a vector of"},
		{"no gradient", params, nil, make([]float32, 3), []int32{0}, "a gradient vector of 0"},
		{"short x", params, make([]float32, len(params)), make([]float32, 2), []int32{0}, "feature values"},
		{"label too big", params, make([]float32, len(params)), make([]float32, 3), []int32{2}, "label 2 of sample 0"},
		{"negative label", params, make([]float32, len(params)), make([]float32, 6), []int32{0, -1}, "label -1 of sample 1"},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, c.wantInMessage) {
					t.Errorf("%s: panic %q, want one naming %q", c.name, msg, c.wantInMessage)
				}
			}()
			m.LossGrad(c.params, c.grad, c.x, c.y)
		}()
	}
	if err := training.ModelErr(m); err != nil {
		t.Fatalf("a refused call stopped the model: %v", err)
	}
}

// wrappedMLP is a kind of model the CUDA backend does not know: it computes
// as an MLP but is not one, as a CNN or GPT registered later would be.
type wrappedMLP struct{ training.Model }

// registerWrappedMLP adds "wrapped-mlp" to the registry once per test binary.
var registerWrappedMLP = sync.OnceFunc(func() {
	training.RegisterModel("wrapped-mlp", "wrapped-mlp", func(_ string, input training.Shape, classes int) (training.Model, error) {
		m, err := training.NewMLP(input.Size(), classes)
		return wrappedMLP{m}, err
	})
})

// TestNewModelRefusesOtherKinds: a valid spec of a kind the backend cannot
// run is a clear error, and with the CPU fallback the model trains there.
func TestNewModelRefusesOtherKinds(t *testing.T) {
	registerWrappedMLP()
	b, _ := emulatedBackend()
	defer b.Close()
	if m, err := b.NewModel("wrapped-mlp", training.Shape{1, 2, 2}, 3); err == nil || !strings.Contains(err.Error(), "runs MLPs only") {
		t.Fatalf("NewModel(wrapped-mlp) = %v, %v; want an error saying the backend runs MLPs only", m, err)
	}
	var reports []string
	fb := training.WithCPUFallback(b, func(err error) { reports = append(reports, err.Error()) })
	m, err := fb.NewModel("wrapped-mlp", training.Shape{1, 2, 2}, 3)
	if err != nil || len(reports) != 1 || !strings.Contains(reports[0], "runs MLPs only") {
		t.Fatalf("with fallback: %v, %v, reports %q; want a CPU model and one report", m, err, reports)
	}
}
