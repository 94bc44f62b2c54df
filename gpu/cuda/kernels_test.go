package cuda

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

//go:embed kernels.cu
var kernelsSource string

// TestPTXIsGeneratedFromTheSource fails when kernels.cu was edited without
// regenerating kernels.ptx (make ptx).
func TestPTXIsGeneratedFromTheSource(t *testing.T) {
	m := regexp.MustCompile(`(?m)^// source-sha256: ([0-9a-f]{64})$`).FindStringSubmatch(kernelsPTX)
	if m == nil {
		t.Fatal("kernels.ptx has no source-sha256 line; regenerate it with make ptx")
	}
	sum := sha256.Sum256([]byte(kernelsSource))
	if got := hex.EncodeToString(sum[:]); got != m[1] {
		t.Fatalf("kernels.cu has SHA-256 %s but kernels.ptx was generated from %s: run make ptx", got, m[1])
	}
}

// TestPTXMatchesTheKernelTable: the Go side launches kernels by name with
// argument kinds from kernelSpecs; a mismatch with the PTX would pass
// garbage to the GPU.
func TestPTXMatchesTheKernelTable(t *testing.T) {
	entries := regexp.MustCompile(`\.visible \.entry (\w+)\(([^)]*)\)`).FindAllStringSubmatch(kernelsPTX, -1)
	params := regexp.MustCompile(`\.param \.(\w+) \w+`)
	kinds := map[string]paramKind{"u64": paramPtr, "u32": paramInt, "s32": paramInt, "f32": paramFloat}
	found := map[string][]paramKind{}
	for _, e := range entries {
		var ps []paramKind
		for _, p := range params.FindAllStringSubmatch(e[2], -1) {
			k, ok := kinds[p[1]]
			if !ok {
				t.Fatalf("kernel %s has a .%s parameter the Go side cannot pass", e[1], p[1])
			}
			ps = append(ps, k)
		}
		found[e[1]] = ps
	}
	if len(found) != int(numKernels) {
		t.Errorf("the PTX has %d kernels, the Go table %d", len(found), numKernels)
	}
	for _, spec := range kernelSpecs {
		ps, ok := found[spec.name]
		if !ok {
			t.Errorf("kernel %s is not in the PTX", spec.name)
			continue
		}
		if len(ps) != len(spec.params) {
			t.Errorf("kernel %s: PTX has %v parameters, Go table %v", spec.name, ps, spec.params)
			continue
		}
		for i := range ps {
			if ps[i] != spec.params[i] {
				t.Errorf("kernel %s parameter %d: PTX %v, Go table %v", spec.name, i, ps[i], spec.params[i])
			}
		}
	}
}

// TestPTXTargetsWhatTheDriverChecks ties the PTX header to the driver and
// GPU minimums Open enforces: PTX ISA 7.8 needs a CUDA 11.8 driver.
func TestPTXTargetsWhatTheDriverChecks(t *testing.T) {
	v := regexp.MustCompile(`(?m)^\.version (\d+)\.(\d+)$`).FindStringSubmatch(kernelsPTX)
	target := regexp.MustCompile(`(?m)^\.target sm_(\d+)$`).FindStringSubmatch(kernelsPTX)
	if v == nil || target == nil {
		t.Fatal("kernels.ptx lacks .version or .target")
	}
	major, _ := strconv.Atoi(v[1])
	minor, _ := strconv.Atoi(v[2])
	if isa := major*10 + minor; isa > 78 {
		t.Errorf("PTX ISA %d.%d needs a newer driver than minDriverVersion %s allows", major, minor, version(minDriverVersion))
	}
	if sm, _ := strconv.Atoi(target[1]); sm > minComputeCapability {
		t.Errorf("PTX targets sm_%d, newer than minComputeCapability %d", sm, minComputeCapability)
	}
}

func TestLaunchShape(t *testing.T) {
	for _, c := range []struct {
		items int
		grid  uint32
	}{{0, 1}, {1, 1}, {256, 1}, {257, 2}, {512 * 1024, 2048}, {1 << 30, maxBlocks}} {
		grid, block := launchShape(c.items)
		if grid != c.grid || block != threadsPerBlock {
			t.Errorf("launchShape(%d) = %d×%d, want %d×%d", c.items, grid, block, c.grid, threadsPerBlock)
		}
	}
}

func TestCheckArgsRefusesMismatches(t *testing.T) {
	good := []kernelArg{ptrArg(1), intArg(3), intArg(4), ptrArg(2)}
	if err := checkArgs(kernelColSum, good); err != nil {
		t.Fatalf("good arguments refused: %v", err)
	}
	for name, args := range map[string][]kernelArg{
		"too few":     good[:3],
		"too many":    append(good[:4:4], intArg(1)),
		"float←int":   {ptrArg(1), floatArg(3), intArg(4), ptrArg(2)},
		"int←ptr":     {ptrArg(1), ptrArg(3), intArg(4), ptrArg(2)},
		"ptr←int":     {intArg(1), intArg(3), intArg(4), ptrArg(2)},
		"ptr←float":   {ptrArg(1), intArg(3), intArg(4), floatArg(2)},
		"no args":     nil,
		"wrong shape": {ptrArg(1)},
	} {
		if err := checkArgs(kernelColSum, args); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// hostShim compiles kernels.cu as plain C: __global__ disappears, the thread
// coordinates become variables, and each launcher runs every (block, thread)
// of a grid in turn. The kernels never talk across threads, so running them
// one after another computes what the GPU computes. C rather than C++ so the
// test runs wherever cgo's compiler is; the only C++ in kernels.cu, its
// extern "C" linkage, is taken out of the copy that is compiled.
const hostShim = `#include <math.h>
#include <string.h>
struct gm_dim3 { unsigned int x, y, z; };
static struct gm_dim3 blockIdx, blockDim, threadIdx, gridDim;
#define __global__
static inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, sizeof d); return d; }
#include "kernels.c"
#define GM_RUN(call) \
	gridDim.x = grid; blockDim.x = block; \
	for (unsigned b = 0; b < grid; b++) for (unsigned t = 0; t < block; t++) { blockIdx.x = b; threadIdx.x = t; call; }
void host_bias_act(unsigned grid, unsigned block, float *out, const float *bias, int rows, int cols, int relu) { GM_RUN(gm_bias_act(out, bias, rows, cols, relu)) }
void host_relu_backward(unsigned grid, unsigned block, float *delta, const float *act, int n) { GM_RUN(gm_relu_backward(delta, act, n)) }
void host_softmax_xent(unsigned grid, unsigned block, const float *logits, const int *labels, int rows, int cols, float scale, float *delta, double *loss) { GM_RUN(gm_softmax_xent(logits, labels, rows, cols, scale, delta, loss)) }
void host_xent_eval(unsigned grid, unsigned block, const float *logits, const int *labels, int rows, int cols, double *loss, int *correct) { GM_RUN(gm_xent_eval(logits, labels, rows, cols, loss, correct)) }
void host_col_sum(unsigned grid, unsigned block, const float *m, int rows, int cols, float *out) { GM_RUN(gm_col_sum(m, rows, cols, out)) }
`

type hostKernels struct {
	biasAct      func(grid, block uint32, out, bias []float32, rows, cols, relu int32)
	reluBackward func(grid, block uint32, delta, act []float32, n int32)
	softmaxXent  func(grid, block uint32, logits []float32, labels []int32, rows, cols int32, scale float32, delta []float32, loss []float64)
	xentEval     func(grid, block uint32, logits []float32, labels []int32, rows, cols int32, loss []float64, correct []int32)
	colSum       func(grid, block uint32, m []float32, rows, cols int32, out []float32)
}

func compileHostKernels(t *testing.T) *hostKernels {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler (cc or gcc) to build kernels.cu for the host")
		}
	}
	dir := t.TempDir()
	source := strings.ReplaceAll(kernelsSource, `extern "C" `, "")
	for name, text := range map[string]string{"kernels.c": source, "shim.c": hostShim} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(dir, "libkernels.so")
	// -ffp-contract=off: no fused multiply-adds the Go transcription lacks.
	if out, err := exec.Command(cc, "-std=c99", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", lib, filepath.Join(dir, "shim.c"), "-lm").CombinedOutput(); err != nil {
		t.Fatalf("compiling kernels.cu for the host: %v\n%s", err, out)
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatalf("loading the host kernels: %v", err)
	}
	k := &hostKernels{}
	if err := bindSymbols(h, lib, []symbol{
		sym(&k.biasAct, "host_bias_act"), sym(&k.reluBackward, "host_relu_backward"),
		sym(&k.softmaxXent, "host_softmax_xent"), sym(&k.xentEval, "host_xent_eval"), sym(&k.colSum, "host_col_sum"),
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKernelSourceMatchesTheEmulator runs the real kernels.cu, compiled for
// the host, against the emulator's transcription on the same inputs, with
// small grids so the grid-stride loops wrap and the launch shape gradmesh
// uses. Everything must agree bit for bit except the results of exp and log,
// where the C library and Go may differ in the last bit.
func TestKernelSourceMatchesTheEmulator(t *testing.T) {
	host := compileHostKernels(t)
	rng := rand.New(rand.NewPCG(8, 9))
	randoms := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(3 * rng.NormFloat64())
		}
		return v
	}
	const rows, cols = 37, 11
	for _, shape := range [][2]uint32{{1, 1}, {3, 4}, {2, 256}, {0, 0}} {
		grid, block := shape[0], shape[1]
		if grid == 0 {
			grid, block = launchShape(rows * cols)
		}
		dev := newEmuDevice()
		leave, _ := dev.enter()
		put := func(b []byte) devicePtr {
			p, _ := dev.alloc(len(b))
			_ = dev.upload(p, b)
			return p
		}
		get := func(p devicePtr, b []byte) { _ = dev.download(b, p) }

		out, bias := randoms(rows*cols), randoms(cols)
		for _, relu := range []int32{0, 1} {
			want := append([]float32(nil), out...)
			pOut := put(bytesOf(want))
			must(t, emuBiasAct(dev, pOut, put(bytesOf(bias)), rows, cols, int(relu)))
			get(pOut, bytesOf(want))
			got := append([]float32(nil), out...)
			host.biasAct(grid, block, got, bias, rows, cols, relu)
			sameFloats(t, "gm_bias_act", got, want, 0)
		}

		delta, act := randoms(rows*cols), randoms(rows*cols)
		act[5] = 0 // the boundary: no gradient through an exactly-off unit
		want := append([]float32(nil), delta...)
		pDelta := put(bytesOf(want))
		must(t, emuReluBackward(dev, pDelta, put(bytesOf(act)), rows*cols))
		get(pDelta, bytesOf(want))
		got := append([]float32(nil), delta...)
		host.reluBackward(grid, block, got, act, rows*cols)
		sameFloats(t, "gm_relu_backward", got, want, 0)

		logits := randoms(rows * cols)
		labels := make([]int32, rows)
		for i := range labels {
			labels[i] = int32(rng.IntN(cols))
		}
		labels[3], labels[7] = cols, -1 // out of range: NaN loss, no stray writes
		// A tie at the maximum of row 2: the first one wins, as on the CPU.
		logits[2*cols+1], logits[2*cols+4], labels[2] = 50, 50, 1
		scale := float32(1) / rows
		wantDelta, wantLoss := make([]float32, rows*cols), make([]float64, rows)
		pL, pY, pD, pLoss := put(bytesOf(logits)), put(bytesOf(labels)), put(bytesOf(randoms(rows*cols))), put(bytesOf(wantLoss))
		must(t, emuSoftmaxXent(dev, pL, pY, rows, cols, scale, pD, pLoss))
		get(pD, bytesOf(wantDelta))
		get(pLoss, bytesOf(wantLoss))
		gotDelta, gotLoss := randoms(rows*cols), make([]float64, rows)
		host.softmaxXent(grid, block, logits, labels, rows, cols, scale, gotDelta, gotLoss)
		sameFloats(t, "gm_softmax_xent delta", gotDelta, wantDelta, 1)
		sameDoubles(t, "gm_softmax_xent loss", gotLoss, wantLoss)

		wantCorrect := make([]int32, rows)
		pC := put(bytesOf(wantCorrect))
		must(t, emuXentEval(dev, pL, pY, rows, cols, pLoss, pC))
		get(pLoss, bytesOf(wantLoss))
		get(pC, bytesOf(wantCorrect))
		gotCorrect := make([]int32, rows)
		host.xentEval(grid, block, logits, labels, rows, cols, gotLoss, gotCorrect)
		sameDoubles(t, "gm_xent_eval loss", gotLoss, wantLoss)
		for i := range gotCorrect {
			if gotCorrect[i] != wantCorrect[i] {
				t.Fatalf("gm_xent_eval row %d: kernels.cu says correct=%d, the emulator %d", i, gotCorrect[i], wantCorrect[i])
			}
		}

		wantSums := make([]float32, cols)
		pS := put(bytesOf(wantSums))
		must(t, emuColSum(dev, pL, rows, cols, pS))
		get(pS, bytesOf(wantSums))
		gotSums := make([]float32, cols)
		host.colSum(grid, block, logits, rows, cols, gotSums)
		sameFloats(t, "gm_col_sum", gotSums, wantSums, 0)
		leave()
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameFloats compares within ulps units in the last place; NaN equals NaN.
func sameFloats(t *testing.T, what string, got, want []float32, ulps int) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if math.IsNaN(float64(g)) && math.IsNaN(float64(w)) {
			continue
		}
		d := int64(math.Float32bits(g)) - int64(math.Float32bits(w))
		if (g < 0) != (w < 0) && g != w {
			d = math.MaxInt32
		}
		if d > int64(ulps) || -d > int64(ulps) {
			t.Fatalf("%s[%d]: kernels.cu gives %g, the emulator %g", what, i, g, w)
		}
	}
}

func sameDoubles(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if math.IsNaN(g) && math.IsNaN(w) {
			continue
		}
		if !(math.Abs(g-w) <= 1e-14*math.Max(1, math.Abs(w))) {
			t.Fatalf("%s[%d]: kernels.cu gives %g, the emulator %g", what, i, g, w)
		}
	}
}
