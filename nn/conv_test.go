package nn_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

// convCase is a layer the conv golden group and the finite-difference
// checks both build, from the config scripts/golden.py writes.
type convCase struct {
	Kind                     string
	C, H, W                  int
	Out, Kernel, Stride, Pad int
	Bias                     bool
	Groups                   int
}

func (c convCase) String() string {
	return fmt.Sprintf("%s_%dx%dx%d_out%d_k%ds%dp%d_g%d", c.Kind, c.C, c.H, c.W, c.Out, c.Kernel, c.Stride, c.Pad, c.Groups)
}

func buildConvCase[F nn.Float](t testing.TB, c convCase) nn.Layer[F] {
	t.Helper()
	in := nn.Image{C: c.C, H: c.H, W: c.W}
	var (
		l   nn.Layer[F]
		err error
	)
	switch c.Kind {
	case "conv":
		l, err = nn.NewConv2d[F](in, c.Out, c.Kernel, c.Stride, c.Pad, c.Bias)
	case "maxpool":
		l, err = nn.NewMaxPool2d[F](in, c.Kernel, c.Stride)
	case "avgpool":
		l, err = nn.NewAvgPool2d[F](in, c.Kernel, c.Stride)
	case "global_avgpool":
		l, err = nn.NewGlobalAvgPool2d[F](in)
	case "groupnorm":
		l, err = nn.NewGroupNorm[F](in, c.Groups)
	default:
		t.Fatalf("unknown layer kind %q", c.Kind)
	}
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	return l
}

var convCases = []convCase{
	{Kind: "conv", C: 3, H: 7, W: 5, Out: 4, Kernel: 3, Stride: 2, Pad: 1, Bias: true},
	{Kind: "conv", C: 1, H: 6, W: 7, Out: 3, Kernel: 5, Stride: 1, Pad: 2, Bias: true},
	{Kind: "conv", C: 2, H: 5, W: 5, Out: 3, Kernel: 3, Stride: 1, Pad: 0},
	{Kind: "conv", C: 3, H: 5, W: 6, Out: 2, Kernel: 1, Stride: 2, Pad: 0},
	{Kind: "conv", C: 2, H: 4, W: 3, Out: 2, Kernel: 3, Stride: 3, Pad: 2, Bias: true},
	{Kind: "conv", C: 1, H: 1, W: 2, Out: 2, Kernel: 5, Stride: 1, Pad: 2, Bias: true},
	{Kind: "maxpool", C: 2, H: 7, W: 7, Kernel: 2, Stride: 2},
	{Kind: "maxpool", C: 2, H: 9, W: 8, Kernel: 3, Stride: 2},
	{Kind: "avgpool", C: 3, H: 7, W: 6, Kernel: 2, Stride: 2},
	{Kind: "avgpool", C: 2, H: 5, W: 5, Kernel: 3, Stride: 1},
	{Kind: "global_avgpool", C: 4, H: 5, W: 3},
	{Kind: "groupnorm", C: 6, H: 5, W: 4, Groups: 3},
	{Kind: "groupnorm", C: 4, H: 3, W: 3, Groups: 1},
	{Kind: "groupnorm", C: 5, H: 2, W: 3, Groups: 5},
}

func TestConvLayersGradientsMatchFiniteDifferences(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			// Max pooling is not differentiable where two window values tie;
			// distinct normal draws keep the check away from that.
			nntest.CheckGradients(t, buildConvCase[float64](t, c), 3, uint64(10+i), nntest.GradCheck{})
		})
	}
}

func TestConvLayersMatchPyTorch(t *testing.T) {
	for _, g := range nntest.LoadGolden(t, "testdata/golden/conv.json") {
		var c convCase
		if err := json.Unmarshal(g.Config, &c); err != nil {
			t.Fatal(err)
		}
		t.Run(g.Name, func(t *testing.T) { nntest.CheckGolden(t, buildConvCase[float32](t, c), g) })
	}
}

// A batch large enough to split into several chunks must give bit for bit
// the same outputs and gradients however many goroutines compute it, and
// the same as the samples computed one at a time would (up to rounding of
// the gradient sum).
func TestConvLayersGiveTheSameResultsOnAnyNumberOfGoroutines(t *testing.T) {
	defer nn.SetParallelism(nn.SetParallelism(1))
	for _, c := range []convCase{
		{Kind: "conv", C: 3, H: 12, W: 11, Out: 5, Kernel: 3, Stride: 1, Pad: 1, Bias: true},
		{Kind: "groupnorm", C: 6, H: 5, W: 4, Groups: 2},
		{Kind: "maxpool", C: 3, H: 8, W: 8, Kernel: 2, Stride: 2},
	} {
		const n = 37
		l := buildConvCase[float32](t, c)
		rng := rand.New(rand.NewPCG(5, 5))
		p := make([]float32, nn.NumParams(l.Params()))
		nn.InitParams(l.Params(), p, rng)
		x, dy := normals(rng, n*l.InSize()), normals(rng, n*l.OutSize())
		run := func(workers int) (y, g, dx []float32) {
			nn.SetParallelism(workers)
			y = slices.Clone(l.Forward(p, x, n))
			g = make([]float32, len(p))
			dx = slices.Clone(l.Backward(p, g, dy, n, true))
			return y, g, dx
		}
		y1, g1, dx1 := run(1)
		for _, workers := range []int{2, 3, 8} {
			y, g, dx := run(workers)
			if !slices.Equal(y, y1) || !slices.Equal(g, g1) || !slices.Equal(dx, dx1) {
				t.Errorf("%s: %d goroutines give different results from one", c.Kind, workers)
			}
		}
		// A convolution too large to keep its patches for the backward pass
		// unrolls them again, to the same effect.
		old := nn.SetKeptPatchesMax(0)
		y, g, dx := run(2)
		nn.SetKeptPatchesMax(old)
		if !slices.Equal(y, y1) || !slices.Equal(g, g1) || !slices.Equal(dx, dx1) {
			t.Errorf("%s: unrolling the patches again gives different results from keeping them", c.Kind)
		}
	}
}

func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestConvLayersRefuseShapesTheyCannotTake(t *testing.T) {
	in := nn.Image{C: 6, H: 4, W: 4}
	for name, err := range map[string]error{
		"groups that do not divide the channels": second(nn.NewGroupNorm[float32](in, 4)),
		"zero groups":                            second(nn.NewGroupNorm[float32](in, 0)),
		"a kernel wider than the padded input":   second(nn.NewConv2d[float32](in, 3, 5, 1, 0, true)),
		"stride 0":                               second(nn.NewConv2d[float32](in, 3, 3, 0, 1, true)),
		"negative padding":                       second(nn.NewConv2d[float32](in, 3, 3, 1, -1, true)),
		"no output channels":                     second(nn.NewConv2d[float32](in, 0, 3, 1, 1, true)),
		"a pool window larger than the map":      second(nn.NewMaxPool2d[float32](in, 5, 5)),
		"an empty image":                         second(nn.NewAvgPool2d[float32](nn.Image{C: 1, H: 0, W: 3}, 1, 1)),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "nn: ") {
			t.Errorf("%s: error %q does not say where it comes from", name, err)
		}
	}
	err := second(nn.NewGroupNorm[float32](in, 4))
	if err == nil || !strings.Contains(err.Error(), "6 channels") || !strings.Contains(err.Error(), "4 groups") {
		t.Errorf("error %v does not name the channels and groups", err)
	}
}

func second[T any](_ T, err error) error { return err }

// Where a window holds equal largest values, the gradient goes to the first
// of them in row-major order, as PyTorch sends it; a NaN makes the output
// NaN and takes the gradient (the last one, as in PyTorch).
func TestMaxPoolBreaksTiesAsPyTorchDoes(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		kernel, stride int
		x              []float32 // one 1×4×4 plane
		wantDX         []float32
	}{
		{2, 2,
			[]float32{1, 3, 0, 0, 3, 3, 0, 0, 5, 4, 7, nan, 5, 5, 7, nan},
			[]float32{0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}},
		{3, 1,
			[]float32{2, 0, 2, 9, 0, 2, 0, 9, 2, 0, 1, 9, 9, 9, 9, 9},
			[]float32{1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0}},
	} {
		l, err := nn.NewMaxPool2d[float32](nn.Image{C: 1, H: 4, W: 4}, c.kernel, c.stride)
		if err != nil {
			t.Fatal(err)
		}
		y := l.Forward(nil, c.x, 1)
		dy := make([]float32, len(y))
		for i := range dy {
			dy[i] = 1
		}
		dx := l.Backward(nil, nil, dy, 1, true)
		if !slices.Equal(dx, c.wantDX) {
			t.Errorf("kernel %d stride %d: dx %v, want %v (y %v)", c.kernel, c.stride, dx, c.wantDX, y)
		}
		if c.kernel == 2 && (!math.IsNaN(float64(y[3])) || !slices.Equal(y[:3], []float32{3, 0, 5})) {
			t.Errorf("outputs %v, want [3 0 5 NaN]", y)
		}
	}
}
