package cuda

import (
	"errors"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

// The tests in this file need a real GPU and skip, saying what is missing,
// without one. They are written to run from a prebuilt test binary on a GPU
// machine that has no Go:
//
//	go test -c -o bin/gpu.test ./gpu/cuda/
//	./bin/gpu.test -test.run . -test.bench .

func openGPU(tb testing.TB) *Backend {
	tb.Helper()
	b, err := Open(0)
	if err != nil {
		tb.Skipf("no usable GPU: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	tb.Logf("device: %s", b.Device())
	return b.(*Backend)
}

func TestGPUBackendKeepsTheModelContract(t *testing.T) {
	openGPU(t)
	modeltest.Run(t, func() (training.Backend, error) { return Open(0) }, modeltest.Config{})
}

// TestGPUMatchesCPU holds the GPU to the CPU within 1e-4 relative error on
// the reference network and a wide one, at a peer's batch size and a large
// one, for the train step and for evaluation.
func TestGPUMatchesCPU(t *testing.T) {
	b := openGPU(t)
	const tol = 1e-4
	for _, spec := range []string{"mlp:256,128", "mlp:1024,1024"} {
		m, err := b.NewModel(spec, training.Flat(784), 10)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := training.ParseModel(spec, training.Flat(784), 10)
		params := make([]float32, m.NumParams())
		m.Init(params, rand.New(rand.NewPCG(1, 2)))
		rng := rand.New(rand.NewPCG(3, 4))
		for _, batch := range []int{64, 512} {
			x, y := modeltest.RandomBatch(rng, batch, 784, 10)
			lossErr, gradErr := modeltest.CompareLossGrad(m, ref, params, x, y)
			if err := training.ModelErr(m); err != nil {
				t.Fatalf("%s batch %d: %v", spec, batch, err)
			}
			t.Logf("%s batch %d: loss relative error %.2g, gradient %.2g", ref.Spec(), batch, lossErr, gradErr)
			if !(lossErr <= tol && gradErr <= tol) {
				t.Errorf("%s batch %d: loss off by %.3g, gradient by %.3g; tolerance %g", ref.Spec(), batch, lossErr, gradErr, tol)
			}
		}
		x, y := modeltest.RandomBatch(rng, 1500, 784, 10) // two evaluation chunks
		diff, ties, lossErr := modeltest.CompareEvaluate(m, ref, params, x, y)
		t.Logf("%s Evaluate of 1500 rows: %d correct-count difference (%d near-ties), summed loss relative error %.2g", ref.Spec(), diff, ties, lossErr)
		if diff > ties || !(lossErr <= tol) {
			t.Errorf("%s Evaluate: %d more or fewer correct (%d near-ties), loss off by %.3g", ref.Spec(), diff, ties, lossErr)
		}
		if err := training.CloseModel(m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGPUTrains: SGD on the GPU fits data a linear model cannot.
func TestGPUTrains(t *testing.T) {
	b := openGPU(t)
	m, _ := b.NewModel("mlp:16", training.Flat(2), 2)
	params := make([]float32, m.NumParams())
	rng := rand.New(rand.NewPCG(5, 6))
	m.Init(params, rng)
	x := make([]float32, 0, 400)
	y := make([]int32, 0, 200)
	for range 200 {
		a, c := rng.Float64()*2-1, rng.Float64()*2-1
		x = append(x, float32(a), float32(c))
		y = append(y, map[bool]int32{true: 1, false: 0}[(a > 0) == (c > 0)])
	}
	opt := training.OptimizerConfig{Kind: "sgd", Momentum: 0.9}.New(len(params))
	grad := make([]float32, len(params))
	for range 1500 {
		m.LossGrad(params, grad, x, y)
		opt.Step(params, grad, 0.1)
	}
	if correct, _ := m.Evaluate(params, x, y); correct < 190 || training.ModelErr(m) != nil {
		t.Fatalf("the GPU model fits %d/200 XOR points (err %v)", correct, training.ModelErr(m))
	}
}

// TestGPUCloseFreesMemory measures the device's free memory: a model's
// buffers come back on Close, everything comes back on the backend's Close.
func TestGPUCloseFreesMemory(t *testing.T) {
	b := openGPU(t)
	free := func() uint64 {
		var f uint64
		if err := b.run(func(dev device) error {
			var err error
			f, _, err = dev.memInfo()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return f
	}
	step := func(m training.Model, batch int) {
		params := make([]float32, m.NumParams())
		m.Init(params, rand.New(rand.NewPCG(1, 1)))
		x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(2, 2)), batch, 784, 10)
		m.LossGrad(params, make([]float32, len(params)), x, y)
		if err := training.ModelErr(m); err != nil {
			t.Fatal(err)
		}
	}
	// cuBLAS keeps a workspace from the first SGEMM that needs one until its
	// handle goes: run the same shapes once before taking the baseline.
	warm, _ := b.NewModel("mlp:1024,1024", training.Flat(784), 10)
	step(warm, 512)
	_ = training.CloseModel(warm)

	before := free()
	m, _ := b.NewModel("mlp:1024,1024", training.Flat(784), 10)
	step(m, 512)
	held := b.liveBytes()
	during := free()
	if held < 20<<20 || during > before || before-during < uint64(held)*9/10 {
		t.Fatalf("a 784-1024-1024-10 model at batch 512 holds %d bytes by its count, %d by the device's", held, before-during)
	}
	if err := training.CloseModel(m); err != nil {
		t.Fatal(err)
	}
	const slack = 4 << 20 // the allocator's page granularity
	if after := free(); after+slack < before || b.liveBytes() != 0 {
		t.Fatalf("after Close %d bytes free, before the model %d; %d bytes still counted", after, before, b.liveBytes())
	}

	m2, _ := b.NewModel("mlp:256,128", training.Flat(784), 10)
	step(m2, 64)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b.liveBytes() != 0 {
		t.Fatalf("%d bytes counted after the backend closed", b.liveBytes())
	}
	grad := make([]float32, m2.NumParams())
	x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(3, 3)), 4, 784, 10)
	m2.LossGrad(make([]float32, m2.NumParams()), grad, x, y)
	if err := training.ModelErr(m2); !errors.Is(err, ErrClosed) {
		t.Fatalf("a model of a closed backend reports %v, want ErrClosed", err)
	}
}

func TestGPUOpenRejectsAMissingDevice(t *testing.T) {
	b := openGPU(t)
	if !strings.Contains(b.Device(), "sm_") || !strings.Contains(b.Device(), "cuBLAS") {
		t.Errorf("device description %q lacks the architecture or cuBLAS version", b.Device())
	}
	if _, err := Open(1 << 20); err == nil || !strings.Contains(err.Error(), "the driver sees") {
		t.Fatalf("Open(1<<20) = %v; want an error counting the GPUs", err)
	}
}

// TestGPUOpenUUID opens GPU 0 by the UUID nvidia-smi reports for it: NVML's
// UUID must name the same GPU for CUDA.
func TestGPUOpenUUID(t *testing.T) {
	openGPU(t)
	out, err := exec.Command("nvidia-smi", "--query-gpu=uuid,name", "--format=csv,noheader").Output()
	if err != nil {
		t.Skipf("nvidia-smi unavailable to name the GPUs: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		uuid, name, _ := strings.Cut(line, ", ")
		b, err := OpenUUID(uuid)
		if err != nil {
			t.Fatalf("OpenUUID(%s): %v", uuid, err)
		}
		t.Logf("%s: %s", uuid, b.Device())
		if !strings.Contains(b.Device(), strings.TrimPrefix(name, "NVIDIA ")) {
			t.Errorf("UUID %s is %q to nvidia-smi, but opened %q", uuid, name, b.Device())
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenUUID("GPU-00000000-0000-0000-0000-000000000000"); err == nil || !strings.Contains(err.Error(), "no GPU with UUID") {
		t.Fatalf("a UUID no GPU has: %v", err)
	}
}
