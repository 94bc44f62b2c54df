package training

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

// modelGolden is a whole model's loss and gradient as PyTorch computed them
// (scripts/golden.py, group models), on parameters and a batch both sides
// write by formula (formulaParams, formulaBatch).
type modelGolden struct {
	Name    string    `json:"name"`
	Spec    string    `json:"spec"`
	Shape   []int     `json:"shape"`
	Classes int       `json:"classes"`
	N       int       `json:"n"`
	Loss    float64   `json:"loss"`
	Names   []string  `json:"names"`
	Shapes  [][]int   `json:"shapes"`
	Grads   []float32 `json:"grads"`
}

// formulaParams is golden.py's formula_params: tensor t, value i is
// 0.5·sin(0.7·i + 0.3·t + 0.1)/√fanIn.
func formulaParams(ps []nn.Param) []float32 {
	var out []float32
	for t, p := range ps {
		fan := 1
		for _, d := range p.Shape[1:] {
			fan *= d
		}
		for i := range p.Size() {
			out = append(out, float32(0.5*math.Sin(0.7*float64(i)+0.3*float64(t)+0.1)/math.Sqrt(float64(fan))))
		}
	}
	return out
}

// formulaBatch is golden.py's formula_batch.
func formulaBatch(n, size, classes int) ([]float32, []int32) {
	x := make([]float32, n*size)
	for j := range x {
		x[j] = float32(math.Sin(1.7*float64(j)) + 0.5*math.Cos(0.23*float64(j)))
	}
	y := make([]int32, n)
	for s := range y {
		y[s] = int32((3*s + 1) % classes)
	}
	return x, y
}

func TestCNNModelsMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/models.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/golden.py models)", err)
	}
	var cases []modelGolden
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := ParseModel(c.Spec, Shape(c.Shape), c.Classes)
			if err != nil {
				t.Fatal(err)
			}
			net := m.(*Network)
			ps := net.Params()
			var names []string
			var shapes [][]int
			for _, p := range ps {
				names, shapes = append(names, p.Name), append(shapes, p.Shape)
			}
			if !slices.Equal(names, c.Names) || fmt.Sprint(shapes) != fmt.Sprint(c.Shapes) {
				t.Fatalf("parameters\n%v %v\nPyTorch's\n%v %v", names, shapes, c.Names, c.Shapes)
			}
			params := formulaParams(ps)
			x, y := formulaBatch(c.N, Shape(c.Shape).Size(), c.Classes)
			grad := make([]float32, len(params))
			loss := m.LossGrad(params, grad, x, y)
			if math.Abs(loss-c.Loss) > 1e-5*c.Loss {
				t.Errorf("loss %.7g, PyTorch's %.7g", loss, c.Loss)
			}
			off := 0
			for i, p := range ps {
				if e := nntest.RelErr(grad[off:off+p.Size()], c.Grads[off:off+p.Size()]); e > nntest.Tolerance {
					t.Errorf("%s: gradient relative error %.3g against PyTorch", c.Names[i], e)
				}
				off += p.Size()
			}
		})
	}
}

// The float64 build of the same bodies passes the finite-difference check
// end to end (a sample of coordinates: the whole LeNet has thousands).
func TestCNNBodiesGradientsMatchFiniteDifferences(t *testing.T) {
	lenet, err := LeNet5[float64](nn.Image{C: 2, H: 13, W: 12}, 3)
	if err != nil {
		t.Fatal(err)
	}
	nntest.CheckGradients(t, lenet, 2, 1, nntest.GradCheck{MaxCoords: 60})
	resnet, err := ResNet[float64](ResNetConfig{Depth: 8, Width: 4, Groups: 2}, nn.Image{C: 1, H: 7, W: 6}, 3)
	if err != nil {
		t.Fatal(err)
	}
	nntest.CheckGradients(t, resnet, 2, 2, nntest.GradCheck{MaxCoords: 60})
}

func TestCNNModelsHavePyTorchsLayout(t *testing.T) {
	mnist := Shape{1, 28, 28}
	for _, c := range []struct {
		spec, want string
		params     int
		names      []string // a few, in order
	}{
		// torchvision-style LeNet-5 on MNIST: 156+2416+48120+10164+850.
		{"lenet5", "lenet5:1x28x28-10", 61706, []string{"conv1.weight", "conv1.bias", "conv2.weight", "fc1.weight", "fc3.bias"}},
		{"resnet:20", "resnet:20,16,2:1x28x28-10", 0, []string{"conv1.weight", "gn1.weight", "gn1.bias", "layer1.0.conv1.weight",
			"layer1.0.gn1.weight", "layer1.2.gn2.bias", "layer2.0.conv1.weight", "layer2.0.shortcut.0.weight",
			"layer2.0.shortcut.1.weight", "layer2.1.conv1.weight", "layer3.0.shortcut.1.bias", "fc.weight", "fc.bias"}},
		{"resnet:8,8,4", "resnet:8,8,4:1x28x28-10", 0, []string{"conv1.weight", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight", "fc.bias"}},
	} {
		m, err := ParseModel(c.spec, mnist, 10)
		if err != nil {
			t.Fatal(err)
		}
		if m.Spec() != c.want {
			t.Errorf("%s: Spec %q, want %q", c.spec, m.Spec(), c.want)
		}
		if c.params > 0 && m.NumParams() != c.params {
			t.Errorf("%s: %d parameters, want %d", c.spec, m.NumParams(), c.params)
		}
		var names []string
		for _, p := range m.(*Network).Params() {
			names = append(names, p.Name)
		}
		at := 0
		for _, want := range c.names {
			i := slices.Index(names[at:], want)
			if i < 0 {
				t.Fatalf("%s: no parameter %q after %q in %v", c.spec, want, names[max(at-1, 0)], names)
			}
			at += i + 1
		}
	}
	// ResNet-20 has 18 convolutions in its blocks, each followed by a norm,
	// and two projections: 19 convolutions + 2 shortcut convolutions.
	m, _ := ParseModel("resnet:20", mnist, 10)
	convs := 0
	for _, p := range m.(*Network).Params() {
		if len(p.Shape) == 4 {
			convs++
		}
	}
	if convs != 21 {
		t.Errorf("resnet:20 has %d convolution weights, want 21", convs)
	}
}

// PyTorch's default initialisation: conv and linear weights and biases
// uniform on ±1/√fanIn, GroupNorm weight 1 and bias 0.
func TestCNNModelsInitLikePyTorch(t *testing.T) {
	m, err := ParseModel("resnet:8,4,2", Shape{1, 10, 10}, 3)
	if err != nil {
		t.Fatal(err)
	}
	params := make([]float32, m.NumParams())
	m.Init(params, rand.New(rand.NewPCG(1, 1)))
	off := 0
	for _, p := range m.(*Network).Params() {
		v := params[off : off+p.Size()]
		off += p.Size()
		switch {
		case strings.Contains(p.Name, "gn") || strings.HasSuffix(p.Name, "shortcut.1.weight") || strings.HasSuffix(p.Name, "shortcut.1.bias"):
			want := float32(0)
			if strings.HasSuffix(p.Name, "weight") {
				want = 1
			}
			for _, x := range v {
				if x != want {
					t.Fatalf("%s holds %v, want all %v", p.Name, x, want)
				}
			}
		default:
			fan := 1
			for _, d := range p.Shape[1:] {
				fan *= d
			}
			if p.Name == "fc.bias" {
				fan = 16
			}
			bound := float32(1 / math.Sqrt(float64(fan)))
			spread := float32(0)
			for _, x := range v {
				if x < -bound || x > bound {
					t.Fatalf("%s holds %v, outside ±%v", p.Name, x, bound)
				}
				spread = max(spread, x)
			}
			if len(v) > 20 && spread < bound/2 {
				t.Errorf("%s: largest value %v, want near %v", p.Name, spread, bound)
			}
		}
	}
}

func TestCNNModelsRefuseDataTheyCannotRead(t *testing.T) {
	for _, c := range []struct {
		spec  string
		input Shape
		want  []string
	}{
		{"lenet5", Shape{1, 8, 8}, []string{"1×8×8", "at least 12×12"}},
		{"lenet5", Flat(784), []string{"C×H×W", "784"}},
		{"lenet5:5", Shape{1, 28, 28}, []string{"no settings"}},
		{"resnet:20", Flat(64), []string{"C×H×W", "64"}},
		{"resnet", Shape{1, 28, 28}, []string{"resnet:DEPTH"}},
		{"resnet:9", Shape{1, 28, 28}, []string{"depth 9", "6n+2"}},
		{"resnet:2", Shape{1, 28, 28}, []string{"depth 2"}},
		{"resnet:8,0", Shape{1, 28, 28}, []string{"width", `"0"`}},
		{"resnet:8,6,4", Shape{1, 28, 28}, []string{"width 6", "4 groups"}},
		{"resnet:8,16,2,1", Shape{1, 28, 28}, []string{"resnet:DEPTH"}},
	} {
		_, err := ParseModel(c.spec, c.input, 10)
		if err == nil {
			t.Errorf("%s on %s: accepted", c.spec, c.input)
			continue
		}
		for _, w := range append(c.want, c.spec) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s on %s: error %q does not say %q", c.spec, c.input, err, w)
			}
		}
	}
}

func TestCNNModelsAreListed(t *testing.T) {
	u := ModelUsages()
	for _, want := range []string{"lenet5", "resnet:DEPTH[,WIDTH[,GROUPS]]"} {
		if !slices.Contains(u, want) {
			t.Errorf("ModelUsages %v lacks %q", u, want)
		}
	}
}

// MNIST keeps its image shape through LoadDataset, and a recipe builds
// LeNet-5 on it.
func TestMNISTTrainsLeNet5(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MNIST not found at %s (the shared data folder beside the module): %v", dir, err)
	}
	r := DefaultRecipe()
	r.Dataset, r.DataDir, r.Model = "mnist", dir, "lenet5"
	p, err := r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{p.Train, p.Test} {
		if !slices.Equal(d.Shape, Shape{1, 28, 28}) {
			t.Errorf("MNIST samples have shape %s, want 1×28×28", d.Shape)
		}
	}
	if p.Model.Spec() != "lenet5:1x28x28-10" || len(p.Init) != 61706 {
		t.Errorf("built %s with %d parameters, want lenet5:1x28x28-10 with 61706", p.Model.Spec(), len(p.Init))
	}
	// One step on real digits gives a finite loss near ln 10 at x₀.
	m := p.Model.Clone()
	grad := make([]float32, len(p.Init))
	loss := m.LossGrad(p.Init, grad, p.Train.X[:16*784], p.Train.Y[:16])
	if math.IsNaN(loss) || math.Abs(loss-math.Log(10)) > 0.5 {
		t.Errorf("loss %v at x₀, want near ln 10", loss)
	}
}
